import { isNumeric, notFoundMessage, parseId, readGroups, readPasswd, type RootfsFileReader } from '../user-database.js';

/** The identity a RUN's process runs as. */
export interface ContainerUser {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups, without the primary one (BuildKit's `id` shows only these after `groups=`). */
  readonly additionalGids: readonly number[];
}

/** A USER that names an unknown user or group, or holds an invalid id. */
export class ContainerUserError extends Error {
  override readonly name = 'ContainerUserError';
}

/** Root, as an empty USER means. */
export const ROOT_USER: ContainerUser = { uid: 0, gid: 0, additionalGids: [] };

/**
 * The identity USER names, as BuildKit's runc executor resolves it (runc's GetExecUser):
 * - '' is root and `uid:gid` is taken as written, neither reading the image's files;
 * - otherwise the user, a name or a uid, is looked up in /etc/passwd: a name must be there, a uid
 *   need not be (its group is then 0); the entry gives the primary group;
 * - a group after ':', a name (which must be in /etc/group) or a gid, replaces the primary group;
 * - without one, the user's memberships in /etc/group are its supplementary groups.
 */
export async function resolveContainerUser(user: string, readRootfsFile: RootfsFileReader): Promise<ContainerUser> {
  if (user === '') return ROOT_USER;
  const colon = user.indexOf(':');
  const userPart = colon < 0 ? user : user.slice(0, colon);
  const groupPart = colon < 0 ? '' : user.slice(colon + 1);
  const uidArg = isNumeric(userPart) ? validId(userPart, user) : undefined;
  const gidArg = isNumeric(groupPart) ? validId(groupPart, user) : undefined;
  if (uidArg !== undefined && gidArg !== undefined) return { uid: uidArg, gid: gidArg, additionalGids: [] };

  const users = await readPasswd(readRootfsFile);
  // A uid (or none, in ':group', meaning 0) finds its entry by number, a name by name.
  const byName = uidArg === undefined && userPart !== '';
  const entry = users?.find((candidate) => (byName ? candidate.name === userPart : parseId(candidate.uid) === (uidArg ?? 0)));
  if (!entry && byName) throw new ContainerUserError(notFoundMessage('user', userPart, users));
  const uid = entry ? validId(entry.uid, user) : (uidArg ?? 0);
  const gid = entry ? validId(entry.gid, user) : 0;

  if (gidArg !== undefined) return { uid, gid: gidArg, additionalGids: [] };
  if (groupPart !== '') {
    const groups = await readGroups(readRootfsFile);
    const group = groups?.find((candidate) => candidate.name === groupPart);
    if (!group) throw new ContainerUserError(notFoundMessage('group', groupPart, groups));
    return { uid, gid: validId(group.gid, user), additionalGids: [] };
  }
  if (!entry) return { uid, gid, additionalGids: [] };
  const groups = (await readGroups(readRootfsFile)) ?? [];
  // Lines with an unusable gid are not memberships (runc would read them as group 0).
  const additionalGids = groups.filter((group) => group.members.includes(entry.name)).flatMap((group) => parseId(group.gid) ?? []);
  return { uid, gid, additionalGids };
}

function validId(value: string, user: string): number {
  const id = parseId(value);
  if (id === undefined) throw new ContainerUserError(`invalid USER "${user}": "${value}" is not a valid user or group id`);
  return id;
}
