import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.js';
import type { RepositoryFilter } from '../pull-access.js';
import type { Access, AccessControl } from './access-control.js';
import type { AccessPolicy } from './access-policy.js';
import { parseAuthorization } from './authorization-header.js';
import { bearerChallenge, scopeFor } from './challenge.js';
import type { AccessGrant, TokenIssuer } from './token-issuer.js';
import { CATALOG } from './token-scope.js';

/**
 * Docker's token authentication: requests carry a Bearer token from the token endpoint, and may do
 * what its `access` claim grants. Without a token, or with one that does not grant enough, the
 * challenge names the scope to ask for.
 */
export class TokenAccess implements AccessControl {
  constructor(
    private readonly issuer: TokenIssuer,
    private readonly policy: AccessPolicy,
    /** The token endpoint clients are sent to; undefined: this registry's own /auth/token. */
    private readonly realm: string | undefined,
  ) {}

  async authorize(request: FastifyRequest, reply: FastifyReply, access: Access, name: string | undefined): Promise<RepositoryFilter> {
    if (access === 'open') return () => false;
    const challenge = { realm: this.realm, service: this.issuer.service };
    const credentials = parseAuthorization(request.headers.authorization);
    let grant: AccessGrant | undefined;
    if (credentials?.scheme === 'bearer') {
      grant = this.issuer.verifyAccess(credentials.token);
      if (grant === undefined) throw bearerChallenge(request, reply, { ...challenge, error: 'invalid_token' }, 'invalid or expired token');
    }
    // Listings show what the policy lets the token's holder pull; the token only has to allow listing.
    const canPull: RepositoryFilter = (repository) => this.policy.allows(grant?.user, repository, 'pull');
    if (access === 'login') {
      if (grant === undefined) throw bearerChallenge(request, reply, challenge);
    } else if (access === 'listing') {
      const scope = { ...CATALOG, actions: ['*'] };
      if (!grant?.access.some((entry) => entry.type === CATALOG.type && entry.name === CATALOG.name)) throw bearerChallenge(request, reply, { ...challenge, scope });
    } else {
      const scope = scopeFor(name ?? '', access);
      const granted = grant?.access.some((entry) => entry.type === 'repository' && entry.name === name && entry.actions.includes(access));
      if (!granted) {
        // A user the policy denies is told so; anyone else may get a token that grants it.
        if (grant?.user !== undefined && name !== undefined && !this.policy.allows(grant.user, name, access)) {
          throw new RegistryError('DENIED', `${access} access to ${name} is denied`);
        }
        throw bearerChallenge(request, reply, { ...challenge, scope, ...(grant ? { error: 'insufficient_scope' as const } : {}) });
      }
    }
    return canPull;
  }
}
