// `npm run bench`: measures the targets of issue 7 and writes bench/results/latest.json and the results
// block of BENCHMARKS.md. Usage: npm run bench -- [--only hook,reader,storage,lifecycle,scale,capture] [--quick]
//   [--results FILE]
//   --only     run these sections and keep the others' last results in latest.json
//   --quick    fewer rounds (for trying the harness; the committed results come from a full run)
//   --results  write FILE (sections merged into it) instead of latest.json, and leave BENCHMARKS.md alone:
//              for runs that must not replace the committed results (e.g. with VCL_BENCH_NODE)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentLoad, describeMachine, type Load, type Machine } from './lib/machine.js';
import { renderResults, spliceResults } from './report.js';
import type { Target } from './lib/result.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const latestPath = join(repo, 'bench', 'results', 'latest.json');
const mdPath = join(repo, 'BENCHMARKS.md');

export const SECTIONS = ['hook', 'reader', 'storage', 'lifecycle', 'scale', 'capture'] as const;
export type SectionName = (typeof SECTIONS)[number];

export interface SectionResult {
  measuredAt: string;
  durationSeconds: number;
  commit: string;
  quick: boolean;
  loadBefore: Load;
  loadAfter: Load;
  targets: Target[];
  /** Set when the section could not run (a component missing, the lab failing): why. */
  error?: string;
  data?: unknown;
}

export interface Results {
  version: 1;
  updatedAt: string;
  machine: Machine;
  sections: Partial<Record<SectionName, SectionResult>>;
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: repo,
      encoding: 'utf8',
    }).trim();
    return head;
  } catch {
    return 'unknown';
  }
}

type SectionRunner = (repo: string, opts: { quick: boolean }) => Promise<{ targets: Target[] }>;

/** Sections in the order they run; each module is loaded only when its section runs. */
const RUNNERS: Record<SectionName, () => Promise<SectionRunner>> = {
  hook: async () => (await import('./hook.js')).benchHook,
  reader: async () => (await import('./reader.js')).benchReader,
  storage: async () => (await import('./storage.js')).benchStorage,
  lifecycle: async () => (await import('./lifecycle.js')).benchLifecycle,
  scale: async () => (await import('./scale.js')).benchScale,
  capture: async () => (await import('./capture.js')).benchCapture,
};

async function runSection(name: SectionName, quick: boolean): Promise<{ targets: Target[]; data: unknown }> {
  const run = await RUNNERS[name]();
  const data = await run(repo, { quick });
  return { targets: data.targets, data };
}

function parseArgs(argv: string[]): { only: SectionName[]; quick: boolean; results: string | undefined } {
  let only: SectionName[] = [...SECTIONS];
  let quick = false;
  let results: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--quick') quick = true;
    else if (a === '--results' || a.startsWith('--results=')) {
      results = a === '--results' ? argv[++i] : a.slice('--results='.length);
      if (!results) throw new Error('--results needs a file name');
    } else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      const names = (v ?? '').split(',').filter(Boolean);
      for (const n of names)
        if (!(SECTIONS as readonly string[]).includes(n))
          throw new Error(`unknown section "${n}" (sections: ${SECTIONS.join(', ')})`);
      only = names as SectionName[];
    } else
      throw new Error(
        `unknown argument ${a}; usage: bench/run.ts [--only ${SECTIONS.join(',')}] [--quick] [--results FILE]`,
      );
  }
  return { only, quick, results };
}

async function main(): Promise<number> {
  const { only, quick, results: resultsFile } = parseArgs(process.argv.slice(2));
  const resultsPath = resultsFile ? resolve(resultsFile) : latestPath;
  const previous: Results | undefined = existsSync(resultsPath)
    ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as Results)
    : undefined;
  const results: Results = {
    version: 1,
    updatedAt: new Date().toISOString(),
    machine: describeMachine(),
    sections: { ...(previous?.sections ?? {}) },
  };
  const commit = gitCommit();
  let failures = 0;
  for (const name of only) {
    process.stderr.write(`bench: ${name}...\n`);
    const loadBefore = currentLoad();
    const t0 = Date.now();
    let section: SectionResult;
    try {
      const { targets, data } = await runSection(name, quick);
      section = {
        measuredAt: new Date().toISOString(),
        durationSeconds: Math.round((Date.now() - t0) / 100) / 10,
        commit,
        quick,
        loadBefore,
        loadAfter: currentLoad(),
        targets,
        data,
      };
    } catch (e) {
      failures++;
      section = {
        measuredAt: new Date().toISOString(),
        durationSeconds: Math.round((Date.now() - t0) / 100) / 10,
        commit,
        quick,
        loadBefore,
        loadAfter: currentLoad(),
        targets: [],
        error: (e as Error).stack ?? String(e),
      };
    }
    results.sections[name] = section;
    for (const t of section.targets)
      process.stderr.write(
        `  ${t.met === true ? 'MET   ' : t.met === false ? 'MISSED' : 'n/a   '} ${t.what}: ${t.measured} (target ${t.limit})\n`,
      );
    if (section.error) process.stderr.write(`  ERROR: ${section.error.split('\n')[0]}\n`);
    process.stderr.write(`  (${section.durationSeconds} s)\n`);
    // Written after every section: a long run that breaks later keeps what it measured.
    mkdirSync(dirname(resultsPath), { recursive: true });
    writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
  }
  if (resultsFile) {
    process.stderr.write(`bench: wrote ${resultsPath} (BENCHMARKS.md left as it was)\n`);
    return failures ? 1 : 0;
  }
  const md = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : '';
  writeFileSync(mdPath, spliceResults(md, renderResults(results)));
  process.stderr.write(`bench: wrote ${resultsPath} and the results block of ${mdPath}\n`);
  return failures ? 1 : 0;
}

process.exitCode = await main();
