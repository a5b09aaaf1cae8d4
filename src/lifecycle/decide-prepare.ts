// What `prepare begin` does to the store, decided from the XML and domain.json alone (pure).
import type { ChardevInfo } from '../xml/chardevs.js';
import type { ConsolelogMetadata } from '../xml/metadata.js';
import type { BootRef, DeviceState, DomainState } from '../store/domain-state.js';
import { hostState } from '../store/domain-state.js';

export interface PrepareInput {
  host: string;
  /** Chardevs of the XML; undefined when the XML could not be parsed. */
  chardevs: ChardevInfo[] | undefined;
  metadata: ConsolelogMetadata;
  state: DomainState;
  boot: BootRef;
  /** An arriving live migration or a restore: the running boot continues (no marker, no new boot). */
  continuing?: boolean;
}

export interface SealStep {
  device: string;
  path: string;
  /** The start about to happen truncates this path in place. */
  truncateNext: boolean;
  reason: 'restart' | 'source-changed' | 'unparsed-xml';
  boot?: BootRef;
  /**
   * A `type='file'` backend domain.json does not know (its records lost, or never seen): QEMU wrote
   * it from byte 0 at its last start and never rotates it, so byte 0 begins a boot of unknown id.
   */
  unknownBootAt0: boolean;
}

export interface PreparePlan {
  generation: number;
  /** Seal these before QEMU starts (the content is about to be truncated or forgotten). */
  seal: SealStep[];
  /** The append-mode logs of this start: created if missing, and given the boot marker when `writeMarkers`. */
  markers: { device: string; path: string }[];
  /** False when the running boot continues: a marker there would cut the guest's line in two. */
  writeMarkers: boolean;
  /** This host's devices after the start (domain.json). */
  devices: Record<string, DeviceState>;
  notes: string[];
}

/** The log a chardev is captured in: virtlogd's `<log>` if any, else a file backend's own file. */
export function capturedSource(c: ChardevInfo): Omit<DeviceState, 'boot'> | undefined {
  if (c.isSerialAlias) return undefined;
  if (c.logFile) return { path: c.logFile, kind: 'log', truncating: !c.logAppend };
  if (c.type === 'file' && c.sourcePath)
    return { path: c.sourcePath, kind: 'file', truncating: !c.sourceAppend };
  return undefined;
}

/** The append-mode sources among these chardevs: each gets the boot marker of a start. */
export function markerTargets(chardevs: readonly ChardevInfo[]): { device: string; path: string }[] {
  return chardevs.flatMap((c) => {
    const src = capturedSource(c);
    return src && !src.truncating ? [{ device: c.device, path: src.path }] : [];
  });
}

export function decidePrepare(input: PrepareInput): PreparePlan {
  const prev = hostState(input.state, input.host);
  const generation = Math.max(input.metadata.generation ?? 0, input.state.maxGeneration);
  const plan: PreparePlan = {
    generation,
    seal: [],
    markers: [],
    writeMarkers: !input.continuing,
    devices: {},
    notes: [],
  };
  // The running boot continues after a migration or restore: no new boot is recorded (the reader
  // would otherwise put a separator where this host's part of the output begins).
  const boot = input.continuing ? {} : { boot: input.boot };
  if (!input.chardevs) {
    // Unknown XML: whatever it does, the sources we knew may be truncated; seal them all.
    for (const [device, d] of Object.entries(prev.devices)) {
      plan.seal.push({
        device,
        path: d.path,
        truncateNext: true,
        reason: 'unparsed-xml',
        ...(d.boot ? { boot: d.boot } : {}),
        unknownBootAt0: false,
      });
      const { boot: _old, ...rest } = d;
      plan.devices[device] = { ...rest, truncating: true, ...boot };
    }
    plan.notes.push('XML not parsed: sealed the sources domain.json knew');
    return plan;
  }
  plan.markers = markerTargets(input.chardevs);
  for (const c of input.chardevs) {
    const src = capturedSource(c);
    if (!src) continue;
    const old = prev.devices[c.device];
    if (src.truncating)
      plan.seal.push({
        device: c.device,
        path: src.path,
        truncateNext: true,
        reason: 'restart',
        ...(old?.boot && old.path === src.path ? { boot: old.boot } : {}),
        // Known without a boot is a stay that continued a migrated or restored boot: no boundary;
        // nor on arrival, where the file may be the source host's (a shared instances folder).
        unknownBootAt0: src.kind === 'file' && !old && !input.continuing,
      });
    plan.devices[c.device] = { ...src, ...boot };
  }
  // Sources no longer used (path changed, device gone): seal what they hold before we forget them.
  for (const [device, d] of Object.entries(prev.devices)) {
    if (plan.devices[device]?.path === d.path) continue;
    plan.seal.push({
      device,
      path: d.path,
      truncateNext: false,
      reason: 'source-changed',
      ...(d.boot ? { boot: d.boot } : {}),
      unknownBootAt0: false,
    });
  }
  // Seal old sources first: history order within a device is old path, then the current one.
  plan.seal.sort((a, b) => Number(a.reason !== 'source-changed') - Number(b.reason !== 'source-changed'));
  return plan;
}
