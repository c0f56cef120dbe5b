// Registries with authentication for the API tests: htpasswd users written by the real `htpasswd`
// command, an access policy file, and callers that authenticate as Docker does in each mode.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadAuthentication } from '../../registry/auth/authentication.js';
import type { ThrottleLimits } from '../../registry/auth/login-throttle.js';
import { createApp } from '../../registry/app.js';
import type { AuthSettings } from '../../registry/config.js';
import type { StorageDriver } from '../../registry/storage/driver.js';
import { writeHtpasswd } from '../support/htpasswd-file.js';
import { tempDir } from '../support/temp-dir.js';
import type { App, Response } from './fixtures.js';

export const PASSWORDS = { alice: 'alice-secret-1', reader: 'reader-secret-2', writer: 'writer-secret-3' } as const;
export type User = keyof typeof PASSWORDS;

/** alice may do everything, reader only pull, writer push and pull in drop/*; anonymous callers pull public/*. */
export const POLICY = `
- repos: ["**"]
  users: [alice]
  actions: [pull, push, delete]
- repos: ["**"]
  users: [reader]
  actions: [pull]
- repos: ["drop/*"]
  users: [writer]
  actions: [pull, push]
- repos: ["public/*"]
  users: [anonymous]
  actions: [pull]
`;

export interface AuthAppOptions {
  readonly mode: 'basic' | 'token';
  readonly storage: StorageDriver;
  /** The access policy file's text; null for no file (the default policy). */
  readonly policy?: string | null;
  readonly throttle?: ThrottleLimits;
  /** Receives the app's log lines (JSON), for tests of what is logged. */
  readonly logStream?: NodeJS.WritableStream;
}

/** An app over `storage` with the test users and POLICY (or `policy`), in basic or token mode. */
export async function newAuthApp(t: TestContext, options: AuthAppOptions): Promise<App> {
  const dir = await tempDir(t, 'wharf-auth-');
  await writeHtpasswd(join(dir, 'htpasswd'), PASSWORDS);
  if (options.policy !== null) await writeFile(join(dir, 'access.yaml'), options.policy ?? POLICY);
  const settings: AuthSettings = {
    mode: options.mode,
    htpasswd: join(dir, 'htpasswd'),
    ...(options.policy === null ? {} : { access: join(dir, 'access.yaml') }),
    tokenKey: {},
    tokenTtlMs: 300_000,
    service: 'wharf-test',
  };
  const app = await createApp({
    storage: options.storage,
    auth: loadAuthentication(settings, options.throttle),
    logger: options.logStream ? { level: 'info', stream: options.logStream } : false,
  });
  t.after(() => app.close());
  return app;
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/**
 * A caller of a registry: anonymous or a user, sending what Docker sends in the registry's mode —
 * Basic credentials, or a Bearer token fetched from /auth/token for the scopes the request needs.
 */
export class Caller {
  constructor(
    private readonly app: App,
    private readonly mode: 'basic' | 'token',
    readonly user: User | undefined,
  ) {}

  get name(): string {
    return this.user ?? 'anonymous';
  }

  /** A token for `scopes` from GET /auth/token, with this caller's credentials if any. */
  async token(scopes: readonly string[]): Promise<string> {
    const query = new URLSearchParams({ service: 'wharf-test' });
    for (const scope of scopes) query.append('scope', scope);
    const res = await this.app.inject({ method: 'GET', url: `/auth/token?${query}`, headers: this.credentials() });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { token: string }).token;
  }

  async send(request: { method: string; url: string; scopes: readonly string[]; payload?: Buffer; headers?: Record<string, string> }): Promise<Response> {
    const authorization = this.mode === 'basic' ? this.credentials() : { authorization: `Bearer ${await this.token(request.scopes)}` };
    return this.app.inject({
      method: request.method as 'GET',
      url: request.url,
      headers: { ...request.headers, ...authorization },
      ...(request.payload ? { payload: request.payload } : {}),
    });
  }

  private credentials(): Record<string, string> {
    return this.user === undefined ? {} : { authorization: basicAuthorization(this.user, PASSWORDS[this.user]) };
  }
}
