// `doctor --reload`: the same reload the package's maintainer script sends (packaging/maint.sh),
// recorded the same way, for hosts where the daemon has not yet noticed the hook.
import * as fs from 'node:fs';
import { execa } from 'execa';
import type { DaemonFacts } from './checks.js';
import { reloadRecordPath } from './gather.js';

export interface ReloadResult {
  daemon: string;
  pid: number;
  error?: string;
}

/** SIGHUP (through systemctl where systemd runs) to each running daemon; never a restart. */
export async function reloadDaemons(
  daemons: readonly DaemonFacts[],
  stateDir: string,
  runDir = '/run',
): Promise<ReloadResult[]> {
  const systemd = fs.existsSync(`${runDir}/systemd/system`);
  const out: ReloadResult[] = [];
  for (const d of daemons) {
    try {
      if (systemd) {
        const r = await execa('systemctl', ['reload', `${d.name}.service`], {
          reject: false,
          stdin: 'ignore',
        });
        if (r.exitCode !== 0)
          throw new Error(`systemctl reload ${d.name}: ${String(r.stderr).trim() || `exit ${r.exitCode}`}`);
      } else {
        process.kill(d.pid, 'SIGHUP');
      }
      fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      // Same record as packaging/maint.sh: "PID START-TICKS", the file's mtime is the reload time.
      const record = reloadRecordPath(stateDir, d.name);
      const tmp = `${record}.${process.pid}`;
      // 'wx' + rename: never write through a file or symlink someone else left there.
      fs.rmSync(tmp, { force: true });
      fs.writeFileSync(tmp, `${d.pid} ${d.startTicks ?? 0}\n`, { flag: 'wx', mode: 0o644 });
      fs.renameSync(tmp, record);
      out.push({ daemon: d.name, pid: d.pid });
    } catch (e) {
      out.push({ daemon: d.name, pid: d.pid, error: (e as Error).message });
    }
  }
  return out;
}
