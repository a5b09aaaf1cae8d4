// The domain-XML rewrite (docs/DESIGN.md "The XML rewrite"): pure, XML text + host facts + config -> XML text.
// Edits are spliced into the original text: everything outside the changed elements is byte-identical.
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { isInside, isSafeComponent, liveLogPath, normaliseUuid, parseLiveLogPath } from '../store/layout.js';
import {
  chardevNodes,
  domainIdentity,
  rewrittenChardev,
  type ChardevInfo,
  type ChardevNode,
} from './chardevs.js';
import {
  XmlRewriteError,
  appendChild,
  checkEdits,
  child,
  asDocument,
  escapeAttr,
  parseDomainDocument,
  removeElement,
  setAttr,
  splice,
  type DomainDocument,
  type DomainXml,
  type Edit,
  type EditGroup,
  type Element,
} from './doc.js';
import { metadataEdits, metadataElement, readMetadataOf, type ConsolelogMetadata } from './metadata.js';

export { XmlRewriteError };

export interface HostFacts {
  host: string;
  /** libvirt >= 1.3.3 and QEMU >= 2.6: `<log>` on a chardev works. */
  canLogChardev: boolean;
  libvirtVersion?: string;
  qemuVersion?: string;
  /** Why the host cannot log chardevs (when canLogChardev is false). */
  reason?: string;
}

export interface RewriteOptions {
  config: Config;
  facts: HostFacts;
  mode: 'migrate' | 'restore' | 'define';
}

export interface RewriteResult {
  xml: string;
  changed: boolean;
  /** The chardevs after the rewrite. */
  devices: ChardevInfo[];
  degraded?: string;
  /** The host recorded in the incoming metadata, when it differs from this one (a hop). */
  previousHost?: string;
  generation: number;
  warnings: string[];
}

/** What one chardev should look like after the rewrite. */
interface Plan {
  node: ChardevNode;
  /** New backend type, when it changes. */
  type?: string;
  removeSources: boolean;
  /** Log path to have (with append='on'); undefined = leave `<log>` as it is. */
  log?: string;
  stripLog: boolean;
}

/** An absolute, normalised path without `..` (paths from XML are not trusted). */
function cleanPath(p: string | undefined): string | undefined {
  if (!p || !p.startsWith('/') || p.includes('\0')) return undefined;
  if (p.split('/').some((c) => c === '..' || c === '.')) return undefined;
  return posix.normalize(p);
}

