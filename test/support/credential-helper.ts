// Real credential helpers for tests: `docker-credential-NAME` shell scripts that answer `get` as
// docker-credential-helpers do (JSON on stdout, or "credentials not found" and exit 1), and log the
// server URL of each call. Put their directory first on PATH.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What a helper answers: credentials per server URL (others are not found), or a failure with this message. */
export type HelperBehaviour = { readonly credentials: Readonly<Record<string, { username: string; secret: string }>> } | { readonly fails: string };

/** A helper written by writeCredentialHelper. */
export interface TestCredentialHelper {
  /** The server URLs it was asked for, in order. */
  calls(): Promise<string[]>;
}

// Single-quoted in the script; the tests' values never hold a quote, and this makes sure.
function quoted(text: string): string {
  if (text.includes("'")) throw new Error(`a test credential helper cannot say ${text}`);
  return `'${text}'`;
}

/** Writes `docker-credential-NAME` into `binDir`. */
export async function writeCredentialHelper(binDir: string, name: string, behaviour: HelperBehaviour): Promise<TestCredentialHelper> {
  const log = join(binDir, `${name}.calls`);
  const answers =
    'fails' in behaviour
      ? [`  *) echo ${quoted(behaviour.fails)} >&2; exit 1 ;;`]
      : [
          ...Object.entries(behaviour.credentials).map(
            ([url, { username, secret }]) => `  ${quoted(url)}) echo ${quoted(JSON.stringify({ ServerURL: url, Username: username, Secret: secret }))} ;;`,
          ),
          "  *) echo 'credentials not found in native keychain'; exit 1 ;;",
        ];
  const script = ['#!/bin/sh', '[ "$1" = get ] || { echo "unsupported: $1"; exit 1; }', 'url=$(cat)', `printf '%s\\n' "$url" >> ${quoted(log)}`, 'case "$url" in', ...answers, 'esac', ''];
  const path = join(binDir, `docker-credential-${name}`);
  await writeFile(path, script.join('\n'));
  await chmod(path, 0o755);
  return {
    calls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean),
  };
}
