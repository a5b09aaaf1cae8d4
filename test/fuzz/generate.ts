// Seeded hostile-input generator for the XML rewrite and the hook: libvirt's own test XML (read at
// test time from ../shared), hand-written attacks (entities, DOCTYPE, nesting, size, names that
// collide with parser internals) and seeded mutations of both. Same seed, same cases.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const corpusDir = path.join(path.resolve(repoRoot, '../shared'), 'corpus/libvirt-tests');

export interface FuzzCase {
  /** Stable name: what the case is and how it was made (seed + index for mutations). */
  name: string;
  xml: string | Buffer;
  /** True when the input is known to be well-formed XML that libvirt itself could have written. */
  libvirtValid?: boolean;
}

/** mulberry32: small, fast, good enough for picking mutations; the seed makes failures replayable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function readCorpus(): { name: string; xml: string }[] {
  const out: { name: string; xml: string }[] = [];
  for (const dir of [corpusDir, path.join(corpusDir, 'no-chardev')]) {
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.xml')) continue;
      out.push({
        name: path.relative(corpusDir, path.join(dir, f)),
        xml: readFileSync(path.join(dir, f), 'utf8'),
      });
    }
  }
  if (out.length < 100) throw new Error(`libvirt corpus at ${corpusDir} has only ${out.length} files`);
  return out;
}

/** Paths the hostile cases aim at; a sandbox places sentinels there and checks nobody touched them. */
export interface Targets {
  /** A file standing in for /etc/shadow (the sandbox mounts a fake one there). */
  shadow: string;
  /** A directory outside the store and outside every allowed root. */
  sentinelDir: string;
}

export const DEFAULT_TARGETS: Targets = { shadow: '/etc/shadow', sentinelDir: '/srv/vcl-sentinel' };

const UUID = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';

/** A minimal domain libvirt accepts; `devices` is spliced into <devices>. */
export function domain(
  devices: string,
  opts: { name?: string; before?: string; metadata?: string } = {},
): string {
  return [
    opts.before ?? '',
    `<domain type='qemu'>`,
    `  <name>${opts.name ?? 'fuzz'}</name>`,
    `  <uuid>${UUID}</uuid>`,
    opts.metadata ? `  <metadata>${opts.metadata}</metadata>` : '',
    `  <memory unit='KiB'>32768</memory>`,
    `  <vcpu>1</vcpu>`,
    `  <os><type arch='x86_64' machine='pc'>hvm</type></os>`,
    `  <devices>`,
    `    <emulator>/usr/bin/qemu-system-x86_64</emulator>`,
    devices,
    `  </devices>`,
    `</domain>`,
    '',
  ].join('\n');
}

const fileSerial = (p: string) =>
  `<serial type='file'><source path='${p}'/><target port='0'/></serial><console type='file'><source path='${p}'/><target type='serial' port='0'/></console>`;

