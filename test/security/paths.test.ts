// Path and name attacks on the compiled hook in the namespace sandbox: symlinks swapped into the
// store and over a file serial while hooks seal (TOCTOU), names with shell metacharacters and
// newlines, a file serial aimed at /etc/shadow; and the modes of what the hook creates.
import test from 'ava';
import { patient } from '../lab/patience.js';
import { existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../fuzz/generate.js';
import { recordFigures } from '../fuzz/record.js';
import { checkHistory } from '../lab/checker.js';
import { bootToken, fileSerialDomain, qemuStart, uuidFor } from '../reliability/common.js';
import { filesMoreOpenThan, INSIDE, Sandbox, SHADOW_CONTENT, snapshotTree } from './sandbox.js';
import { describe as describeAccess, parseTrace, violations, type Policy } from './trace.js';

const SENTINEL_TEXT = 'sentinel file: must never be read or changed';

/** Every file under dir whose content shows a sentinel or the fake shadow leaked in. */
function leaks(dir: string): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(path.join(p, e));
    else if (st.isFile()) {
      const text = readFileSync(p).toString('latin1');
      if (text.includes(SENTINEL_TEXT) || text.includes('vcl-sentinel-not-a-real-hash')) out.push(p);
    }
  };
  if (existsSync(dir)) visit(dir);
  return out;
}

