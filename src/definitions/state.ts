// Is a guest captured, and by which of its XMLs? For `status` and for the automatic mode. Pure.
import { captureOf, isNovaManaged, loggableDevices, type Capture } from './devices.js';
import { decodeOriginal } from './original.js';
import { asDocument, type DomainXml } from '../xml/doc.js';

export type XmlLevel =
  /** Every device logged in append mode, and `enable` recorded the guest's own elements. */
  | 'enabled'
  /** Every device logged in append mode, by the hook's rewrite or the guest's own configuration. */
  | 'logged'
  /** Some devices logged, some not. */
  | 'partial'
  | 'not-logged'
  /** No serial, console (or parallel, if configured) at all: nothing to capture. */
  | 'no-devices'
  /** No such XML (transient domain: no persistent definition; stopped domain: no live XML). */
  | 'absent';

export interface XmlCapture {
  level: XmlLevel;
  devices: { device: string; capture: Capture }[];
  /** Host whose `enable` wrote this XML, when level is 'enabled'. */
  enabledOn?: string;
  nova: boolean;
  /** Why a device is not captured, one short phrase each. */
  reasons: string[];
}

export interface CaptureState {
  persistent: XmlCapture;
  live: XmlCapture;
  /** One line for `status`. */
  summary: string;
}

export interface StateOptions {
  rewriteParallel?: boolean;
  /** Our metadata's `original` field (src/xml/metadata.ts); see DefinitionTools.readOriginal. */
  readOriginal(xml: DomainXml): string | null | undefined;
}

const WHY: Record<Capture, string> = {
  logged: '',
  'file-append': "file backend with append='on' (kept, but no virsh console)",
  truncating: 'truncated at every start',
  'not-logged': 'no <log>',
};

export function assessXml(input: DomainXml | undefined, opts: StateOptions): XmlCapture {
  if (input === undefined) return { level: 'absent', devices: [], nova: false, reasons: [] };
  const xml = asDocument(input);
  const devices = loggableDevices(xml, opts.rewriteParallel ?? false).map((d) => ({
    device: d.device,
    capture: captureOf(d),
  }));
  const nova = isNovaManaged(xml);
  const reasons = devices.filter((d) => d.capture !== 'logged').map((d) => `${d.device}: ${WHY[d.capture]}`);
  if (devices.length === 0) return { level: 'no-devices', devices, nova, reasons: ['no serial or console'] };
  const logged = devices.filter((d) => d.capture === 'logged').length;
  if (logged < devices.length) return { level: logged ? 'partial' : 'not-logged', devices, nova, reasons };
  let enabledOn: string | undefined;
  try {
    const original = opts.readOriginal(xml);
    if (original) enabledOn = decodeOriginal(original).host;
  } catch (e) {
    reasons.push(`our metadata: ${(e as Error).message}`);
  }
  return enabledOn !== undefined
    ? { level: 'enabled', devices, enabledOn, nova, reasons }
    : { level: 'logged', devices, nova, reasons };
}

/** Per domain: is its persistent definition, its live XML, or neither capturing the console, and why not. */
export function captureState(
  persistentXml: string | undefined,
  liveXml: string | undefined,
  opts: StateOptions,
): CaptureState {
  const persistent = assessXml(persistentXml, opts);
  const live = assessXml(liveXml, opts);
  const nova = persistent.nova || live.nova;
  const summary =
    summarise(persistent, live) +
    (nova ? '; Nova-managed: Nova regenerates the definition on hard reboot and power on' : '');
  return { persistent, live, summary };
}

function isCaptured(x: XmlCapture): boolean {
  return x.level === 'enabled' || x.level === 'logged';
}

function summarise(p: XmlCapture, l: XmlCapture): string {
  const why = (x: XmlCapture) => (x.reasons.length ? ` (${x.reasons.join('; ')})` : '');
  if (p.level === 'no-devices' || (p.level === 'absent' && l.level === 'no-devices'))
    return 'nothing to capture: no serial or console';
  if (p.level === 'absent') {
    if (l.level === 'absent') return 'unknown domain';
    return isCaptured(l)
      ? 'transient domain: live XML captured'
      : `transient domain: live XML not captured${why(l)}; history sealed at each start only`;
  }
  if (l.level === 'absent') {
    return isCaptured(p)
      ? 'persistent definition captured (shut off)'
      : `not captured${why(p)}: run virt-consolelog enable (or wait for the automatic mode)`;
  }
  if (isCaptured(p) && isCaptured(l)) return 'persistent definition and live XML captured';
  if (isCaptured(p))
    return `persistent definition captured, takes effect at next start; live XML not${why(l)}`;
  if (isCaptured(l))
    return `live XML captured; persistent definition not${why(p)}: the next boot is not logged until enable`;
  return `neither persistent definition nor live XML captured${why(p)}`;
}

export interface AutoDecision {
  schedule: boolean;
  reason: string;
}

/**
 * From the XML a hook got (the running guest's), should the automatic mode upgrade the persistent
 * definition? Only when it cannot be already done on this host: a definition `enable` wrote
 * carries its record (with the host) into every start's live XML.
 */
export function decideAutoEnable(hookXml: DomainXml, host: string, opts: StateOptions): AutoDecision {
  const x = assessXml(hookXml, opts);
  if (x.level === 'no-devices' || x.level === 'absent')
    return { schedule: false, reason: 'no serial or console' };
  if (x.level === 'enabled' && x.enabledOn === host)
    return { schedule: false, reason: 'persistent definition already enabled on this host' };
  if (x.level === 'enabled') return { schedule: true, reason: `definition was enabled on ${x.enabledOn}` };
  return {
    schedule: true,
    reason: x.reasons.length ? x.reasons.join('; ') : 'live XML logged but definition not enabled',
  };
}
