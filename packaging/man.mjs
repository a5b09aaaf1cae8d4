// Builds virt-consolelog(8) from its one source, packaging/virt-consolelog.8.md: the COMMANDS
// section comes from the built CLI's own help, so the man page lists exactly what the CLI has.
// usage: node packaging/man.mjs CLI.mjs OUT.8   (needs go-md2man)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [cli, out] = process.argv.slice(2);
if (!cli || !out) {
  console.error('usage: node packaging/man.mjs CLI.mjs OUT.8');
  process.exit(2);
}
const here = new URL('.', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../package.json', here), 'utf8'));
const run = (...args) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

// "Commands:" block of the main help: "  NAME  SUMMARY" lines up to the first blank line.
const help = run('--help').split('\n');
const start = help.indexOf('Commands:');
if (start < 0) throw new Error(`${cli} --help has no "Commands:" section`);
const commands = [];
for (const line of help.slice(start + 1)) {
  const m = /^ {2}(\S+)\s+(.*)$/.exec(line);
  if (!m) break;
  commands.push({ name: m[1], summary: m[2] });
}
const sections = commands.map(({ name, summary }) => {
  // A line starting with ' or . would be a roff request inside the code block: indent it.
  const usage = run('help', name)
    .trimEnd()
    .replace(/^(?=['.])/gm, ' ');
  const escaped = summary.charAt(0).toUpperCase() + summary.slice(1);
  return `### ${name}\n\n${escaped}.\n\n\`\`\`\n${usage}\n\`\`\`\n`;
});

// Reproducible: the date comes from SOURCE_DATE_EPOCH (dpkg-buildpackage and rpmbuild set it).
const epoch = Number(process.env.SOURCE_DATE_EPOCH);
const date = Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000).toISOString().slice(0, 10) : '';
const source = readFileSync(new URL('virt-consolelog.8.md', here), 'utf8')
  .replaceAll('@VERSION@', pkg.version)
  .replaceAll('@DATE@', date)
  .replace('<!-- commands -->', sections.join('\n'));

const dir = mkdtempSync(join(tmpdir(), 'vcl-man-'));
try {
  writeFileSync(join(dir, 'page.md'), source);
  execFileSync('go-md2man', ['-in', join(dir, 'page.md'), '-out', out], { stdio: 'inherit' });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
