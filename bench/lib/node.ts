// The Node a bench times: VCL_BENCH_NODE (its libraries in VCL_BENCH_NODE_LIBS), else the bench's default.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mountNamespace } from './sandbox.js';

export interface BenchNode {
  /** The binary every timed Node process runs. */
  path: string;
  /** Its LD_LIBRARY_PATH (VCL_BENCH_NODE_LIBS), e.g. the lib folder of a Node unpacked with dpkg -x. */
  libs: string | undefined;
  /** Set when VCL_BENCH_NODE chose it (not the bench's default). */
  chosen: boolean;
}

/** VCL_BENCH_NODE / VCL_BENCH_NODE_LIBS, or `fallback` (the bench's default Node) without extra libraries. */
export function benchNode(fallback: string): BenchNode {
  const chosen = process.env.VCL_BENCH_NODE;
  return { path: chosen || fallback, libs: process.env.VCL_BENCH_NODE_LIBS || undefined, chosen: !!chosen };
}

/** `env` plus the Node's LD_LIBRARY_PATH when it has one: what every process of that Node gets. */
export function nodeEnv(node: BenchNode, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return node.libs ? { ...env, LD_LIBRARY_PATH: node.libs } : env;
}

/** `node --version` of that Node, as it runs in the bench (e.g. "v18.20.4"). */
export function nodeVersion(node: BenchNode): string {
  return execFileSync(node.path, ['--version'], { encoding: 'utf8', env: nodeEnv(node, process.env) }).trim();
}

/**
 * Debian's Node loads some builtins (cjs-module-lexer, acorn, undici) from /usr/share/nodejs at every
 * start and aborts without them; unpacked with dpkg -x (node-acorn, node-cjs-module-lexer and
 * node-undici beside nodejs) they sit in `<prefix>/share/nodejs`. This lays that folder over /usr/share
 * (read-only overlay) in this process's private mount namespace, so the machine's /usr is never
 * touched. Returns the folder overlaid, or undefined when the Node has none (e.g. /usr/bin/node).
 */
export function overlayNodeShare(node: BenchNode): string | undefined {
  const prefix = dirname(dirname(node.path));
  const share = join(prefix, 'share');
  if (!node.chosen || prefix === '/usr' || !existsSync(join(share, 'nodejs'))) return undefined;
  if (!belowMountNamespace())
    throw new Error(
      `${node.path} needs ${share}/nodejs at /usr/share/nodejs: run the bench under \`unshare -m --propagation private\``,
    );
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${share}:/usr/share`, '/usr/share'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return share;
}

/**
 * True when an ancestor process runs in another mount namespace than this one (this process, or one
 * between, was started by `unshare -m`): mounting here then never touches the host's mounts.
 * (/proc/1/ns is not readable in every sandbox, so the ancestors are asked, nearest first.)
 */
function belowMountNamespace(): boolean {
  const own = mountNamespace();
  let pid = process.ppid;
  while (pid > 1) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/mnt`) !== own) return true;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return false; // an ancestor we may not read: do not assume
    }
  }
  return false;
}