/** Hand-written attacks: each one names what it tries. */
export function hostileCases(t: Targets = DEFAULT_TARGETS): FuzzCase[] {
  const cases: FuzzCase[] = [];
  const add = (name: string, xml: string | Buffer, libvirtValid = false) =>
    cases.push({ name, xml, libvirtValid });

  // Entities: expansion bombs and external references.
  const lol = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) lol.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  add(
    'billion-laughs-in-name',
    domain('', { before: `<!DOCTYPE domain [${lol.join('')}]>`, name: '&lol9;' }),
  );
  add(
    'billion-laughs-in-path',
    domain(fileSerial('/var/log/libvirt/&lol9;.log'), { before: `<!DOCTYPE domain [${lol.join('')}]>` }),
  );
  add(
    'quadratic-blowup',
    domain(`<serial type='pty'><target port='0'/></serial>`, {
      before: `<!DOCTYPE domain [<!ENTITY a "${'A'.repeat(100000)}">]>`,
      metadata: `<x:y xmlns:x='urn:x'>${'&a;'.repeat(20000)}</x:y>`,
    }),
  );
  add(
    'xxe-file-in-path',
    domain(fileSerial('&xxe;'), { before: `<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file://${t.shadow}">]>` }),
  );
  add(
    'xxe-file-in-text',
    domain('', { before: `<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file://${t.shadow}">]>`, name: '&xxe;' }),
  );
  add(
    'xxe-parameter-entity',
    domain('', {
      before: `<!DOCTYPE domain [<!ENTITY % p SYSTEM "file://${t.sentinelDir}/evil.dtd"> %p;]>`,
    }),
  );
  add('external-dtd', domain('', { before: `<!DOCTYPE domain SYSTEM "file://${t.sentinelDir}/evil.dtd">` }));
  add('external-dtd-network', domain('', { before: `<!DOCTYPE domain SYSTEM "http://127.0.0.1:9/x.dtd">` }));
  add(
    'doctype-internal-harmless',
    domain(`<serial type='pty'><target port='0'/></serial>`, { before: '<!DOCTYPE domain>' }),
  );
  add(
    'entity-in-attribute-type',
    domain(`<serial type='&t;'><target port='0'/></serial>`, {
      before: `<!DOCTYPE domain [<!ENTITY t "file">]>`,
    }),
  );
  add('undefined-entity', domain(`<serial type='pty'><source path='&nope;'/><target port='0'/></serial>`));
  add('char-refs', domain(fileSerial('/var/log/libvirt/&#x2e;&#x2e;/&#46;&#46;/etc/shadow')));
  add('char-ref-nul', domain(fileSerial('/var/log/libvirt/a&#0;b.log')));
  add('char-ref-out-of-range', domain(fileSerial('/var/log/libvirt/a&#x110000;.log')));

  // Structure: nesting, size, count.
  add(
    'deep-nesting-metadata-100k',
    domain('', {
      metadata:
        '<x:a xmlns:x="urn:x">'.padEnd(0) + '<x:a>'.repeat(100000) + '</x:a>'.repeat(100000) + '</x:a>',
    }),
  );
  add('deep-nesting-devices-20k', domain('<serial type="pty">'.repeat(20000) + '</serial>'.repeat(20000)));
  add('deep-nesting-unclosed', domain('<a>'.repeat(200000)));
  add('huge-attribute-8MiB', domain(fileSerial('/var/log/libvirt/' + 'a'.repeat(8 << 20))));
  add(
    'huge-text-16MiB',
    domain('', { metadata: `<x:blob xmlns:x='urn:x'>${'b'.repeat(16 << 20)}</x:blob>` }),
  );
  add(
    'many-attributes',
    domain(
      `<serial type='pty' ${Array.from({ length: 2000 }, (_, i) => `a${i}='1'`).join(' ')}><target port='0'/></serial>`,
    ),
  );
  add(
    'thousand-serials',
    domain(
      Array.from({ length: 1000 }, (_, i) => `<serial type='pty'><target port='${i}'/></serial>`).join(''),
    ),
  );
  add(
    'many-logs-in-one-serial',
    domain(
      `<serial type='pty'>${"<log file='/var/log/libvirt/x.log'/>".repeat(100)}<target port='0'/></serial>`,
    ),
  );

  // Malformed.
  add('empty', '');
  add('whitespace', ' \n\t ');
  add('not-xml', 'this is not xml at all; rm -rf / ; $(reboot)');
  add('truncated', domain(fileSerial('/var/log/libvirt/a.log')).slice(0, 300));
  add('two-roots', domain('') + domain(''));
  add('mismatched-tags', domain(`<serial type='pty'><target port='0'/></console>`));
  add(
    'duplicate-attribute',
    domain(`<serial type='pty' type='file'><source path='${t.shadow}'/><target port='0'/></serial>`),
  );
  add('unquoted-attribute', domain(`<serial type=file><source path=${t.shadow}/></serial>`));
  add('lt-in-attribute', domain(`<serial type='pty'><source path='/a<b'/></serial>`));
  add(
    'nul-bytes',
    Buffer.concat([
      Buffer.from(domain('').slice(0, 40)),
      Buffer.from([0, 0, 0]),
      Buffer.from(domain('').slice(40)),
    ]),
  );
  add(
    'invalid-utf8',
    Buffer.concat([
      Buffer.from(domain('').slice(0, 40)),
      Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
      Buffer.from(domain('').slice(40)),
    ]),
  );
  add(
    'utf16-bom',
    Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(domain(`<serial type='pty'><target port='0'/></serial>`), 'utf16le'),
    ]),
  );
  add('utf8-bom', '\ufeff' + domain(`<serial type='pty'><target port='0'/></serial>`));
  add(
    'latin1-declared',
    Buffer.concat([
      Buffer.from(`<?xml version='1.0' encoding='ISO-8859-1'?>\n`),
      Buffer.from(domain('', { name: 'caf\xe9' }), 'latin1'),
    ]),
  );
  add('cdata-unterminated', domain('', { metadata: '<![CDATA[ never ends' }));
  add('comment-unterminated', domain('<!-- never ends'));
  add('pi-in-devices', domain(`<?evil rm -rf /?><serial type='pty'><target port='0'/></serial>`));
  add('xml-decl-late', domain(`<?xml version='1.0'?><serial type='pty'><target port='0'/></serial>`));

  // Names that collide with JS object internals or parser conventions.
  for (const n of [
    '__proto__',
    'constructor',
    'prototype',
    'hasOwnProperty',
    'toString',
    '#text',
    '@_type',
    ':@',
    '$',
  ]) {
    const safe = n.replace(/[^A-Za-z_]/g, '') || 'x';
    add(
      `js-name-element-${safe}`,
      domain(`<${/^[A-Za-z_]/.test(n) ? n : 'x' + safe}/><serial type='pty'><target port='0'/></serial>`),
    );
    add(
      `js-name-metadata-${safe}`,
      domain(`<serial type='pty'><target port='0'/></serial>`, {
        metadata: `<p:${/^[A-Za-z_]/.test(n) ? n : 'x'} xmlns:p='urn:p' a='${n}'/>`,
      }),
    );
  }
  add(
    'proto-attribute',
    domain(`<serial type='pty' __proto__='x' constructor='y'><target port='0'/></serial>`),
  );
  add(
    'serial-named-attrs',
    domain(
      `<serial type='pty'><source path='/dev/pts/1' __proto__='{"polluted":1}'/><target port='0'/></serial>`,
    ),
  );

  // Namespace tricks: things that look like serials but are not libvirt's.
  add(
    'foreign-ns-serial',
    domain(`<x:serial xmlns:x='urn:x' type='file'><x:source path='${t.shadow}'/></x:serial>`),
  );
  add(
    'default-ns-domain',
    domain('').replace("<domain type='qemu'>", "<domain type='qemu' xmlns='urn:evil'>"),
  );
  add(
    'serial-in-metadata',
    domain('', { metadata: `<serial type='file'><source path='${t.shadow}'/></serial>` }),
  );
  add(
    'devices-twice',
    domain(`<serial type='pty'><target port='0'/></serial>`).replace(
      '</devices>',
      `</devices><devices>${fileSerial(t.shadow)}`,
    ),
  );

  // Path attacks in chardevs (odd but well-formed): the store must never read, move or create these.
  for (const [n, p] of [
    ['shadow', t.shadow],
    ['dotdot', '/var/log/libvirt/../../..' + t.shadow],
    ['dotdot-relative', '../../../..' + t.shadow],
    ['relative', 'etc/shadow'],
    ['sentinel-dir', t.sentinelDir],
    ['sentinel-file', `${t.sentinelDir}/file.log`],
    ['sentinel-symlink-in-allowed-root', '/var/log/libvirt/vcl-link-to-sentinel/x.log'],
    ['proc-self', '/proc/self/environ'],
    ['dev-zero', '/dev/zero'],
    ['newline', '/var/log/libvirt/a\nb.log'],
    ['shell-meta', '/var/log/libvirt/$(touch /tmp/vcl-pwned);`id`|x&y.log'],
    ['trailing-slash', '/var/log/libvirt/qemu/'],
    ['double-slash', '//etc//shadow'],
    ['nul-escaped', '/var/log/libvirt/a&#0;/../../../etc/shadow'],
  ] as const) {
    const pathAttr = p.replace(/'/g, '&apos;');
    add(`path-file-serial-${n}`, domain(fileSerial(pathAttr)));
    add(
      `path-log-${n}`,
      domain(`<serial type='pty'><log file='${pathAttr}' append='off'/><target port='0'/></serial>`),
    );
    add(
      `path-pty-source-${n}`,
      domain(`<serial type='pty'><source path='${pathAttr}'/><target port='0'/></serial>`),
    );
  }

  // Names: the domain name is metadata; it must never become a path.
  for (const [n, name] of [
    ['dotdot', '../../../etc'],
    ['slash', 'a/b'],
    ['newline', 'a\nb'],
    ['shell', '$(touch /tmp/vcl-pwned);`id`'],
    ['long', 'n'.repeat(5000)],
    ['empty', ''],
  ] as const) {
    add(
      `name-${n}`,
      domain(fileSerial('/var/log/libvirt/qemu/name.log'), {
        name: name.replace(/&/g, '&amp;').replace(/</g, '&lt;'),
      }),
    );
  }
  add('uuid-dotdot', domain('').replace(`<uuid>${UUID}</uuid>`, '<uuid>../../../../etc</uuid>'));
  add('uuid-missing', domain('').replace(`<uuid>${UUID}</uuid>`, ''));
  add(
    'uuid-twice',
    domain('').replace(
      `<uuid>${UUID}</uuid>`,
      `<uuid>${UUID}</uuid><uuid>00000000-0000-0000-0000-000000000000</uuid>`,
    ),
  );
  add('uuid-upper-nodash', domain('').replace(UUID, UUID.toUpperCase().replace(/-/g, '')));

  // Odd but valid: libvirt accepts these; the rewrite must keep them working.
  add('valid-crlf', domain(`<serial type='pty'><target port='0'/></serial>`).replace(/\n/g, '\r\n'), true);
  add(
    'valid-double-quotes',
    domain(`<serial type="file"><source path="/var/log/libvirt/qemu/q.log"/><target port="0"/></serial>`),
    true,
  );
  add(
    'valid-comments-everywhere',
    domain(`<!-- a --><serial type='pty'><!-- b --><target port='0'/><!-- c --></serial><!-- d -->`),
    true,
  );
  add(
    'valid-entities-in-path',
    domain(
      `<serial type='file'><source path='/var/log/libvirt/qemu/a&amp;b&apos;c.log'/><target port='0'/></serial>`,
    ),
    true,
  );
  add('valid-no-devices-content', domain(''), true);
  add(
    'valid-pty-with-log-off',
    domain(
      `<serial type='pty'><log file='/var/log/libvirt/qemu/x.log' append='off'/><target port='0'/></serial>`,
    ),
    true,
  );
  add('valid-whitespace-attrs', domain(`<serial   type = 'pty' ><target  port = '0' /></serial>`), true);
  add(
    'valid-xml-decl',
    `<?xml version="1.0" encoding="UTF-8"?>\n` + domain(`<serial type='pty'><target port='0'/></serial>`),
    true,
  );
  add(
    'valid-unicode-name',
    domain(`<serial type='pty'><target port='0'/></serial>`, { name: 'gäst-🙂' }),
    true,
  );
  add(
    'valid-cdata-metadata',
    domain(`<serial type='pty'><target port='0'/></serial>`, {
      metadata: `<x:y xmlns:x='urn:x'><![CDATA[<serial type='file'/> & ]]></x:y>`,
    }),
    true,
  );
  return cases;
}

