// Reads ava's output and prints the one closing line CI counts: "N passed, N failed[, N skipped]".
// ava prints one line per test (✔ passed, ✘ failed, "- [skip]" skipped); its own totals omit the
// passed count when anything failed, so the per-test lines are what is counted.
import { readFileSync } from 'node:fs';

const [file, rcText] = process.argv.slice(2);
const ansiColour = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const text = readFileSync(file, 'utf8').replace(ansiColour, '');
const lines = text.split('\n');
const passed = lines.filter((l) => /^\s*✔ /.test(l)).length;
let failed = lines.filter((l) => /^\s*✘ /.test(l)).length;
const skipped = lines.filter((l) => /^\s*- \[(skip|todo)\] /.test(l)).length;
const rc = Number(rcText);
// A failure before ava ran (setup, build, lint, type check) counts as one failed suite.
if (rc !== 0 && failed === 0) failed = 1;
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(rc === 0 && failed === 0 ? 0 : 1);
