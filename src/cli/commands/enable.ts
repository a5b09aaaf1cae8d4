// virt-consolelog enable: upgrade persistent definitions so the next boot is logged.
import { enableDomain } from '../../definitions/operations.js';
import type { Command } from '../command.js';
import { COMMON_OPTIONS, DEFINITION_OPTIONS, runDefinitions } from './definitions-common.js';

export const enableCommand: Command = {
  usage: `usage: virt-consolelog enable [--dry-run] [--connect URI] DOMAIN...|--all

Reads each domain's persistent definition (virsh dumpxml --inactive), applies the same
rewrite the hook applies on migration (every serial and console gets an append-mode <log>
in the store; type='file' becomes pty so virsh console works; append='off' becomes 'on';
a Nova instance folder path is kept), validates it (virt-xml-validate) and defines it.
The guest's own chardev elements are recorded in virt-consolelog's metadata so that
'disable' can put them back byte for byte. Running guests are not restarted and their live
XML is untouched: the change takes effect at the next start. Enabling an enabled domain
changes nothing. DOMAIN is a name or a UUID. A transient domain is refused: defining
its XML would make it persistent.

${COMMON_OPTIONS}

Exit codes: 0 ok (also when nothing changed), 1 failure, 2 bad command line,
3 no such domain, 4 some domains failed.`,
  options: DEFINITION_OPTIONS,
  run: (args, ctx) => runDefinitions(args, ctx, 'enable', enableDomain),
};
