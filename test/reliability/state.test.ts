// Corrupt state files in the store (the compiled hook and CLI in the namespace sandbox): the
// history stays readable, complete and without duplicates.
import test from 'ava';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { recordFigures } from '../fuzz/record.js';
import path from 'node:path';
import { checkHistory, summarise } from '../lab/checker.js';
import { INSIDE, Sandbox } from '../security/sandbox.js';
import { bootToken, fileSerialDomain, qemuStart, uuidFor } from './common.js';

async function sealedBoots(corrupt: (domainDir: string) => void) {
  const sb = await Sandbox.create({
    prefix: 'vcl-state-',
    config: 'host_name = "sandbox"\nauto_enable = 0\n',
  });
  try {
    const uuid = uuidFor(400);
    const serial = '/var/log/libvirt/qemu/st.log';
    const xml = fileSerialDomain('st', uuid, serial);
    for (let i = 0; i < 3; i++) {
      qemuStart(sb, serial, bootToken(i), 1000);
      if (i === 2) corrupt(sb.host(`${INSIDE.store}/${uuid}`));
      await sb.hook(['st', 'prepare', 'begin', '-'], { stdin: xml });
    }
    await sb.hook(['st', 'release', 'end', 'destroyed'], { stdin: xml });
    const shown = await sb.cli(['show', uuid]);
    return { shown, report: checkHistory(shown.stdout.toString()) };
  } finally {
    sb.destroy();
  }
}

test('corrupt domain.json and sealed.json: every boot once, complete', async (t) => {
  const { shown, report } = await sealedBoots((d) => {
    writeFileSync(path.join(d, 'domain.json'), '{"names": [');
    writeFileSync(path.join(d, 'sealed.json'), '\0\0\0');
  });
  t.is(shown.code, 0, shown.stderr);
  t.log(summarise(report));
  t.deepEqual(
    report.boots.map((b) => b.boot),
    [0, 1, 2].map(bootToken),
  );
  t.is(report.totals.duplicates, 0);
  t.is(report.totals.missing, 0);
});

// listArchive() used to skip a segment whose sidecar does not parse: `show` (and a peer's fetch)
// silently lost that sealed boot although its content was intact on disk.
test('corrupt sidecar: its sealed segment stays visible to show', async (t) => {
  const { shown, report } = await sealedBoots((d) => {
    const sidecar = readdirSync(path.join(d, 'archive'))
      .filter((f) => f.endsWith('.json'))
      .sort()[0] as string;
    writeFileSync(path.join(d, 'archive', sidecar), '\0\0garbage');
  });
  t.is(shown.code, 0, shown.stderr);
  t.deepEqual(
    report.boots.map((b) => b.boot),
    [0, 1, 2].map(bootToken),
  );
});

// The lab's fault matrix once printed a boot's first line glued to the previous boot's cut-short
// last line: the newest sidecar was corrupt, so the segment's implicit boot boundary (a truncating
// source has no marker) was lost, and retention then rewrote the archive index without it too.
test('corrupt newest sidecar: show still separates every boot (the archive index keeps its boots)', async (t) => {
  const { shown, report } = await sealedBoots((d) => {
    const sidecar = readdirSync(path.join(d, 'archive'))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .at(-1) as string;
    writeFileSync(path.join(d, 'archive', sidecar), '{"truncated": ');
  });
  t.is(shown.code, 0, shown.stderr);
  t.deepEqual(
    report.boots.map((b) => b.boot),
    [0, 1, 2].map(bootToken),
  );
  // Boot 0 began before the first prepare: "-- Boot - on sandbox (output from before ...) --".
  const separators = shown.stdout.toString().match(/^-- Boot .* --$/gm) ?? [];
  t.is(separators.length, 3, separators.join('\n'));
});

// The lab once lost a sealed boot when the newest segment's sidecar, domain.json and sealed.json
// were all corrupt at once (RELIABILITY.md, finding 5): sealed.json rebuilt without the unreadable
// sidecar gave the next seal that segment's key, and the seal's rename replaced its content. Here all
// three are corrupted together, in several ways, all before one hook of a restart or spread over its
// hooks in every order; the guest restarts once more. `show` must give every boot, none lost.
type Way = (text: string, file: 'sidecar' | 'domain' | 'sealed') => string | undefined;
const WAYS: Record<string, Way> = {
  // undefined = the file is deleted (not the sidecar: its content would be hidden, not lost).
  'deleted (sidecar: garbage)': (_text, file) => (file === 'sidecar' ? '\0\0garbage' : undefined),
  garbage: () => '\0\0garbage',
  'zero-filled': (text) => '\0'.repeat(text.length),
  truncated: (text) => text.slice(0, Math.floor(text.length / 2)),
  empty: () => '',
  null: () => 'null',
  // Parses, passes the top-level checks, wrong inside.
  'wrong shape': (text, file) =>
    file === 'domain'
      ? JSON.stringify({ version: 1, names: [null], maxGeneration: 'x', hosts: { sandbox: null } })
      : file === 'sealed'
        ? JSON.stringify({ version: 1, nextSeq: 1, files: [null, { dev: 'x' }] })
        : JSON.stringify({ ...(JSON.parse(text) as object), seq: 'x', boots: null, origin: null }),
};
const HOOKS = ['stopped', 'release', 'prepare'] as const;
type Hook = (typeof HOOKS)[number];
const permutations = <T>(xs: readonly T[]): T[][] =>
  xs.length <= 1
    ? [[...xs]]
    : xs.flatMap((x, i) => permutations(xs.filter((_, j) => j !== i)).map((p) => [x, ...p]));

