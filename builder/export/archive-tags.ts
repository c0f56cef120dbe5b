import { parseImageReference, ReferenceParseError } from '../../shared/reference.js';

/** One name an exported image carries, in the forms archive formats use. */
export interface ArchiveTag {
  /** Docker's short form, as `docker save` writes RepoTags: `foo:latest`, `user/app:1`, `localhost:5000/app:2`. */
  readonly familiar: string;
  /** Fully qualified, as containerd's `io.containerd.image.name` holds it: `docker.io/library/foo:latest`. */
  readonly full: string;
  /** The tag alone, as an OCI layout's `org.opencontainers.image.ref.name` holds it: `latest`. */
  readonly tag: string;
}

/** Raised when a name given to an exporter is not a taggable image reference. */
export class ArchiveTagError extends Error {}

/**
 * Normalises the names an image is exported under, as `docker tag` would (`foo` → `foo:latest`,
 * `docker.io/library/foo:1` → `foo:1`), dropping duplicates and keeping the first-given order.
 */
export function archiveTags(names: readonly string[]): ArchiveTag[] {
  const tags = new Map<string, ArchiveTag>();
  for (const name of names) {
    let reference;
    try {
      reference = parseImageReference(name);
    } catch (err) {
      if (err instanceof ReferenceParseError) throw new ArchiveTagError(err.message);
      throw err;
    }
    if (reference.digest !== undefined) {
      throw new ArchiveTagError(`cannot tag an exported image as "${name}": a tag, not a digest, names an image in an archive`);
    }
    const tag = reference.tag!;
    if (!tags.has(reference.toString())) tags.set(reference.toString(), { familiar: reference.familiar, full: reference.toString(), tag });
  }
  return [...tags.values()];
}