const SPECIAL = [
  '<',
  '>',
  '&',
  "'",
  '"',
  '/',
  '=',
  '!',
  '?',
  '[',
  ']',
  '-',
  ';',
  '#',
  ':',
  '\n',
  '\0',
  '\u00ff',
  '..',
  '&amp;',
  '<![CDATA[',
  ']]>',
  '<!--',
  '-->',
  '&#x0;',
  '&lol;',
];
const HOSTILE_VALUES = [
  '/etc/shadow',
  '../../etc/shadow',
  '/var/log/libvirt/../../etc/shadow',
  '',
  "'",
  '/dev/zero',
  'x'.repeat(4096),
  '$(id)',
  'a\nb',
  '/proc/self/mem',
  'file',
  'pty',
  'tcp',
  'unix',
  'on',
  'off',
  '-1',
  '99999999999',
];

/** One seeded mutation of `xml`: byte-level (insert, delete, duplicate, splice) or structural. */
export function mutate(xml: string, r: () => number, other: string): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const pos = () => Math.floor(r() * (xml.length + 1));
  switch (Math.floor(r() * 9)) {
    case 0: {
      const p = pos();
      return xml.slice(0, p) + pick(SPECIAL) + xml.slice(p);
    }
    case 1: {
      const p = pos();
      return xml.slice(0, p) + xml.slice(p + 1 + Math.floor(r() * 64));
    }
    case 2: {
      const a = pos();
      const b = Math.min(xml.length, a + Math.floor(r() * 512));
      return xml.slice(0, b) + xml.slice(a, b) + xml.slice(b);
    }
    case 3: {
      const a = Math.floor(r() * other.length);
      const p = pos();
      return xml.slice(0, p) + other.slice(a, a + Math.floor(r() * 400)) + xml.slice(p);
    }
    case 4: {
      // Replace an attribute value with a hostile one.
      const attrs = [...xml.matchAll(/(\w+)=(['"])([^'"]*)\2/g)];
      if (!attrs.length) return xml + pick(SPECIAL);
      const m = pick(attrs);
      const v = pick(HOSTILE_VALUES).replace(/[<&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
      return xml.slice(0, m.index) + `${m[1]}=${m[2]}${v}${m[2]}` + xml.slice((m.index ?? 0) + m[0].length);
    }
    case 5: {
      // Duplicate a whole chardev element (adds a device: the rewrite must still not crash).
      const m = pick([...xml.matchAll(/<(serial|console|parallel|channel)\b[\s\S]*?<\/\1>/g)]);
      if (!m) return xml;
      const end = (m.index ?? 0) + m[0].length;
      return xml.slice(0, end) + m[0] + xml.slice(end);
    }
    case 6: {
      // Nest a chardev inside itself.
      const m = pick([...xml.matchAll(/<(serial|console)\b[^>]*>/g)]);
      if (!m) return xml;
      const end = (m.index ?? 0) + m[0].length;
      return xml.slice(0, end) + `<serial type='file'><source path='/etc/shadow'/></serial>` + xml.slice(end);
    }
    case 7: {
      // Change a chardev type.
      return xml.replace(
        /(<(?:serial|console|parallel)\s[^>]*type=)(['"])\w+\2/,
        `$1$2${pick(['file', 'pty', 'tcp', 'null', 'vc', 'dev', 'bogus', ''])}$2`,
      );
    }
    default: {
      // Prepend a DOCTYPE with an internal entity and use it somewhere.
      const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
      const p = body.indexOf("'", Math.floor(r() * body.length));
      const used = p > 0 ? body.slice(0, p + 1) + '&e;' + body.slice(p + 1) : body;
      return `<!DOCTYPE domain [<!ENTITY e "${pick(HOSTILE_VALUES).replace(/[<&"%]/g, '')}">]>\n` + used;
    }
  }
}

/** Corpus files as they are, then `count` seeded mutations (1 to 4 each) of corpus and hostile cases. */
export function* mutationCases(
  seed: number,
  count: number,
  targets: Targets = DEFAULT_TARGETS,
): Generator<FuzzCase> {
  const corpus = readCorpus();
  const small = hostileCases(targets).filter((c) => typeof c.xml === 'string' && c.xml.length < 100_000);
  const bases = [
    ...corpus.map((c) => ({ name: c.name, xml: c.xml })),
    ...small.map((c) => ({ name: c.name, xml: c.xml as string })),
  ];
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const base = bases[Math.floor(r() * bases.length)] as { name: string; xml: string };
    const other = (bases[Math.floor(r() * bases.length)] as { xml: string }).xml;
    let xml = base.xml;
    const n = 1 + Math.floor(r() * 4);
    for (let k = 0; k < n; k++) xml = mutate(xml, r, other);
    yield { name: `mutation seed=${seed} #${i} of ${base.name}`, xml };
  }
}

export function corpusCases(): FuzzCase[] {
  return readCorpus().map((c) => ({ name: `corpus ${c.name}`, xml: c.xml, libvirtValid: true }));
}

/** The seed: fixed in CI for replayable failures, FUZZ_SEED=random (or a number) to explore. */
export function fuzzSeed(): number {
  const s = process.env.FUZZ_SEED;
  if (s === 'random') return Math.floor(Math.random() * 2 ** 31);
  if (s && /^\d+$/.test(s)) return Number(s);
  return 20261122;
}
