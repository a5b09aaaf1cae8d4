// Target 1: hook cost per event, the compiled hook as installed vs a no-op #!/bin/sh hook, both spawned as
// libvirt spawns hooks. The measuring runs in a private mount namespace (bench/hook-ns.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseResult } from './hook-ns.js';
import { benchNode, nodeVersion } from './lib/node.js';
import { mountNamespace } from './lib/sandbox.js';
import { ratio } from './lib/stats.js';
import type { Target } from './lib/result.js';

export interface HookBench {
  /** The Node that ran the hook and the baselines (VCL_BENCH_NODE, else /usr/bin/node) and its version. */
  node: string;
  nodeVersion: string;
  shellRounds: number;
  nodeRounds: number;
  cases: { shell: CaseResult[]; node: CaseResult[] };
  /**
   * VIRT_CONSOLELOG_SNAPSHOT as set (auto unless VCL_BENCH_SNAPSHOT) and what the launcher started from;
   * absent in result files written before it was recorded.
   */
  snapshot?: { mode: string; started: string };
  targets: Target[];
}

export async function benchHook(repo: string, opts: { quick: boolean }): Promise<HookBench> {
  const root = mkdtempSync(join(tmpdir(), 'vcl-bench-hook-'));
  const shellRounds = opts.quick ? 60 : 400;
  const nodeRounds = opts.quick ? 8 : 40;
  try {
    const out = execFileSync(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        process.execPath,
        '--import',
        'tsx',
        join(repo, 'bench', 'hook-ns.ts'),
        JSON.stringify({
          root,
          repo,
          parentNamespace: mountNamespace(),
          shellRounds,
          nodeRounds,
          sealBytes: 2 * 1024 * 1024,
          bigXmlBytes: 50 * 1024,
          cpuRounds: opts.quick ? 3 : 15,
        }),
      ],
      { cwd: repo, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const { snapshot, ...cases } = JSON.parse(out) as HookBench['cases'] &
      Required<Pick<HookBench, 'snapshot'>>;
    const node = benchNode('/usr/bin/node');
    const version = nodeVersion(node);
    return {
      node: node.path,
      nodeVersion: version,
      shellRounds,
      nodeRounds,
      cases,
      snapshot,
      targets: hookTargets(cases, `${version}, snapshot ${snapshot.mode}: ${snapshot.started}`),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** `runsOn`: the Node's version and the launcher's snapshot mode, printed with each ratio. */
function hookTargets(cases: HookBench['cases'], runsOn: string): Target[] {
  const get = (list: CaseResult[], name: string) => list.find((c) => c.name === name);
  const noop = get(cases.shell, 'noop-sh-hook');
  const targets: Target[] = [];
  for (const name of ['reconnect-begin', 'start-begin', 'started-begin', 'stopped-end']) {
    const c = get(cases.shell, name);
    if (!c || !noop) continue;
    const r = ratio(c.ms.median, noop.ms.median);
    targets.push({
      id: `hook.ignored.${name}`,
      what: `ignored event \`${c.argv.slice(1, 3).join(' ')}\`: median vs no-op sh hook`,
      limit: '<= 2.0x',
      measured: `${c.ms.median} ms vs ${noop.ms.median} ms = ${r}x`,
      met: r <= 2 && c.nonZeroExits === 0,
    });
  }
  for (const name of ['prepare-begin-seal-2MiB', 'migrate-begin-50KiB']) {
    const c = get(cases.node, name);
    if (!c) continue;
    const works = !/^(NOT|INVALID|NO )/.test(c.verified);
    targets.push({
      id: `hook.${name}`,
      what: `\`${c.argv.slice(1, 3).join(' ')}\` (${name.endsWith('2MiB') ? '2 MiB log to seal' : '50 KiB domain XML'}): median`,
      limit: '< 100 ms',
      measured: `${c.ms.median} ms (${c.verified})`,
      met: c.ms.median < 100 && works && c.nonZeroExits === 0,
    });
  }
  // Issue 20: every event that starts Node within 1.5x of Node's own start-up, measured in the same rounds.
  const node0 = get(cases.node, 'node-e-0');
  for (const c of cases.node) {
    if (c.group !== 'handled' || !node0) continue;
    const r = ratio(c.ms.median, node0.ms.median);
    const works = !/^(NOT|INVALID|NO )/.test(c.verified);
    targets.push({
      id: `hook.vs-node.${c.name}`,
      what: `\`${c.argv.slice(1, 3).join(' ')}\` (${c.name}, ${c.stdinBytes} bytes of XML): median vs \`node -e 0\` (Node ${runsOn})`,
      limit: '<= 1.5x',
      measured: `${c.ms.median} ms vs ${node0.ms.median} ms = ${r}x (CPU ${c.cpuMs.median} vs ${node0.cpuMs.median} ms)`,
      met: r <= 1.5 && works && c.nonZeroExits === 0,
    });
  }
  // What the launcher's snapshot choice does to the same events, against a plain start in the same rounds.
  for (const off of cases.node.filter((c) => c.group === 'snapshot-off')) {
    const on = get(cases.node, off.name.replace(/-snapshot-off$/, ''));
    if (!on) continue;
    targets.push({
      id: `hook.snapshot-vs-plain.${on.name}`,
      what: `\`${on.argv.slice(1, 3).join(' ')}\` (${on.name}) as the launcher starts it (Node ${runsOn}) vs a plain start (\`VIRT_CONSOLELOG_SNAPSHOT=0\`), median wall time`,
      limit: 'reported',
      measured: `${on.ms.median} ms vs ${off.ms.median} ms = ${ratio(on.ms.median, off.ms.median)}x (CPU ${on.cpuMs.median} vs ${off.cpuMs.median} ms)`,
      met: true,
    });
  }
  return targets;
}
