// Target 2: guest lifecycle through a real libvirtd (two lab hosts, test/lab/harness.ts): `virsh start`
// and `virsh migrate --live` wall time with the plugin as installed (the hook, and the capture service
// answering its events) and without either, interleaved (the mode flips every round in a shuffled
// order), medians of >= 10 runs each.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGuest, type Guest } from '../test/lab/guest.js';
import { startLab, type Lab, type LabHost } from '../test/lab/harness.js';
import { define, destroy, domState, prepareSerialDir, sleep, start } from '../test/lab/scenario.js';
import { startCollect, stopCollect, type CaptureService } from './lib/lab-collect.js';
import { benchNode } from './lib/node.js';
import type { Target } from './lib/result.js';
import { prng, ratio, shuffled, summarise, type Summary } from './lib/stats.js';

type Mode = 'plugin' | 'baseline';

interface Sample {
  mode: Mode;
  op: string;
  ms: number;
}

async function timedVirsh(host: LabHost, ...args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await execa('virsh', ['-q', '-c', host.uri, ...args], { reject: false });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.exitCode !== 0) throw new Error(`virsh ${args.join(' ')} on ${host.name}: ${r.stderr || r.stdout}`);
  return ms;
}

/** The capture service of each host while in plugin mode (the plugin as installed answers hooks there). */
const services = new Map<string, CaptureService>();
/** How each service ended (SIGTERM at every switch to the baseline), for the report. */
const serviceEnds: string[] = [];

async function setMode(hosts: LabHost[], mode: Mode): Promise<void> {
  for (const h of hosts) {
    if (mode === 'plugin' && !h.hookInstalled()) await h.installHook();
    if (mode === 'baseline' && h.hookInstalled()) await h.removeHook();
    const service = services.get(h.name);
    if (mode === 'plugin' && !service)
      services.set(h.name, await startCollect(h, benchNode('/usr/bin/node')));
    if (mode === 'baseline' && service) {
      services.delete(h.name);
      serviceEnds.push(await stopCollect(service));
    }
  }
}

async function ensureOff(host: LabHost, name: string): Promise<void> {
  if ((await domState(host, name)) === 'running') await destroy(host, name);
}

/** Per-event hook durations the plugin recorded itself (journal in state_dir), for the report. */
function journalTimes(host: LabHost): Record<string, Summary> {
  const by = new Map<string, number[]>();
  try {
    const text = readFileSync(join(host.paths.varLibVcl, 'journal.log'), 'utf8');
    for (const line of text.split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { op: string; subop: string; ms: number };
      const k = `${e.op} ${e.subop}`;
      by.set(k, [...(by.get(k) ?? []), e.ms]);
    }
  } catch {
    /* no journal: nothing recorded */
  }
  return Object.fromEntries([...by].map(([k, v]) => [k, summarise(v)]));
}

export interface LifecycleBench {
  rounds: number;
  guests: { name: string; serial: string }[];
  samples: Record<string, Record<Mode, Summary>>;
  ratios: Record<string, number>;
  hookMsFromJournal: Record<string, Record<string, Summary>>;
  targets: Target[];
  details: { title: string; head: string[]; rows: (string | number)[][] }[];
}