export function rewriteDomainXml(input: DomainXml, opts: RewriteOptions): RewriteResult {
  const { config, facts } = opts;
  if (!isSafeComponent(facts.host))
    throw new Error(`host name ${JSON.stringify(facts.host)} cannot name a store folder (set host_name)`);
  const doc = asDocument(input);
  const xml = doc.src;
  const nodes = chardevNodes(doc);
  const managed = nodes.filter((n) => n.info.element !== 'parallel' || config.rewriteParallel);
  const warnings: string[] = [];
  // Documents without a chardev we manage are left byte-identical (no metadata either).
  if (managed.length === 0) {
    return { xml, changed: false, devices: nodes.map((n) => n.info), generation: 0, warnings };
  }
  const { uuid } = domainIdentity(doc);
  const live = (device: string) => liveLogPath(config.liveDir, uuid, device);
  /** Paths the plugin owns: anything in the store, and live files (of any domain) in live_dir. */
  const ours = (p: string | undefined) =>
    p !== undefined && (isInside(config.logRoot, p) || parseLiveLogPath(config.liveDir, p) !== undefined);

  /** Where an existing path (old file source or truncating log) may keep logging. */
  const keepOrLive = (device: string, path: string | undefined, what: string): string => {
    const p = cleanPath(path);
    // Our paths become this device's live path (an older layout, another device's or domain's file).
    if (ours(p)) return p === live(device) ? (path as string) : live(device);
    if (p && config.keepForeignLogPath && config.allowedRoots.some((r) => isInside(r, p)))
      return path as string;
    if (path !== undefined) {
      const why = !p
        ? 'is not a clean absolute path'
        : config.keepForeignLogPath
          ? 'is outside allowed_roots'
          : 'is outside the store (keep_foreign_log_path = 0)';
      warnings.push(`${device}: ${what} ${JSON.stringify(path)} ${why}; logging to ${live(device)}`);
    }
    return live(device);
  };

  const plans: Plan[] = [];
  const byDevice = new Map<string, Plan>();
  for (const node of managed) {
    if (node.info.isSerialAlias) continue;
    const { info } = node;
    const plan: Plan = { node, removeSources: false, stripLog: false };
    if (!facts.canLogChardev) {
      // Old host: keep the interactive backend (and a file serial as it is), drop what it cannot do.
      plan.stripLog = node.log !== undefined;
    } else {
      if (info.type === 'file') {
        plan.type = config.fileSerialBecomes;
        plan.removeSources = node.sources.length > 0;
      }
      if (node.log) {
        // An append-mode log that is not ours is someone's deliberate choice: left exactly as is.
        if (!info.logAppend || ours(cleanPath(info.logFile)) || info.logFile === undefined)
          plan.log = keepOrLive(info.device, info.logFile, 'log file');
      } else if (info.type === 'file') {
        plan.log = keepOrLive(info.device, info.sourcePath, 'file source');
      } else {
        plan.log = live(info.device);
      }
    }
    plans.push(plan);
    byDevice.set(info.device, plan);
  }

  // Two devices on one log path would make virtlogd refuse the second (EBUSY) and the guest fail:
  // logs we leave alone keep their paths, a path we choose that is taken becomes the live path.
  const used = new Set<string>();
  for (const plan of plans)
    if (plan.log === undefined && !plan.stripLog && plan.node.info.logFile) used.add(plan.node.info.logFile);
  for (const plan of plans) {
    if (plan.log === undefined) continue;
    const device = plan.node.info.device;
    if (used.has(plan.log) && plan.log !== live(device)) {
      warnings.push(
        `${device}: log ${JSON.stringify(plan.log)} is used by another device; logging to ${live(device)}`,
      );
      plan.log = live(device);
    }
    used.add(plan.log);
  }

  // The x86 console alias mirrors serial0 (libvirt re-derives it from serial0 anyway).
  const serial0 = byDevice.get('serial0');
  for (const node of managed) {
    if (!node.info.isSerialAlias || !serial0) continue;
    const s = serial0.node.info;
    const plan: Plan = { node, removeSources: false, stripLog: false };
    const newType = serial0.type ?? s.type;
    if (newType !== node.info.type || node.info.type === 'file') {
      plan.type = newType;
      plan.removeSources = serial0.removeSources || (node.info.type === 'file' && newType !== 'file');
    }
    if (serial0.stripLog || (!facts.canLogChardev && node.log)) plan.stripLog = node.log !== undefined;
    else {
      const want = serial0.log ?? s.logFile;
      if (want !== undefined && (node.info.logFile !== want || !node.info.logAppend)) plan.log = want;
      if (want === undefined && node.log) plan.stripLog = true;
    }
    plans.push(plan);
  }

  const groups: EditGroup[] = plans.map((plan) => ({ owner: plan.node.el, edits: chardevEdits(doc, plan) }));

  // Metadata: the host the guest runs on now; a hop to another host is a new generation.
  const before = readMetadataOf(doc);
  const hop = before.host !== undefined && before.host !== facts.host;
  const generation = (before.generation ?? 0) + (hop ? 1 : 0);
  const meta: ConsolelogMetadata = { ...before, host: facts.host, generation };
  delete meta.degraded;
  const degraded = facts.canLogChardev ? undefined : (facts.reason ?? 'this host cannot log chardevs');
  if (degraded !== undefined) {
    meta.degraded = degraded;
    warnings.push(`host cannot log chardevs (${degraded}): <log> removed, consoles stay interactive`);
  }
  groups.push({ owner: metadataElement(doc) ?? doc.root, edits: metadataEdits(doc, meta) });

  const out = splice(
    xml,
    groups.flatMap((g) => g.edits),
  );
  // Check what we produce (the edited elements, parsed again): a bug here must never reach libvirt
  // as a broken document. The devices are read from the rewritten elements.
  let rewritten: Map<Element, Element>;
  try {
    rewritten = checkEdits(doc, groups, out);
  } catch (e) {
    throw new Error(`internal: rewrite produced unparsable XML (${(e as Error).message})`);
  }
  const devices: ChardevInfo[] = nodes.map((n) => {
    const el = rewritten.get(n.el);
    return el ? rewrittenChardev(doc, n, el) : n.info;
  });
  const result: RewriteResult = { xml: out, changed: out !== xml, devices, generation, warnings };
  if (degraded !== undefined) result.degraded = degraded;
  if (hop) result.previousHost = before.host;
  return result;
}

