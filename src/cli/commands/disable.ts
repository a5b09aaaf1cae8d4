// virt-consolelog disable: give persistent definitions back their own chardev elements.
import { disableDomain } from '../../definitions/operations.js';
import type { Command } from '../command.js';
import { COMMON_OPTIONS, DEFINITION_OPTIONS, runDefinitions } from './definitions-common.js';

export const disableCommand: Command = {
  usage: `usage: virt-consolelog disable [--dry-run] [--connect URI] DOMAIN...|--all

Puts back the serial, console and parallel elements that 'enable' recorded, byte for byte,
removes virt-consolelog's metadata from the persistent definition, and defines it. Running
guests are not restarted: the change takes effect at the next start. The automatic mode
(auto_enable) leaves a disabled domain alone on this host until 'enable' is run again.
If the chardev devices were added or removed since 'enable', nothing is changed and the
error says so (restore them by hand with virsh edit). History already in the store is kept.

${COMMON_OPTIONS}

Exit codes: 0 ok (also when nothing changed), 1 failure, 2 bad command line,
3 no such domain, 4 some domains failed.`,
  options: DEFINITION_OPTIONS,
  run: (args, ctx) => runDefinitions(args, ctx, 'disable', disableDomain),
};
