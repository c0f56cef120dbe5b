// An image's /etc/passwd and /etc/group, as `--chown` (context/copy-plan.ts) and USER
// (runtime/container-user.ts) look names up in them. Fields are kept as written: each caller
// decides what an id that is not a number means to it.

/** Reads a file of an image's root filesystem, symlinks resolved inside it (SourceTree.readFile); undefined when missing. */
export type RootfsFileReader = (path: string) => Promise<Buffer | undefined>;

/** One line of /etc/passwd. */
export interface PasswdEntry {
  readonly name: string;
  readonly uid: string;
  readonly gid: string;
}

/** One line of /etc/group. */
export interface GroupEntry {
  readonly name: string;
  readonly gid: string;
  readonly members: readonly string[];
}

/** The image's /etc/passwd entries in file order (the first of a name wins), or undefined when it has none. */
export async function readPasswd(read: RootfsFileReader): Promise<PasswdEntry[] | undefined> {
  const lines = await readDatabase(read, '/etc/passwd', 4);
  return lines?.map(([name, , uid, gid]) => ({ name: name!, uid: uid!, gid: gid! }));
}

/** The image's /etc/group entries in file order, or undefined when it has none. */
export async function readGroups(read: RootfsFileReader): Promise<GroupEntry[] | undefined> {
  const lines = await readDatabase(read, '/etc/group', 3);
  return lines?.map(([name, , gid, members = '']) => ({ name: name!, gid: gid!, members: members.split(',').filter(Boolean) }));
}

/** Whether a user or group is written as a number, not a name (a number out of range is still one). */
export function isNumeric(value: string): boolean {
  return /^[0-9]+$/.test(value);
}

/** A user or group id written in decimal (at most 2^32-2, as (uid_t)-1 means "unchanged"), or undefined. */
export function parseId(value: string): number | undefined {
  const id = Number(value);
  return isNumeric(value) && Number.isSafeInteger(id) && id <= 0xffff_fffe ? id : undefined;
}

/** Why `name` is not in the database, in runc's words (which BuildKit prints) unless the file is missing. */
export function notFoundMessage(kind: 'user' | 'group', name: string, database: readonly unknown[] | undefined): string {
  const file = kind === 'user' ? 'passwd' : 'group';
  return `unable to find ${kind} ${name}: ${database ? `no matching entries in ${file} file` : `the image has no /etc/${file}`}`;
}

/** The colon-separated fields of each line with at least `minimumFields`; blank lines and comments skipped. */
async function readDatabase(read: RootfsFileReader, path: string, minimumFields: number): Promise<string[][] | undefined> {
  const bytes = await read(path);
  if (!bytes) return undefined;
  const lines: string[][] = [];
  for (const line of bytes.toString('utf8').split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields = trimmed.split(':');
    if (fields.length >= minimumFields) lines.push(fields);
  }
  return lines;
}