test('symlinks swapped in while hooks seal: nothing outside the store is read or written', async (t) => {
  t.timeout(patient(300_000));
  const sb = await Sandbox.create({
    prefix: 'vcl-toctou-',
    config: 'host_name = "sandbox"\nauto_enable = 0\nlog_file_mode = 0600\n',
  });
  t.teardown(() => sb.destroy());
  const uuid = uuidFor(7);
  const serial = '/var/log/libvirt/qemu/victim.log';
  const xml = fileSerialDomain('victim', uuid, serial);
  const before = snapshotTree(sb.sentinelDir, [sb.host(INSIDE.shadow)]);
  const policy: Policy = {
    writable: [INSIDE.store, INSIDE.liveDir, INSIDE.state, INSIDE.snapshotCache, INSIDE.hookServer],
    readable: [INSIDE.configDir, INSIDE.varLogLibvirt, INSIDE.varLibLibvirt, path.join(repoRoot, 'dist')],
    forbidden: [INSIDE.shadow, sb.sentinelDir],
  };
  // First a clean boot, so the store folders exist to be attacked.
  qemuStart(sb, serial, bootToken(0), 2000);
  await sb.hook(['victim', 'prepare', 'begin', '-'], { stdin: xml });

  const store = sb.host(`${INSIDE.store}/${uuid}`);
  const targets = [
    { real: sb.host(serial), link: path.join(sb.sentinelDir, 'file.log') }, // read side: the file serial
    { real: path.join(store, 'archive'), link: path.join(sb.sentinelDir, 'sub') }, // write side: the archive
    // write side: the domain's live file in live_dir (a file serial has none: nothing may follow the link)
    {
      real: sb.host(`${INSIDE.liveDir}/${uuid}.serial0.console`),
      link: path.join(sb.sentinelDir, 'file.log'),
    },
  ];
  let swapping = true;
  let swaps = 0;
  // Swaps each target between the real thing and a symlink to the sentinel tree, as fast as it can.
  const swapper = (async () => {
    while (swapping) {
      for (const { real, link } of targets) {
        try {
          const aside = `${real}.aside`;
          if (!existsSync(real) && !existsSync(aside)) continue;
          if (existsSync(real)) renameSync(real, aside);
          symlinkSync(link, real);
          await new Promise((r) => setImmediate(r));
          rmSync(real, { force: true });
          renameSync(aside, real);
          swaps++;
        } catch {
          // The hook moved something at the same moment: fine, try again.
        }
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const failures: string[] = [];
  const events: [string, string, string][] = [
    ['release', 'end', '-'],
    ['release', 'end', 'destroyed'],
    ['prepare', 'begin', '-'],
  ];
  for (let i = 1; i <= 6; i++) {
    for (const ev of events) {
      const r = await sb.hook(['victim', ...ev], { stdin: xml, strace: true, timeoutMs: 60_000 });
      if (r.code !== 0 || r.timedOut) failures.push(`${ev.join(' ')}: exit ${r.code} timedOut=${r.timedOut}`);
      const bad = violations(parseTrace(r.trace), policy);
      if (bad.length) failures.push(`round ${i} ${ev.join(' ')}:\n${describeAccess(bad)}`);
    }
    try {
      qemuStart(sb, serial, bootToken(i), 500);
    } catch {
      // the swapper holds the path as a symlink this instant: QEMU would have written through it too
    }
  }
  swapping = false;
  await swapper;
  for (const { real } of targets) {
    if (!existsSync(`${real}.aside`)) continue;
    try {
      renameSync(`${real}.aside`, real);
    } catch (e) {
      // A hook re-created the folder while it was set aside: both stay in the store and are checked below.
      if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }

  const after = snapshotTree(sb.sentinelDir, [sb.host(INSIDE.shadow)]);
  for (const [p, v] of before) if (after.get(p) !== v) failures.push(`sentinel changed: ${p}`);
  for (const p of after.keys()) if (!before.has(p)) failures.push(`sentinel tree gained ${p}`);
  for (const p of leaks(sb.host(INSIDE.store))) failures.push(`sentinel content copied into the store: ${p}`);
  for (const f of filesMoreOpenThan(sb.host(INSIDE.store), 0o600, /\.(log|seg)(\.\d+|\.gz)?$/))
    failures.push(`more open than log_file_mode 0600: ${f}`);
  recordFigures('security-toctou', { swaps, hookRuns: 18, failures: failures.length });
  t.log(`${swaps} symlink swaps during 18 hook runs`);
  t.true(swaps > 0);
  t.deepEqual(failures, [], failures.slice(0, 10).join('\n\n'));
});

test('names with shell metacharacters and newlines, a file serial on /etc/shadow: metadata only, nothing read', async (t) => {
  t.timeout(patient(180_000));
  const sb = await Sandbox.create({
    prefix: 'vcl-names-',
    config: 'host_name = "sandbox"\nauto_enable = 0\nlog_file_mode = 0640\n',
  });
  t.teardown(() => sb.destroy());
  const failures: string[] = [];
  const names = [
    'a\nb',
    '$(touch /tmp/vcl-pwned)`touch /tmp/vcl-pwned`;|&\'"',
    '../../../../tmp/vcl-pwned',
    '-rf --',
    ' lead space',
  ];
  for (const [i, name] of names.entries()) {
    const uuid = uuidFor(200 + i);
    const serial = `/var/log/libvirt/qemu/n${i}.log`;
    const xml = fileSerialDomain(
      name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;'),
      uuid,
      serial,
    );
    qemuStart(sb, serial, bootToken(i), 300);
    for (const ev of [
      ['prepare', 'begin', '-'],
      ['release', 'end', 'destroyed'],
    ] as const) {
      const r = await sb.hook([name, ...ev], { stdin: xml });
      if (r.code !== 0) failures.push(`${JSON.stringify(name)} ${ev[0]}: exit ${r.code}`);
    }
    const shown = await sb.cli(['show', uuid]);
    const rep = checkHistory(shown.stdout.toString());
    if (rep.boots.length !== 1 || rep.boots[0]?.last !== 299)
      failures.push(`${JSON.stringify(name)}: history not kept: ${shown.stderr}`);
  }
  // The shadow attack: a file serial whose path is /etc/shadow (outside every allowed root).
  const shadowXml = fileSerialDomain('shadow', uuidFor(300), INSIDE.shadow);
  for (const ev of [
    ['prepare', 'begin', '-'],
    ['release', 'end', '-'],
    ['migrate', 'begin', '-'],
  ] as const) {
    const r = await sb.hook(['shadow', ...ev], { stdin: shadowXml });
    if (r.code !== 0) failures.push(`shadow ${ev[0]}: exit ${r.code}`);
  }
  if (readFileSync(sb.host(INSIDE.shadow), 'utf8') !== SHADOW_CONTENT)
    failures.push('fake /etc/shadow changed');
  if (existsSync('/tmp/vcl-pwned')) failures.push('a shell metacharacter in a name was run');
  for (const p of leaks(sb.host(INSIDE.store))) failures.push(`shadow content copied into the store: ${p}`);
  // Every path in the store is made of UUIDs, host names and our own file names: never a domain name.
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((e) =>
      lstatSync(path.join(d, e)).isDirectory() ? [e, ...walk(path.join(d, e))] : [e],
    );
  for (const e of walk(sb.host(INSIDE.store)))
    if (!/^[A-Za-z0-9._-]+$/.test(e)) failures.push(`store entry named from input: ${JSON.stringify(e)}`);
  for (const f of filesMoreOpenThan(sb.host(INSIDE.store), 0o640, /\.(log|seg)(\.\d+|\.gz)?$/))
    failures.push(`more open than 0640: ${f}`);
  recordFigures('security-names', { names: names.length, failures: failures.length });
  t.deepEqual(failures, [], failures.join('\n'));
});
