import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.js';
import type { Action } from './access-policy.js';
import { formatScope, type ResourceAccess } from './token-scope.js';

/** The path of the token endpoint, on the registry itself. */
export const TOKEN_PATH = '/auth/token';

/** The scope a challenge asks for an action: a push asks pull too, as clients read before they write. */
export function scopeFor(name: string, action: Action): ResourceAccess {
  return { type: 'repository', name, actions: action === 'push' ? ['pull', 'push'] : [action] };
}

/** 401 UNAUTHORIZED with `WWW-Authenticate: Basic realm="SERVICE"`. */
export function basicChallenge(reply: FastifyReply, service: string, message?: string): RegistryError {
  reply.header('www-authenticate', `Basic realm=${quoted(service)}, charset="UTF-8"`);
  return new RegistryError('UNAUTHORIZED', message);
}

/**
 * 401 UNAUTHORIZED with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`: where to get a token
 * (the configured realm, else this registry's own token endpoint) and the scope this request needs.
 */
export function bearerChallenge(
  request: FastifyRequest,
  reply: FastifyReply,
  options: { realm: string | undefined; service: string; scope?: ResourceAccess; error?: 'invalid_token' | 'insufficient_scope' },
  message?: string,
): RegistryError {
  const realm = options.realm ?? `${request.protocol}://${request.host}${TOKEN_PATH}`;
  const parameters = [`realm=${quoted(realm)}`, `service=${quoted(options.service)}`];
  if (options.scope) parameters.push(`scope=${quoted(formatScope(options.scope))}`);
  if (options.error) parameters.push(`error=${quoted(options.error)}`);
  reply.header('www-authenticate', `Bearer ${parameters.join(',')}`);
  return new RegistryError('UNAUTHORIZED', message, options.scope ? [{ Type: options.scope.type, Name: options.scope.name, Action: options.scope.actions.join(',') }] : undefined);
}

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}
