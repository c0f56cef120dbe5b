import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.js';
import type { RepositoryFilter } from '../pull-access.js';
import type { Access, AccessControl } from './access-control.js';
import type { AccessPolicy, Caller } from './access-policy.js';
import { parseAuthorization } from './authorization-header.js';
import { basicChallenge } from './challenge.js';
import type { PasswordLogin } from './password-login.js';

/** HTTP Basic authentication against htpasswd users, as distribution's htpasswd mode does, with an access policy. */
export class BasicAccess implements AccessControl {
  constructor(
    private readonly login: PasswordLogin,
    private readonly policy: AccessPolicy,
    /** The realm of the challenge. */
    private readonly service: string,
  ) {}

  async authorize(request: FastifyRequest, reply: FastifyReply, access: Access, name: string | undefined): Promise<RepositoryFilter> {
    if (access === 'open') return () => false;
    const caller = await this.caller(request, reply);
    const canPull: RepositoryFilter = (repository) => this.policy.allows(caller, repository, 'pull');
    if (access === 'login') {
      if (caller === undefined) throw basicChallenge(reply, this.service);
    } else if (access === 'listing') {
      if (!this.policy.mayPullSomething(caller)) throw this.refusal(reply, caller, 'you may not list repositories');
    } else if (name === undefined || !this.policy.allows(caller, name, access)) {
      throw this.refusal(reply, caller, `${access} access to ${name} is denied`);
    }
    return canPull;
  }

  /** The user whose credentials the request carries; undefined without any. Wrong ones are a 401 (or 429). */
  private async caller(request: FastifyRequest, reply: FastifyReply): Promise<Caller> {
    const credentials = parseAuthorization(request.headers.authorization);
    if (credentials?.scheme !== 'basic') return undefined;
    if (!(await this.login.login(credentials.user, credentials.password, request.ip))) {
      throw basicChallenge(reply, this.service, 'invalid username or password');
    }
    return credentials.user;
  }

  /** An anonymous caller is asked to log in; a user who did is denied. */
  private refusal(reply: FastifyReply, caller: Caller, message: string): RegistryError {
    return caller === undefined ? basicChallenge(reply, this.service) : new RegistryError('DENIED', message);
  }
}
