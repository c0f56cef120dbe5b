import type { FastifyReply, FastifyRequest } from 'fastify';
import { DigestParseError, parseDigest, type Digest } from '../../shared/digest.js';
import { isRepositoryName } from '../../shared/repository-name.js';
import { RegistryError } from '../errors.js';
import type { RepositoryFilter } from '../pull-access.js';
import type { Registry } from '../registry.js';

/** What a route handler gets: the request, the reply, the registry and the path's named parts. */
export interface RequestContext {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly registry: Registry;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The repositories this request's caller may pull: search and catalog results show no others. */
  readonly canPull: RepositoryFilter;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/** The repository name from the path, validated; throws NAME_INVALID. */
export function repositoryName(ctx: RequestContext): string {
  const name = ctx.params.name!;
  if (!isRepositoryName(name)) throw new RegistryError('NAME_INVALID', `invalid repository name "${name}"`, { name });
  return name;
}

/** A digest from the path or query, validated; throws DIGEST_INVALID. */
export function digestParameter(value: string | undefined, what = 'digest'): Digest {
  if (value === undefined || value === '') throw new RegistryError('DIGEST_INVALID', `${what} is required`);
  try {
    return parseDigest(value);
  } catch (error) {
    if (error instanceof DigestParseError) throw new RegistryError('DIGEST_INVALID', error.message, { digest: value });
    throw error;
  }
}

/** Whether the request carries a body (declared length above zero, or chunked). */
export function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return length !== undefined ? length !== '0' : request.headers['transfer-encoding'] !== undefined;
}
