// Hostile and mutated XML into the pure rewrite: it either refuses with XmlRewriteError or returns
// a well-formed, idempotent document with the same devices, no DTD, log paths only in the store or
// kept where they were, and schema-valid whenever the input was. Seeded, bounded in cases.
import test from 'ava';
import { patient } from '../lab/patience.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULTS, type Config } from '../../src/config/schema.js';
import { MAX_DOMAIN_XML_BYTES } from '../../src/lifecycle/run.js';
import { isInside } from '../../src/store/layout.js';
import { listChardevs } from '../../src/xml/chardevs.js';
import { XmlRewriteError, rewriteDomainXml, type RewriteOptions } from '../../src/xml/rewrite.js';
import { corpusCases, fuzzSeed, hostileCases, mutationCases, type FuzzCase } from './generate.js';
import { recordFigures } from './record.js';
import { hasDangerousDeclarations, libvirtValid } from './xmlcheck.js';

const MUTATIONS = Number(process.env.FUZZ_REWRITE_MUTATIONS ?? 300);
const SCHEMA = '/usr/share/libvirt/schemas/domain.rng';
/** A single rewrite slower than this is reported as a hang (generous: the CI machine is shared). */
const HANG_MS = 10_000;

const config: Config = { ...structuredClone(DEFAULTS), hostName: 'fuzzhost' } as Config;
const optionsFor = (mode: RewriteOptions['mode'], canLog = true): RewriteOptions => ({
  config,
  facts: canLog
    ? { host: 'fuzzhost', canLogChardev: true }
    : { host: 'fuzzhost', canLogChardev: false, reason: 'old' },
  mode,
});

const DEVICE_RE = /<(serial|console|parallel|channel)[\s>/]/g;
const countDevices = (xml: string) =>
  (xml.replace(/<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>/g, '').match(DEVICE_RE) ?? []).length;
