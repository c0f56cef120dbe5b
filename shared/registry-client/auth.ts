import type { IncomingMessage } from 'node:http';
import type { RegistryCredentials } from './docker-config.js';
import { readBody } from './http-transport.js';
import { parseWwwAuthenticate, type AuthChallenge } from './www-authenticate.js';

/** A registry or its token server refused us, or wants credentials we do not have. */
export class AuthenticationError extends Error {}

/** Sends a request to a token server (the client supplies TLS policy, retries and user agent). */
export type TokenServerSender = (method: string, url: URL, headers: Record<string, string>, body?: Buffer) => Promise<IncomingMessage>;

/** The scope a token needs to act on a repository: `repository:library/alpine:pull,push`. */
export function repositoryScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}

/**
 * The scopes a request needs plus those a 401 challenge asked for that they do not already cover
 * (`repository:a:pull` is covered by `repository:a:pull,push`), so the token cache key stays stable.
 */
export function mergeScopes(needed: readonly string[], asked: readonly string[]): string[] {
  const actions = (scope: string) => scope.slice(scope.lastIndexOf(':') + 1).split(',');
  const resource = (scope: string) => scope.slice(0, scope.lastIndexOf(':'));
  const uncovered = asked.filter(
    (scope) => !needed.some((have) => resource(have) === resource(scope) && actions(scope).every((a) => actions(have).includes(a))),
  );
  return [...needed, ...uncovered];
}

interface Token {
  readonly value: string;
  readonly expiresAt: number;
}

// distribution's default lifetime when the token server does not say; renew a little early.
const DEFAULT_TOKEN_SECONDS = 60;
const EXPIRY_MARGIN_MS = 5_000;
const TOKEN_RESPONSE_LIMIT = 1024 * 1024;

/**
 * Turns the challenges registries send into Authorization headers: Basic from the Docker config's
 * credentials, or Bearer tokens fetched from the challenge's realm for the scopes a request needs,
 * cached per host and scope set until they expire.
 */
export class Authenticator {
  private readonly challenges = new Map<string, AuthChallenge>();
  private readonly tokens = new Map<string, Promise<Token>>();

  constructor(
    private readonly credentials: (registry: string) => Promise<RegistryCredentials | undefined>,
    private readonly sendToTokenServer: TokenServerSender,
  ) {}

  /**
   * Records the challenge a host answered with (to a ping or a 401), preferring Bearer to Basic.
   * Returns the scopes the challenge asked for, which the retried request must add to its own.
   */
  challenged(host: string, header: string): string[] {
    const challenges = parseWwwAuthenticate(header);
    const chosen = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!chosen) return [];
    const { scope, ...params } = chosen.params;
    this.challenges.set(host, { scheme: chosen.scheme, params });
    return scope ? scope.split(' ') : [];
  }

  /**
   * The Authorization header for a request to `host` needing `scopes`, or undefined to go anonymous.
   * `rejected` is the header the registry has just answered 401 to: that token is not used again.
   */
  async authorization(host: string, registry: string, scopes: readonly string[], rejected?: string): Promise<string | undefined> {
    const challenge = this.challenges.get(host);
    if (!challenge) return undefined;
    const credentials = await this.credentials(registry);
    if (challenge.scheme === 'basic') return basicAuthorization(credentials);
    if (challenge.scheme !== 'bearer') throw new AuthenticationError(`${host} asks for unsupported authentication scheme "${challenge.scheme}"`);

    const sorted = [...new Set(scopes)].sort();
    const key = `${host} ${sorted.join(' ')}`;
    const cached = this.tokens.get(key);
    if (cached) {
      const token = await cached.catch(() => undefined);
      if (token && token.expiresAt > Date.now() && `Bearer ${token.value}` !== rejected) return `Bearer ${token.value}`;
    }
    // Parallel requests wanting the same scopes share one token request: fetch only if nobody else
    // replaced the unusable entry meanwhile. No await separates the lookup from the set.
    let pending = this.tokens.get(key);
    if (pending === cached) {
      const fetching = this.fetchToken(challenge, host, sorted, credentials);
      this.tokens.set(key, fetching);
      fetching.catch(() => {
        if (this.tokens.get(key) === fetching) this.tokens.delete(key);
      });
      pending = fetching;
    }
    return `Bearer ${(await pending!).value}`;
  }

  private async fetchToken(challenge: AuthChallenge, host: string, scopes: readonly string[], credentials: RegistryCredentials | undefined): Promise<Token> {
    const { realm, service } = challenge.params;
    if (!realm) throw new AuthenticationError(`${host} asks for a bearer token but names no realm to get it from`);
    const url = new URL(realm);
    let response: IncomingMessage;
    if (credentials?.identityToken) {
      // An identity token is an OAuth2 refresh token: exchange it with a form POST, as Docker does.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: 'wharf' });
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      const body = Buffer.from(form.toString());
      response = await this.sendToTokenServer('POST', url, {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(body.length),
      }, body);
    } else {
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      // As docker does: some token servers (GitLab's, Harbor's) want the account named.
      if (credentials?.username) url.searchParams.set('account', credentials.username);
      const authorization = basicAuthorization(credentials);
      response = await this.sendToTokenServer('GET', url, authorization ? { authorization } : {});
    }
    const body = await readBody(response, TOKEN_RESPONSE_LIMIT);
    if (response.statusCode !== 200) {
      const who = credentials ? `refused the credentials from ${credentials.source}` : 'refused an anonymous token';
      throw new AuthenticationError(`token server ${url.origin}${url.pathname} for ${host} ${who} (${response.statusCode}) for scope ${scopes.join(' ') || '(none)'}`);
    }
    const parsed = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const value = parsed.token || parsed.access_token;
    if (!value) throw new AuthenticationError(`token server ${url.origin}${url.pathname} for ${host} answered without a token`);
    const seconds = parsed.expires_in && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    return { value, expiresAt: Date.now() + seconds * 1000 - EXPIRY_MARGIN_MS };
  }
}

function basicAuthorization(credentials: RegistryCredentials | undefined): string | undefined {
  if (credentials?.username === undefined || credentials.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
