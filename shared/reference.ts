import { DigestParseError, parseDigest, type Digest } from './digest.js';
import { isRepositoryName, isTag, MAX_NAME_LENGTH } from './repository-name.js';

/** The registry a reference without a domain names, as Docker writes it. */
export const DOCKER_HUB = 'docker.io';

/** The host Docker Hub's registry API actually answers on. */
const DOCKER_HUB_HOST = 'registry-1.docker.io';

/** The tag a reference gets when it names neither a tag nor a digest. */
export const DEFAULT_TAG = 'latest';

// distribution/reference's domain grammar: DNS labels or a bracketed IPv6 address, then an optional port.
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const IMAGE_ID = /^[a-f0-9]{64}$/;

/** Why a string is not an image reference. */
export class ReferenceParseError extends Error {
  constructor(readonly input: string, readonly reason: string) {
    super(`invalid image reference "${input}": ${reason}`);
  }
}

/** A fully qualified image reference: `docker.io/library/alpine:3.19`, `localhost:5000/app@sha256:…`. */
export class ImageReference {
  constructor(
    /** The registry as users write it (`docker.io`, `ghcr.io`, `localhost:5000`); see registryHost(). */
    readonly registry: string,
    readonly repository: string,
    readonly tag?: string,
    readonly digest?: Digest,
  ) {}

  /** What a manifest request names: the digest when there is one (it pins the content), else the tag. */
  get manifestReference(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  /** The short form Docker prints: `alpine:3.19` rather than `docker.io/library/alpine:3.19`. */
  get familiar(): string {
    let name = `${this.registry}/${this.repository}`;
    if (this.registry === DOCKER_HUB) {
      name = this.repository.startsWith('library/') && this.repository.split('/').length === 2
        ? this.repository.slice('library/'.length)
        : this.repository;
    }
    return name + this.suffix();
  }

  toString(): string {
    return `${this.registry}/${this.repository}${this.suffix()}`;
  }

  private suffix(): string {
    return (this.tag === undefined ? '' : `:${this.tag}`) + (this.digest === undefined ? '' : `@${this.digest}`);
  }
}

/**
 * Parses `[domain/]path[:tag][@digest]` with Docker's rules: the first component is a domain only
 * if it contains '.' or ':', is `localhost`, or has upper-case letters; otherwise the image is on
 * Docker Hub, where one-component names live under `library/`. Without tag or digest the tag is `latest`.
 */
export function parseImageReference(text: string): ImageReference {
  const fail = (reason: string): never => {
    throw new ReferenceParseError(text, reason);
  };
  if (text === '') fail('it is empty');

  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const digestText = rest.slice(at + 1);
    try {
      digest = parseDigest(digestText);
    } catch (error) {
      if (!(error instanceof DigestParseError)) throw error;
      fail(error.unsupported ? `unsupported digest algorithm in "${digestText}"` : `"${digestText}" is not a valid digest`);
    }
    rest = rest.slice(0, at);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    if (!isTag(tag)) fail(`"${tag}" is not a valid tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
    rest = rest.slice(0, colon);
  }

  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      if (!DOMAIN.test(first)) fail(`"${first}" is not a valid registry host`);
      registry = first === 'index.docker.io' ? DOCKER_HUB : first;
      repository = rest.slice(slash + 1);
    }
  }
  if (repository === '') fail('the repository name is empty');
  if (registry === DOCKER_HUB && !repository.includes('/')) {
    if (IMAGE_ID.test(repository)) fail('a 64-character hexadecimal string is an image ID, not a repository name');
    repository = `library/${repository}`;
  }
  if (repository !== repository.toLowerCase()) fail('the repository name must be lower-case');
  if (!isRepositoryName(repository)) {
    fail(`"${repository}" is not a valid repository name (lower-case letters, digits and separators '.', '_', '__', '-', components joined by '/')`);
  }
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) fail(`the name is longer than ${MAX_NAME_LENGTH} characters`);

  return new ImageReference(registry, repository, tag ?? (digest === undefined ? DEFAULT_TAG : undefined), digest);
}

/** The host:port a registry's API is reached at: Docker Hub's name maps to registry-1.docker.io. */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry;
}