function chardevEdits(doc: DomainDocument, plan: Plan): Edit[] {
  const { src } = doc;
  const { node } = plan;
  const { el } = node;
  const edits: Edit[] = [];
  const quote = el.attrs[0]?.quote ?? "'";
  const hasType = el.attrs.some((a) => a.name === 'type');
  if (plan.type !== undefined && (plan.type !== node.info.type || !hasType)) {
    edits.push(setAttr(el, 'type', plan.type, 'first'));
  } else if (!hasType && plan.log !== undefined) {
    // <log> needs a typed chardev in libvirt's schema; libvirt's default type is pty.
    edits.push(setAttr(el, 'type', 'pty', 'first'));
  }
  const removals = new Map(plan.removeSources ? node.sources.map((s) => [s, removeElement(src, s)]) : []);
  for (const r of removals.values()) edits.push(r);
  if (plan.stripLog && node.log) {
    // Every <log>, not only the first: one pass must leave nothing for a second one (idempotence).
    for (const l of el.children.filter((c) => c.name === 'log')) edits.push(removeElement(src, l));
    return edits;
  }
  if (plan.log === undefined) return edits;
  if (node.log) {
    if (node.info.logFile !== plan.log) edits.push(setAttr(node.log, 'file', plan.log));
    if (!node.info.logAppend) edits.push(setAttr(node.log, 'append', 'on'));
    return edits;
  }
  const logXml = `<log file=${quote}${escapeAttr(plan.log, quote)}${quote} append=${quote}on${quote}/>`;
  // Where libvirt formats it: after <source>/<protocol> (in the place of a removed source), else first.
  const anchor = node.el.children.filter((c) => c.name === 'source' || c.name === 'protocol').pop();
  const removal = anchor && removals.get(anchor);
  edits.push(...appendChild(doc, el, logXml, removal ? removal.end : (anchor ?? 'first')));
  return edits;
}

/**
 * For XML generated before libvirt assigns a UUID: adds `<uuid>` (after `<name>`), so the domain
 * and its logs share it. Unchanged when the XML already has this UUID; refused when another.
 */
export function addDomainUuid(xml: string, uuid: string): string {
  const want = normaliseUuid(uuid);
  if (!want) throw new XmlRewriteError(`not a UUID: ${JSON.stringify(uuid)}`);
  const doc = parseDomainDocument(xml);
  const existing = child(doc.root, 'uuid');
  if (existing) {
    const have = normaliseUuid(existing.text);
    if (have === want) return xml;
    throw new XmlRewriteError(`the XML already has <uuid>${existing.text.trim()}</uuid>, not ${want}`);
  }
  return splice(xml, appendChild(doc, doc.root, `<uuid>${want}</uuid>`, child(doc.root, 'name') ?? 'first'));
}
