// Reads ava's output and prints the one closing line CI counts: "N passed, N failed[, N skipped]".
import { readFileSync } from 'node:fs';

const [file, rcText] = process.argv.slice(2);
const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
const count = (re) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
let passed = count(/^\s*(\d+) tests? passed/gm);
let failed = count(/^\s*(\d+) tests? failed/gm) + count(/^\s*(\d+) uncaught exceptions?/gm) + count(/^\s*(\d+) unhandled rejections?/gm);
const skipped = count(/^\s*(\d+) tests? skipped/gm) + count(/^\s*(\d+) tests? todo/gm);
const rc = Number(rcText);
// A failure before ava ran (build, lint, type check) counts as one failed suite.
if (rc !== 0 && failed === 0) failed = 1;
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(rc === 0 && failed === 0 ? 0 : 1);
