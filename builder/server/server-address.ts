import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Seconds a build server waits for the next build before it exits, unless WHARF_BUILD_SERVER_IDLE says otherwise. */
const DEFAULT_IDLE_SECONDS = 600;

/** Longest unix socket path Linux takes (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/** Where the build server of this wharf installation listens, logs, and writes its pid. */
export interface BuildServerAddress {
  readonly socket: string;
  readonly log: string;
  readonly pidFile: string;
  /** This installation: the node binary and the compiled files (by path and build time). */
  readonly identity: string;
  readonly idleSeconds: number;
}

/** This file, compiled: `tsc` writes every file of dist/ at each build, so its mtime says which build this is. */
const THIS_FILE = fileURLToPath(import.meta.url);

/** The node binary, its version and this build of wharf: a server answers only clients identical to it. */
export function installationIdentity(): string {
  return `${process.execPath} ${process.version} ${THIS_FILE} ${statSync(THIS_FILE).mtimeMs}`;
}

/**
 * The build server's address for `env`, or undefined when builds should not use one: turned off
 * (WHARF_BUILD_SERVER_IDLE=0), or no private directory for its socket. The directory
 * (WHARF_BUILD_SERVER_DIR, else $XDG_RUNTIME_DIR/wharf, else $TMPDIR/wharf-build-UID) must be this
 * user's and closed to others, because whoever can connect runs builds as this user.
 */
export function buildServerAddress(env: NodeJS.ProcessEnv): BuildServerAddress | undefined {
  const idleSeconds = env.WHARF_BUILD_SERVER_IDLE === undefined || env.WHARF_BUILD_SERVER_IDLE === '' ? DEFAULT_IDLE_SECONDS : Number(env.WHARF_BUILD_SERVER_IDLE);
  if (!(idleSeconds > 0)) return undefined;
  const uid = process.getuid!();
  const directory = env.WHARF_BUILD_SERVER_DIR || (env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'wharf') : join(tmpdir(), `wharf-build-${uid}`));
  if (!isPrivateDirectory(directory, uid)) return undefined;
  const identity = installationIdentity();
  const base = join(directory, `build-${fnv1a(identity)}`);
  if (Buffer.byteLength(`${base}.sock`) > MAX_SOCKET_PATH) return undefined;
  return { socket: `${base}.sock`, log: `${base}.log`, pidFile: `${base}.pid`, identity, idleSeconds };
}

/** Makes `directory` (mode 0700) if missing; whether it is a real directory of `uid` that no one else can enter. */
function isPrivateDirectory(directory: string, uid: number): boolean {
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const stats = lstatSync(directory);
    return stats.isDirectory() && stats.uid === uid && (stats.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** 32-bit FNV-1a as 8 hex digits: a short, stable socket name per installation (node:crypto would cost the client its load time). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}
