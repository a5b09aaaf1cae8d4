// The shape of src/: no import circle between modules, and no module over ~400 lines without a
// one-line reason (`// Long: ...`) in its header comment. Reads the sources as text.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve('src');
const MAX_LINES = 400;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of one module (static `import`/`export ... from` and dynamic `import()`). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.{1,2}\/[^']+)'/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const target = path.resolve(path.dirname(file), (m[1] as string).replace(/\.js$/, '.ts'));
    if (fs.existsSync(target)) out.push(target);
  }
  return out;
}

/** Every cycle's modules, found by depth-first search (one cycle per back edge). */
export function importCycles(files: readonly string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') cycles.push(stack.slice(stack.indexOf(g)));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles.map((c) => c.map((f) => path.relative(SRC, f)));
}

test('no import circle in src/', (t) => {
  t.deepEqual(importCycles(sources(SRC)), []);
});

test('the circle check finds a circle', (t) => {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'vcl-cycle-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.ts'), "import { b } from './b.js';\nexport const a = b;\n");
    fs.writeFileSync(path.join(dir, 'b.ts'), "export { a as b } from './a.js';\n");
    fs.writeFileSync(path.join(dir, 'c.ts'), "import { a } from './a.js';\nexport const c = a;\n");
    t.is(importCycles(sources(dir)).length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no module in src/ over ~400 lines without a reason at its top', (t) => {
  const long = sources(SRC).filter((f) => {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    const header = lines.slice(
      0,
      Math.max(
        0,
        lines.findIndex((l) => !l.startsWith('//')),
      ),
    );
    return lines.length > MAX_LINES && !header.some((l) => /^\/\/ Long: /.test(l));
  });
  t.deepEqual(
    long.map((f) => path.relative(SRC, f)),
    [],
  );
});