interface Case {
  name: string;
  way: Way;
  /** Before which hook of the restart each file is corrupted. */
  when: Record<'sidecar' | 'domain' | 'sealed', Hook>;
}
const CASES: Case[] = [
  ...HOOKS.flatMap((h) =>
    Object.entries(WAYS).map(([w, way]) => ({
      name: `${w}, all three before ${h}`,
      way,
      when: { sidecar: h, domain: h, sealed: h },
    })),
  ),
  ...permutations(['sidecar', 'domain', 'sealed'] as const).map((order) => ({
    name: `garbage, ${order.join(' then ')} (before stopped, release, prepare)`,
    way: WAYS.garbage as Way,
    when: Object.fromEntries(order.map((f, i) => [f, HOOKS[i] as Hook])) as Case['when'],
  })),
];

test('newest sidecar, domain.json and sealed.json corrupt together: no boot lost, none copied twice (not even with every record of its seal gone)', async (t) => {
  const sb = await Sandbox.create({
    prefix: 'vcl-state3-',
    config: 'host_name = "sandbox"\nauto_enable = 0\n',
  });
  const failures: string[] = [];
  let unrecorded = 0;
  try {
    for (const [n, c] of CASES.entries()) {
      const uuid = uuidFor(500 + n);
      const serial = `/var/log/libvirt/qemu/st${n}.log`;
      const xml = fileSerialDomain(`st${n}`, uuid, serial);
      const dir = sb.host(`${INSIDE.store}/${uuid}`);
      const run = (args: [string, string, string]) => sb.hook([`st${n}`, ...args], { stdin: xml });
      const corrupt = (before: Hook) => {
        const sidecar = readdirSync(path.join(dir, 'archive'))
          .filter((f) => f.endsWith('.json'))
          .sort()
          .at(-1) as string;
        const files = {
          sidecar: path.join('archive', sidecar),
          domain: 'domain.json',
          sealed: 'sealed.json',
        };
        for (const [f, p] of Object.entries(files) as ['sidecar' | 'domain' | 'sealed', string][]) {
          if (c.when[f] !== before) continue;
          const full = path.join(dir, p);
          const text = c.way(readFileSync(full, 'latin1'), f);
          if (text === undefined) rmSync(full);
          else writeFileSync(full, text, 'latin1');
        }
      };
      const boots = [0, 1, 2, 3].map((i) => bootToken(n * 4 + i));
      for (const [i, boot] of boots.entries()) {
        if (i > 0) {
          for (const h of HOOKS.slice(0, 2)) {
            if (i === 3) corrupt(h);
            await run(h === 'stopped' ? ['stopped', 'end', '-'] : ['release', 'end', 'destroyed']);
          }
          if (i === 3) corrupt('prepare');
        }
        await run(['prepare', 'begin', '-']);
        qemuStart(sb, serial, boot, 500);
      }
      await run(['stopped', 'end', '-']);
      await run(['release', 'end', 'destroyed']);
      const shown = await sb.cli(['show', uuid]);
      const report = checkHistory(shown.stdout.toString());
      const got = report.boots.map((b) => b.boot);
      // Every record of the release's seal (its sidecar, sealed.json) destroyed before the next seal
      // of the same bytes: only the segment's content says they are sealed (RELIABILITY fix 16;
      // before it, the boot was sealed a second time). No case may copy a line twice.
      if (c.when.sidecar === 'prepare' && c.when.sealed === 'prepare') unrecorded++;
      // Every boot keeps its separator: a truncating file's boundary is recorded in no line.
      const separators = shown.stdout.toString().match(/^-- Boot .* --$/gm)?.length ?? 0;
      if (
        shown.code !== 0 ||
        JSON.stringify(got) !== JSON.stringify(boots) ||
        separators !== boots.length ||
        report.totals.missing + report.totals.reorderings + report.totals.duplicates > 0
      )
        failures.push(
          `${c.name}: exit ${shown.code}, ${separators} separators ${shown.stderr.slice(0, 200)}\n${summarise(report)}`,
        );
    }
  } finally {
    sb.destroy();
  }
  t.log(
    `${CASES.length} cases, ${unrecorded} of them with every record of the newest seal destroyed before the next seal`,
  );
  recordFigures('state-corruption', {
    cases: CASES.length,
    failures: failures.length,
    everyRecordOfTheNewestSealLost: unrecorded,
  });
  t.deepEqual(failures, []);
});
