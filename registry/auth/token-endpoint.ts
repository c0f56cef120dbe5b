import type { FastifyReply, FastifyRequest } from 'fastify';
import { isRepositoryName } from '../../shared/repository-name.js';
import { RegistryError } from '../errors.js';
import { MAX_PARSED_BODY_BYTES } from '../http-limits.js';
import { readLimited } from '../request-body.js';
import { ACTIONS, type AccessPolicy, type Action, type Caller } from './access-policy.js';
import { parseAuthorization } from './authorization-header.js';
import { basicChallenge } from './challenge.js';
import type { PasswordLogin } from './password-login.js';
import type { TokenIssuer } from './token-issuer.js';
import { CATALOG, formatScope, parseScopes, type ResourceAccess } from './token-scope.js';

type Query = Record<string, string | string[] | undefined>;

/**
 * The registry as its own token server (Docker's token authentication): `GET /auth/token` with Basic
 * credentials or none (anonymous), and the OAuth2 form `POST /auth/token` with
 * `grant_type=password|refresh_token`. A token grants the scopes asked for that the access policy allows.
 */
export class TokenEndpoint {
  constructor(
    private readonly issuer: TokenIssuer,
    private readonly policy: AccessPolicy,
    /** The htpasswd users; undefined when there are none, and every caller is anonymous. */
    private readonly login: PasswordLogin | undefined,
  ) {}

  /** GET /auth/token?service=&scope=&account=&offline_token= */
  async get(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const query = request.query as Query;
    const credentials = parseAuthorization(request.headers.authorization);
    let user: Caller;
    if (credentials?.scheme === 'basic') {
      if (!(await this.passwordMatches(credentials.user, credentials.password, request.ip))) {
        throw basicChallenge(reply, this.issuer.service, 'invalid username or password');
      }
      user = credentials.user;
    }
    const access = this.grant(user, parseScopes(all(query.scope)));
    const { token, expiresIn, issuedAt } = this.issuer.issueAccess(user, access);
    // `docker login` asks for an offline token and stores it as its identity token.
    const refresh = user !== undefined && one(query.offline_token) === 'true' ? { refresh_token: this.refreshToken(user) } : {};
    reply.header('cache-control', 'no-store').send({ token, access_token: token, expires_in: expiresIn, issued_at: issuedAt, ...refresh });
  }

  /** POST /auth/token (application/x-www-form-urlencoded): grant_type=password or refresh_token. */
  async post(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const form = await readForm(request);
    let user: string;
    let offline = false;
    const grantType = form.get('grant_type');
    if (grantType === 'password') {
      const username = form.get('username') ?? '';
      if (!(await this.passwordMatches(username, form.get('password') ?? '', request.ip))) {
        throw new RegistryError('UNAUTHORIZED', 'invalid username or password');
      }
      user = username;
      offline = form.get('access_type') === 'offline';
    } else if (grantType === 'refresh_token') {
      user = this.refreshTokenUser(form.get('refresh_token') ?? '', request.ip);
    } else {
      throw new RegistryError('UNSUPPORTED', `unsupported grant_type "${grantType ?? ''}" (use password or refresh_token)`, undefined, 400);
    }
    const access = this.grant(user, parseScopes(form.getAll('scope')));
    const { token, expiresIn, issuedAt } = this.issuer.issueAccess(user, access);
    reply.header('cache-control', 'no-store').send({
      access_token: token,
      token_type: 'Bearer',
      expires_in: expiresIn,
      issued_at: issuedAt,
      scope: access.map(formatScope).join(' '),
      ...(offline ? { refresh_token: this.refreshToken(user) } : {}),
    });
  }

  /** The requested scopes intersected with what the policy lets `user` do; scopes it grants nothing of are left out. */
  private grant(user: Caller, requested: readonly ResourceAccess[]): ResourceAccess[] {
    const granted: ResourceAccess[] = [];
    for (const scope of requested) {
      if (scope.type === 'repository' && isRepositoryName(scope.name)) {
        const wanted = scope.actions.includes('*') ? ACTIONS : ACTIONS.filter((action) => scope.actions.includes(action));
        const actions: Action[] = this.policy.allowedActions(user, scope.name, wanted);
        if (actions.length > 0) granted.push({ type: scope.type, name: scope.name, actions });
      } else if (scope.type === CATALOG.type && scope.name === CATALOG.name && this.policy.mayPullSomething(user)) {
        // Listing and search show only what the caller may pull, so whoever may pull anything may list.
        granted.push({ ...CATALOG, actions: scope.actions.filter((action) => action === '*' || action === 'search') });
      }
    }
    return granted.filter((scope) => scope.actions.length > 0);
  }

  private async passwordMatches(user: string, password: string, address: string): Promise<boolean> {
    if (this.login === undefined) return false;
    return this.login.login(user, password, address);
  }

  private refreshToken(user: string): string {
    return this.issuer.issueRefresh(user, this.login!.users.fingerprint(user)!);
  }

  /** The user a refresh token was issued to, while their password is the one it was issued for. */
  private refreshTokenUser(token: string, address: string): string {
    this.login?.check(address);
    const grant = this.issuer.verifyRefresh(token);
    if (grant === undefined || this.login === undefined || !this.login.users.fingerprintMatches(grant.user, grant.fingerprint)) {
      this.login?.failed(address);
      throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token; log in again');
    }
    return grant.user;
  }
}

async function readForm(request: FastifyRequest): Promise<URLSearchParams> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new RegistryError('UNSUPPORTED', 'the token request must be an application/x-www-form-urlencoded form', undefined, 400);
  }
  const body = await readLimited(request.raw, MAX_PARSED_BODY_BYTES, () => new RegistryError('SIZE_INVALID', `the form is larger than ${MAX_PARSED_BODY_BYTES} bytes`, undefined, 413));
  return new URLSearchParams(body.toString('utf8'));
}

function all(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
