// virt-consolelog doctor: checks this host's setup and says what to fix (exit 0: no problem).
import { evaluate, formatReport, problemCount } from '../../doctor/checks.js';
import { describeConfigError } from '../../config/load.js';
import { gatherFacts } from '../../doctor/gather.js';
import { reloadDaemons } from '../../doctor/reload.js';
import { EXIT, type Command } from '../command.js';
import { journaldDoctorCheck } from '../../journald/status.js';
import { expectPositionals, flagOpt } from '../options.js';
import { paint, useColour } from '../../terminal/colour.js';
import { captureCheck, readCaptureStatus } from '../../capture/status.js';
import { pidAlive } from '../../util/pid.js';

const USAGE = `usage: virt-consolelog doctor [--json] [--no-peers] [--reload]

Checks this host: libvirt and QEMU versions, virtlogd, the hook (installed, executable, its
Node.js, seen by the running libvirtd/virtqemud), the store and state folders (writable), every
file system they use (log_root's, state_dir's and each mount below log_root, such as an archive
mounted apart: read-only or full fails, nearly full warns), the transfer key, and each configured
peer (one request through the configured transport), and the capture service's forwarding to the
host journal (guests above journald_rate_lines, no journald). Every problem comes with the command
that fixes it.

libvirt looks for qemu hooks only when the daemon starts or reloads (SIGHUP). The hook counts as
seen when the daemon started after the hook file appeared (its ctime), when a reload sent by the
package (or by --reload) reached the same daemon process afterwards (recorded in
state_dir/reloaded-DAEMON), when the journal shows a hook run since the daemon started, or
when another qemu hook existed when the daemon started.

Options:
  --json      one JSON object: {"ok", "problems", "warnings", "checks": [{"name", "status", "message", "fix"}]}
  --no-peers  skip the peer probes (no network)
  --reload    first reload (SIGHUP, never restart) the running libvirtd/virtqemud so that it finds the hook

Exit codes: 0 no problem (warnings allowed), 1 problems found, 2 bad command line.`;

export const doctorCommand: Command = {
  usage: USAGE,
  options: { json: { type: 'boolean' }, 'no-peers': { type: 'boolean' }, reload: { type: 'boolean' } },
  async run(args, ctx) {
    expectPositionals(args, 0, 0, '');
    const json = flagOpt(args, 'json');
    const peers = !flagOpt(args, 'no-peers');
    const reload = flagOpt(args, 'reload');
    const loaded = ctx.config();
    const errors = loaded.errors.map(describeConfigError);
    let facts = await gatherFacts(loaded.config, loaded.path, errors, { peers });
    if (reload) {
      for (const r of await reloadDaemons(facts.daemons, loaded.config.stateDir)) {
        const what = `${r.daemon} (pid ${r.pid})`;
        ctx.io.stderr.write(
          r.error
            ? `virt-consolelog doctor: could not reload ${what}: ${r.error}\n`
            : `virt-consolelog doctor: reloaded ${what}\n`,
        );
      }
      facts = await gatherFacts(loaded.config, loaded.path, errors, { peers });
    }
    const checks = [...evaluate(facts), journaldDoctorCheck(loaded.config, loaded.path)];
    const capture = readCaptureStatus(loaded.config);
    checks.push(captureCheck(capture, !!capture && pidAlive(capture.pid), Date.now()));
    const problems = problemCount(checks);
    if (json) {
      const warnings = checks.filter((c) => c.status === 'warn').length;
      ctx.io.stdout.write(
        JSON.stringify({ ok: problems === 0, problems, warnings, host: facts.hostName, checks }, null, 2) +
          '\n',
      );
    } else {
      const colour = useColour(ctx.io.env, ctx.io.isTTY === true);
      ctx.io.stdout.write(colour ? colourReport(formatReport(checks)) : formatReport(checks));
    }
    return problems === 0 ? EXIT.ok : EXIT.failure;
  },
};

const STATUS_COLOUR = { OK: 'green', WARN: 'yellow', FAIL: 'red' } as const;

/** The report with its status words coloured (terminal only). */
export function colourReport(report: string): string {
  return report.replace(/^(OK|WARN|FAIL)\b/gm, (w) =>
    paint(true, STATUS_COLOUR[w as keyof typeof STATUS_COLOUR], w),
  );
}
