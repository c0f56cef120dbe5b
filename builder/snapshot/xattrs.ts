// Extended attributes through getfattr and setfattr (Debian package `attr`): Node has no xattr API,
// so a whole tree is read with one getfattr and a whole layer's written with one setfattr.
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Xattrs } from '../layer-reader.js';
import { runCommand } from '../run-command.js';

const INSTALL_ATTR = 'install the attr package: apt-get install attr';

/** Every xattr of `dir` and below (symlinks themselves, not followed), by path relative to `dir` ('' for `dir`). */
export async function readXattrTree(dir: string): Promise<Map<string, Xattrs>> {
  // getfattr would list a symlink to the tree, not the tree.
  const root = await realpath(dir);
  const dump = await runCommand('getfattr', ['--recursive', '--no-dereference', '--dump', '--match=-', '--encoding=hex', '--absolute-names', '--', root], {
    installHint: INSTALL_ATTR,
  });
  const tree = new Map<string, Xattrs>();
  let current: Xattrs | undefined;
  for (const line of splitLines(dump)) {
    if (line.length === 0) continue;
    if (line.subarray(0, 8).toString('latin1') === '# file: ') {
      const path = unescape(line.subarray(8));
      const relative = path === root ? '' : path.startsWith(`${root}/`) ? path.slice(root.length + 1) : undefined;
      if (relative === undefined) throw new Error(`getfattr listed ${path}, outside ${root}`);
      current = {};
      tree.set(relative, current);
      continue;
    }
    const equals = line.indexOf(0x3d);
    const value = line.subarray(equals + 1).toString('latin1');
    if (!current || equals < 0 || !/^0x([0-9a-f]{2})*$/.test(value)) throw new Error(`unexpected getfattr output: ${line.toString('utf8')}`);
    current[unescape(line.subarray(0, equals))] = Buffer.from(value.slice(2), 'hex');
  }
  return tree;
}

/**
 * The xattrs a layer carries: all but `trusted.*`, which holds overlayfs's own state (a layer's
 * trusted.overlay.redirect could send a lookup elsewhere) and which a RUN cannot set anyway.
 */
export function layerXattrs(all: Xattrs): Xattrs | undefined {
  const kept = Object.entries(all).filter(([name]) => !name.startsWith('trusted.'));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

/** Sets the xattrs of each host path (on symlinks themselves), all with one setfattr. */
export async function writeXattrs(xattrsByPath: ReadonlyMap<string, Xattrs>): Promise<void> {
  const dump: string[] = [];
  for (const [path, xattrs] of xattrsByPath) {
    const names = Object.keys(xattrs);
    if (names.length === 0) continue;
    dump.push(`# file: ${escape(resolve(path))}`, ...names.map((name) => `${escape(name)}=0x${xattrs[name]!.toString('hex')}`), '');
  }
  if (dump.length === 0) return;
  await runCommand('setfattr', ['--no-dereference', '--restore=-'], { input: `${dump.join('\n')}\n`, installHint: INSTALL_ATTR });
}

function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(0x0a, start);
    lines.push(bytes.subarray(start, end < 0 ? bytes.length : end));
    start = end < 0 ? bytes.length : end + 1;
  }
  return lines;
}

/** The attr tools' quoting, undone: `\ooo` is one byte, octal. */
function unescape(quoted: Buffer): string {
  const bytes: number[] = [];
  for (let i = 0; i < quoted.length; i++) {
    const octal = quoted[i] === 0x5c ? /^[0-3][0-7]{2}/.exec(quoted.subarray(i + 1, i + 4).toString('latin1')) : null;
    if (octal) {
      bytes.push(parseInt(octal[0], 8));
      i += 3;
    } else {
      bytes.push(quoted[i]!);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The attr tools' quoting: every byte but printable ASCII, and `\` and `=`, as `\ooo`. */
function escape(text: string): string {
  let quoted = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    quoted += byte > 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x3d ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return quoted;
}
