// Following a path through the symlinks of a filesystem root, as the kernel would in a chroot:
// `..` stops at the root and an absolute link target starts again from it. The build context
// (build-context.ts), the destination of a COPY (copy-plan.ts) and the unpacking of layers
// (builder/rootfs.ts) walk their roots this way; each decides what a component it finds means.

/** More symlinks than this on one path is a loop (Linux's MAXSYMLINKS is 40; fsutil allows 255). */
const MAX_SYMLINK_HOPS = 255;

/** One component of the walk, for the caller to look up. */
export interface RootComponent {
  /** Root-relative path of the component ('a/b'), below what is resolved so far. */
  readonly path: string;
  /** True for the final component of the path (after following the symlinks so far). */
  readonly last: boolean;
}

/**
 * What the caller makes of a component: a symlink to follow (its target), a component to take
 * and walk on below ('enter'), or the end of the walk ('stop', e.g. for a missing component).
 */
export type RootStep = { readonly follow: string } | 'enter' | 'stop';

/** Where a walk ended. */
export interface RootResolution {
  /** The components taken, symlinks resolved; the path is `resolved.join('/')`. */
  readonly resolved: string[];
  /** The component the walk stopped at and those after it, as written; empty when it went through. */
  readonly unresolved: string[];
  /** How many symlinks were followed. */
  readonly hops: number;
}

/** The walk itself: yields each component to look up and receives what it is. */
function* walk(path: string, tooManyLinks: () => Error): Generator<RootComponent, RootResolution, RootStep> {
  const pending = splitPath(path);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const step = yield { path: [...resolved, part].join('/'), last: pending.length === 0 };
    if (step === 'stop') return { resolved, unresolved: [part, ...pending], hops };
    if (step === 'enter') {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) throw tooManyLinks();
    if (step.follow.startsWith('/')) resolved.length = 0;
    pending.unshift(...splitPath(step.follow));
  }
  return { resolved, unresolved: [], hops };
}

/**
 * Walks root-relative `path` inside a root, asking `look` what each component is.
 * Throws `tooManyLinks()` when the path goes through too many symlinks.
 */
export async function resolveInRoot(path: string, look: (component: RootComponent) => Promise<RootStep>, tooManyLinks: () => Error): Promise<RootResolution> {
  const walker = walk(path, tooManyLinks);
  let next = walker.next();
  while (!next.done) next = walker.next(await look(next.value));
  return next.value;
}

/** resolveInRoot() for a root that can be looked up synchronously. */
export function resolveInRootSync(path: string, look: (component: RootComponent) => RootStep, tooManyLinks: () => Error): RootResolution {
  const walker = walk(path, tooManyLinks);
  let next = walker.next();
  while (!next.done) next = walker.next(look(next.value));
  return next.value;
}

/** The components of a slash-separated path, without empty ones and '.'. */
export function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}
