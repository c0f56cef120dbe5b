// Apache htpasswd files written by the real `htpasswd` command (apache2-utils), bcrypt entries as
// `htpasswd -B` makes them: what both Wharf and distribution read.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Writes `users` (name → password) to a new htpasswd file at `path`: `htpasswd -B -b -c` for the first, `-B -b` for the rest. */
export async function writeHtpasswd(path: string, users: Readonly<Record<string, string>>, cost = 5): Promise<void> {
  let create = true;
  for (const [user, password] of Object.entries(users)) {
    await promisify(execFile)('htpasswd', ['-B', '-C', String(cost), '-b', ...(create ? ['-c'] : []), path, user, password]);
    create = false;
  }
}
