// The distribution-spec grammar for a repository name: path components separated by '/',
// each lower-case alphanumerics joined by '.', '_', '__' or runs of '-'.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Longest repository name accepted, as in distribution. */
export const MAX_NAME_LENGTH = 255;

/** Whether a string is a valid repository name such as `library/alpine`. */
export function isRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

/** Whether a string is a valid tag such as `v1.2.3`. */
export function isTag(tag: string): boolean {
  return TAG.test(tag);
}
