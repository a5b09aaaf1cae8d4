// A store for `show` tests, built by the real hook on temp folders (test/cli/show.test.ts, snapshot.test.ts).
import * as fs from 'node:fs';
import { liveLogPath } from '../../src/store/layout.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

export const UUID2 = '5b1c0e2a-2f4e-4c4a-9d2b-7d7a3c1e9f00';

/** Two boots of guest1 (numbered lines), one of guest2; guest1's second boot still running. */
export async function store(linesPerBoot = 30) {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  const text = (boot: number) =>
    Array.from({ length: linesPerBoot }, (_, i) => `boot${boot} line ${i}\n`).join('');
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, text(1));
  await hook(env, ['guest1', 'release', 'end', 'shutdown'], xml);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, text(2));
  const live2 = liveLogPath(config.liveDir, UUID2, 'serial0');
  const xml2 = domainXml(
    `<serial type='pty'><log file='${live2}' append='on'/><target port='0'/></serial>`,
    'guest2',
  ).replace(UUID, UUID2);
  await hook(env, ['guest2', 'prepare', 'begin', '-'], xml2);
  fs.appendFileSync(live2, 'guest2 says hi\n');
  return { config, env, live, live2 };
}
