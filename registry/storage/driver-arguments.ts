/** Raised for a driver path that is malformed or could step outside the driver's root. */
export class InvalidPathError extends Error {
  constructor(readonly path: string) {
    super(`invalid storage path: ${JSON.stringify(path)}`);
  }
}

/**
 * Throws InvalidPathError unless path is `/` or `/`-joined non-empty segments, none starting with
 * `.` and none holding NUL. Every driver checks this first, so no request-derived path can reach a
 * file or key outside the driver's root; names starting with `.` are the drivers' own (temporary
 * files, the state of unfinished S3 uploads).
 */
export function checkPath(path: string): void {
  if (path === '/') return;
  const unsafe = (segment: string) => segment === '' || segment.startsWith('.') || segment.includes('\0');
  if (!path.startsWith('/') || path.slice(1).split('/').some(unsafe)) throw new InvalidPathError(path);
}

/** Throws RangeError unless offset and (when given) length are non-negative integers. */
export function checkRange(offset: number, length: number | undefined): void {
  const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!isCount(offset)) throw new RangeError(`invalid read offset: ${offset}`);
  if (length !== undefined && !isCount(length)) throw new RangeError(`invalid read length: ${length}`);
}
