import { ConfigError, type AuthSettings } from '../config.js';
import { allowAll } from '../pull-access.js';
import type { AccessControl } from './access-control.js';
import { AccessPolicy } from './access-policy.js';
import { BasicAccess } from './basic-access.js';
import { Htpasswd } from './htpasswd.js';
import { LoginThrottle, type ThrottleLimits } from './login-throttle.js';
import { PasswordLogin } from './password-login.js';
import { TokenAccess } from './token-access.js';
import { TokenEndpoint } from './token-endpoint.js';
import { TokenIssuer } from './token-issuer.js';
import { loadSigningKey } from './token-signing-key.js';

// How long the identity token `docker login` stores lasts; a password change ends it sooner.
const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

/** How a registry authenticates: the check every request passes, and (token mode) the token endpoint. */
export interface Authentication {
  readonly control: AccessControl;
  readonly tokenEndpoint?: TokenEndpoint;
}

/** The registry without authentication: everyone may do everything. */
export const NO_AUTH: Authentication = { control: { authorize: async () => allowAll } };

/** Reads the files the settings name; throws ConfigError with one line for one it cannot use. */
export function loadAuthentication(settings: AuthSettings, throttleLimits?: ThrottleLimits): Authentication {
  if (settings.mode === 'none') return NO_AUTH;
  const users = settings.htpasswd === undefined ? undefined : Htpasswd.load(settings.htpasswd);
  const policy = settings.access === undefined ? AccessPolicy.DEFAULT : AccessPolicy.load(settings.access);
  const login = users && new PasswordLogin(users, new LoginThrottle(throttleLimits));
  if (settings.mode === 'basic') {
    if (login === undefined) throw new ConfigError('--auth basic needs --htpasswd FILE (the users)');
    return { control: new BasicAccess(login, policy, settings.service) };
  }
  const issuer = new TokenIssuer(loadSigningKey(settings.tokenKey), settings.service, Math.max(1, Math.round(settings.tokenTtlMs / 1000)), REFRESH_TOKEN_TTL_SECONDS);
  return { control: new TokenAccess(issuer, policy, settings.realm), tokenEndpoint: new TokenEndpoint(issuer, policy, login) };
}