const logPaths = (xml: string) =>
  [...xml.matchAll(/<log\s[^>]*\bfile=(['"])([^'"]*)\1/g)].map((m) => decode(m[2] ?? ''));
const sourcePaths = (xml: string) =>
  [...xml.matchAll(/<source\s[^>]*\bpath=(['"])([^'"]*)\1/g)].map((m) => decode(m[2] ?? ''));
const decode = (s: string) =>
  s.replace(
    /&(lt|gt|amp|apos|quot|#x?[0-9a-fA-F]+);/g,
    (_, e: string) =>
      (({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' }) as Record<string, string>)[e] ??
      String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );

/** xmllint over many files at once; returns the files it rejected (with its messages). */
function xmllintBatch(files: string[], args: string[]): Map<string, string> {
  const bad = new Map<string, string>();
  for (let i = 0; i < files.length; i += 200) {
    const chunk = files.slice(i, i + 200);
    const r = spawnSync('xmllint', ['--noout', '--nonet', ...args, ...chunk], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    for (const f of chunk) {
      if (
        r.stderr.includes(`${f} fails to validate`) ||
        r.stderr.split('\n').some((l) => l.startsWith(`${f}:`) && !l.includes('validates'))
      )
        bad.set(
          f,
          r.stderr
            .split('\n')
            .filter((l) => l.startsWith(f))
            .slice(0, 3)
            .join('\n'),
        );
    }
  }
  return bad;
}

test('rewrite: hostile and mutated XML is refused cleanly or rewritten into valid, idempotent XML', (t) => {
  t.timeout(patient(240_000));
  const seed = fuzzSeed();
  // Larger inputs never reach the rewrite: the hook passes them over unparsed (run.ts).
  const cases: FuzzCase[] = [...corpusCases(), ...hostileCases(), ...mutationCases(seed, MUTATIONS)].filter(
    (c) => Buffer.byteLength(c.xml) <= MAX_DOMAIN_XML_BYTES,
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'vcl-fuzz-rewrite-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const failures: string[] = [];
  let refused = 0;
  let rewritten = 0;
  let unchanged = 0;
  let slowest = 0;
  // Files written for the batched checks: output i and its input.
  const outFiles: { file: string; input: string; label: string }[] = [];

  cases.forEach((c, i) => {
    const xml = typeof c.xml === 'string' ? c.xml : c.xml.toString('utf8');
    for (const [mode, canLog] of [
      ['migrate', true],
      ['restore', false],
    ] as const) {
      const label = `${c.name} [${mode}${canLog ? '' : ', host cannot log'}]`;
      const t0 = performance.now();
      let out: string;
      let devices: unknown;
      try {
        const r = rewriteDomainXml(xml, optionsFor(mode, canLog));
        out = r.xml;
        devices = r.devices;
        if (r.changed !== (out !== xml)) failures.push(`${label}: changed flag wrong`);
      } catch (e) {
        const ms = performance.now() - t0;
        slowest = Math.max(slowest, ms);
        if (ms > HANG_MS) failures.push(`${label}: took ${Math.round(ms)} ms to refuse`);
        if (e instanceof XmlRewriteError) refused++;
        else failures.push(`${label}: crashed: ${(e as Error).stack?.slice(0, 400)}`);
        continue;
      }
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      if (ms > HANG_MS) failures.push(`${label}: took ${Math.round(ms)} ms`);
      if (out === xml) {
        unchanged++;
        continue;
      }
      rewritten++;
      if (hasDangerousDeclarations(out)) failures.push(`${label}: output has a DTD or entity declaration`);
      if (countDevices(out) !== countDevices(xml))
        failures.push(`${label}: device count ${countDevices(xml)} -> ${countDevices(out)}`);
      // A path may be kept from the input (a file source or log inside allowed_roots: Nova's console.log).
      const before = new Set([...logPaths(xml), ...sourcePaths(xml)]);
      for (const p of logPaths(out)) {
        if (before.has(p)) continue;
        if (
          p.split('/').includes('..') ||
          !(isInside(config.logRoot, p) || config.allowedRoots.some((r) => isInside(r, p)))
        )
          failures.push(`${label}: new log path outside the store: ${JSON.stringify(p)}`);
      }
      try {
        const again = rewriteDomainXml(out, optionsFor(mode, canLog));
        if (again.xml !== out) failures.push(`${label}: not idempotent`);
        // The rewrite re-checks only what it edited: parsing the whole output must give the same devices.
        if (JSON.stringify(devices) !== JSON.stringify(listChardevs(out)))
          failures.push(`${label}: reported devices differ from the output's`);
      } catch (e) {
        failures.push(`${label}: own output refused: ${(e as Error).message}`);
      }
      const file = path.join(dir, `out-${i}-${mode}.xml`);
      writeFileSync(file, out);
      writeFileSync(file + '.in', xml);
      outFiles.push({ file, input: file + '.in', label });
    }
  });

  const phase = (what: string) =>
    process.env.FUZZ_DEBUG && console.error(what, Math.round(performance.now()));
  phase('rewrites done');
  // Well-formedness of every output, by libxml2 (what libvirt parses with).
  const malformed = xmllintBatch(
    outFiles.map((o) => o.file),
    [],
  );
  for (const o of outFiles)
    if (malformed.has(o.file)) failures.push(`${o.label}: malformed output:\n${malformed.get(o.file)}`);
  phase('xmllint done');
  // Schema: inputs libvirt's schema accepts must stay accepted.
  const wellFormed = outFiles.filter((o) => !malformed.has(o.file));
  const invalidIn = xmllintBatch(
    wellFormed.map((o) => o.input),
    ['--relaxng', SCHEMA],
  );
  const validIn = wellFormed.filter((o) => !invalidIn.has(o.input));
  const invalidOut = xmllintBatch(
    validIn.map((o) => o.file),
    ['--relaxng', SCHEMA],
  );
  for (const o of validIn)
    if (invalidOut.has(o.file))
      failures.push(`${o.label}: schema-valid input, invalid output:\n${invalidOut.get(o.file)}`);
  phase('relaxng done');
  // The batch above uses libvirt's schema through xmllint; confirm on a sample with virt-xml-validate itself.
  const sample = validIn
    .filter((_, i) => i % Math.max(1, Math.floor(validIn.length / 20)) === 0)
    .slice(0, 20);
  for (const o of sample) {
    const v = libvirtValid(readFileSync(o.file));
    if (!v.ok && !invalidOut.has(o.file))
      failures.push(`${o.label}: virt-xml-validate disagrees with xmllint: ${v.error}`);
  }

  recordFigures('fuzz-rewrite', {
    seed,
    cases: cases.length,
    rewrites: cases.length * 2,
    refused,
    rewritten,
    unchanged,
    schemaChecked: validIn.length,
    slowestMs: Math.round(slowest),
    failures: failures.length,
  });
  t.log(
    `seed ${seed}: ${cases.length} cases x 2 modes: ${refused} refused, ${rewritten} rewritten (${validIn.length} schema-checked), ${unchanged} unchanged; slowest ${Math.round(slowest)} ms`,
  );
  t.deepEqual(failures, [], failures.slice(0, 12).join('\n\n'));
});