export async function benchLifecycle(_repo: string, opts: { quick: boolean }): Promise<LifecycleBench> {
  const rounds = opts.quick ? 3 : 10;
  // auto_enable = 0: the detached definition upgrade would change the guest between rounds.
  const lab: Lab = await startLab({
    hosts: ['bench-a', 'bench-b'],
    hook: false,
    config: 'auto_enable = 0\n',
  });
  try {
    const a = lab.host('bench-a');
    const b = lab.host('bench-b');
    // The OpenStack case (file serial the next start would truncate: prepare seals it) and an append-mode
    // log (prepare only appends a boot marker).
    const guests: Guest[] = [
      await createGuest(lab, { name: 'bench-file', serial: 'file', memoryMiB: 32 }),
      await createGuest(lab, { name: 'bench-ptylog', serial: 'pty-log', memoryMiB: 32 }),
    ];
    for (const g of guests) {
      await define(a, g);
      await prepareSerialDir(b, g);
    }
    const rand = prng(5);
    const samples: Sample[] = [];
    const modes: Mode[] = ['plugin', 'baseline'];
    // warm-up: QEMU capabilities cache, page cache, first hook run (host facts cache)
    await setMode([a, b], 'plugin');
    for (const g of guests) {
      await start(a, g.name);
      await sleep(300);
      await destroy(a, g.name);
    }
    for (let r = 0; r < rounds; r++) {
      for (const mode of shuffled(modes, rand)) {
        await setMode([a, b], mode);
        for (const g of guests) {
          await ensureOff(a, g.name);
          await sleep(500); // let the guest print something the next start would seal
          samples.push({ mode, op: `start ${g.serial}`, ms: await timedVirsh(a, 'start', g.name) });
          await sleep(700);
        }
        const g = guests[0] as Guest;
        for (const [from, to] of [
          [a, b],
          [b, a],
        ] as const) {
          const sock = join(lab.socketsDir, `${g.name}-${Date.now()}.sock`);
          const ms = await timedVirsh(
            from,
            'migrate',
            '--live',
            '--unsafe',
            g.name,
            to.uri,
            '--migrateuri',
            `unix://${sock}`,
          );
          samples.push({ mode, op: `migrate ${g.serial}`, ms });
          await sleep(500);
        }
        for (const g2 of guests) await ensureOff(a, g2.name);
      }
    }
    const ops = [...new Set(samples.map((s) => s.op))];
    const table: LifecycleBench['samples'] = {};
    const ratios: Record<string, number> = {};
    for (const op of ops) {
      const get = (m: Mode) => summarise(samples.filter((s) => s.op === op && s.mode === m).map((s) => s.ms));
      table[op] = { plugin: get('plugin'), baseline: get('baseline') };
      ratios[op] = ratio(table[op].plugin.median, table[op].baseline.median);
    }
    const hookMs = { 'bench-a': journalTimes(a), 'bench-b': journalTimes(b) };
    const target = (op: string, id: string, what: string): Target => ({
      id,
      what,
      limit: '<= 1.10',
      measured: `${table[op]?.plugin.median} ms / ${table[op]?.baseline.median} ms = ${ratios[op]}`,
      met: (ratios[op] ?? Infinity) <= 1.1,
    });
    return {
      rounds,
      guests: guests.map((g) => ({ name: g.name, serial: g.serial })),
      samples: table,
      ratios,
      hookMsFromJournal: hookMs,
      targets: [
        target(
          'start file',
          'lifecycle.start-file',
          '`virsh start`, file serial (prepare seals the last boot): plugin / none',
        ),
        target(
          'start pty-log',
          'lifecycle.start-ptylog',
          '`virsh start`, pty + append log (boot marker): plugin / none',
        ),
        target(
          'migrate file',
          'lifecycle.migrate',
          '`virsh migrate --live` (both directions), plugin / none',
        ),
      ],
      details: [
        {
          title: 'virsh wall time (ms), TCG guests with 32 MiB, two lab hosts on this machine',
          head: [
            'operation',
            'plugin median',
            'p10',
            'p90',
            'runs',
            'no plugin median',
            'p10',
            'p90',
            'runs',
            'ratio',
          ],
          rows: ops.map((op) => {
            const t = table[op] as Record<Mode, Summary>;
            return [
              op,
              t.plugin.median,
              t.plugin.p10,
              t.plugin.p90,
              t.plugin.n,
              t.baseline.median,
              t.baseline.p10,
              t.baseline.p90,
              t.baseline.n,
              ratios[op] ?? '',
            ];
          }),
        },
        {
          title:
            'The capture service (`collect`, nice -5) in each lab host while in plugin mode: started at each switch to the plugin, stopped with SIGTERM at each switch back',
          head: ['services started', 'ended'],
          rows: [[serviceEnds.length, [...new Set(serviceEnds)].join('; ')]],
        },
        {
          title:
            'Hook run time as the plugin journals it (ms from the start of runHook to the journal write: Node start-up and bundle loading not included)',
          head: ['host', 'event', 'median', 'p90', 'runs'],
          rows: Object.entries(hookMs).flatMap(([h, m]) =>
            Object.entries(m).map(([ev, s]) => [h, ev, s.median, s.p90, s.n]),
          ),
        },
      ],
    };
  } finally {
    for (const [name, service] of services) {
      services.delete(name);
      serviceEnds.push(await stopCollect(service));
    }
    await lab.stop();
  }
}
