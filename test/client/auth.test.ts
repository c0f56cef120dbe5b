import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseImageReference } from '../../shared/reference.js';
import { AuthenticationError } from '../../shared/registry-client/auth.js';
import { RegistryClient, type BlobUploadOutcome } from '../../shared/registry-client/client.js';
import { pushImage } from '../../shared/registry-client/push.js';
import { pullImage } from '../../shared/registry-client/remote-image.js';
import { basicHeader, dockerConfig, requireBasic, startRegistry, temporaryStore, testImage, unauthorized } from './fixtures.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const USER = 'alice';
const PASSWORD = 'wonder:land';
const base64 = (text: string) => Buffer.from(text).toString('base64');

interface BearerServer {
  /** The scope parameters of each token request, in order. */
  readonly tokenRequests: string[][];
  /** How each token request authenticated: 'basic', 'refresh_token' or 'anonymous'. */
  readonly grants: string[];
  /** The `account` parameter of each GET token request ('' when absent). */
  readonly accounts: string[];
  /** Forgets every token issued, as a token server restart or revocation would. */
  revokeAll(): void;
}

/**
 * distribution's token flow: /v2 endpoints want a bearer token covering `repository:NAME:ACTION`
 * (and pull on the `from` repository of a mount); /token issues one for the requested scopes to
 * Basic credentials or a refresh token, and refuses anonymous requests.
 */
function requireBearer(app: FastifyInstance, identityToken?: string): BearerServer {
  const tokens = new Map<string, Set<string>>();
  const server: BearerServer = { tokenRequests: [], grants: [], accounts: [], revokeAll: () => tokens.clear() };
  const issue = (reply: FastifyReply, scopes: string[], field: 'token' | 'access_token') => {
    const token = randomBytes(12).toString('hex');
    const granted = new Set<string>();
    for (const scope of scopes) {
      const [, name, actions] = scope.split(':');
      for (const action of actions!.split(',')) granted.add(`${name}:${action}`);
    }
    tokens.set(token, granted);
    return reply.send({ [field]: token, expires_in: 300 });
  };
  app.get('/token', async (request, reply) => {
    const { scope, account } = request.query as { scope?: string | string[]; account?: string };
    const scopes = scope === undefined ? [] : [scope].flat();
    server.tokenRequests.push(scopes);
    server.accounts.push(account ?? '');
    if (request.headers.authorization !== basicHeader(USER, PASSWORD)) {
      server.grants.push('anonymous');
      return reply.code(401).send({ details: 'incorrect username or password' });
    }
    server.grants.push('basic');
    return issue(reply, scopes, 'token');
  });
  app.post('/token', async (request, reply) => {
    let body = '';
    for await (const chunk of request.raw) body += chunk;
    const form = new URLSearchParams(body);
    const scopes = form.get('scope')?.split(' ') ?? [];
    server.tokenRequests.push(scopes);
    server.grants.push(form.get('grant_type') ?? 'none');
    if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== identityToken) return reply.code(401).send({});
    return issue(reply, scopes, 'access_token');
  });
  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    if (!request.url.startsWith('/v2')) return;
    const realm = `Bearer realm="http://${request.headers.host}/token",service="wharf-test"`;
    const granted = tokens.get(request.headers.authorization?.replace(/^Bearer /, '') ?? '');
    const match = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(request.url);
    if (!match) return granted ? undefined : unauthorized(reply, realm);
    const name = match[1]!;
    const push = request.method !== 'GET' && request.method !== 'HEAD';
    const needed = [`${name}:${push ? 'push' : 'pull'}`];
    const from = (request.query as { from?: string }).from;
    if (from) needed.push(`${from}:pull`);
    if (!granted || !needed.every((n) => granted.has(n))) {
      return unauthorized(reply, `${realm},scope="repository:${name}:${push ? 'pull,push' : 'pull'}",error="insufficient_scope"`);
    }
  });
  return server;
}

test('Basic auth: credentials from the Docker config let a push and a pull through', async (t) => {
  const registry = await startRegistry(t, (app) => requireBasic(app, USER, PASSWORD));
  const config = await dockerConfig(t, { [registry.host]: { auth: base64(`${USER}:${PASSWORD}`) } });
  const image = await testImage({ layers: [{ basic: 'yes' }] });
  const ref = parseImageReference(`${registry.host}/basic/app:1`);

  await pushImage(new RegistryClient({ dockerConfigPath: config }), image, ref);
  const pulled = await pullImage(new RegistryClient({ dockerConfigPath: config }), ref, AMD64, await temporaryStore(t));
  assert.equal(pulled.digest, image.digest);
});

test('Basic auth: missing or wrong credentials fail with what to do about it', async (t) => {
  const registry = await startRegistry(t, (app) => requireBasic(app, USER, PASSWORD));
  const ref = parseImageReference(`${registry.host}/basic/app:1`);
  const empty = await dockerConfig(t, {});
  await assert.rejects(pullImage(new RegistryClient({ dockerConfigPath: empty }), ref, AMD64, await temporaryStore(t)), (error: unknown) => {
    assert.ok(error instanceof AuthenticationError);
    assert.equal(error.message, `${registry.host} requires authentication and ${empty} has no usable credentials for it (docker login ${registry.host})`);
    return true;
  });
  const wrong = await dockerConfig(t, { [`https://${registry.host}`]: { username: USER, password: 'guess' } });
  await assert.rejects(
    pullImage(new RegistryClient({ dockerConfigPath: wrong }), ref, AMD64, await temporaryStore(t)),
    (error: unknown) => error instanceof AuthenticationError && /refused the credentials from .*: GET .*: 401 UNAUTHORIZED/.test(error.message),
  );
});

test('Bearer auth: one token per scope set, requested from the realm with Basic credentials', async (t) => {
  let server!: BearerServer;
  const registry = await startRegistry(t, (app) => (server = requireBearer(app)));
  const config = await dockerConfig(t, { [`https://${registry.host}`]: { username: USER, password: PASSWORD } });
  const image = await testImage({ layers: [{ one: '1' }, { two: '2' }] });
  const ref = parseImageReference(`${registry.host}/bearer/app:1`);

  await pushImage(new RegistryClient({ dockerConfigPath: config }), image, ref);
  const pulled = await pullImage(new RegistryClient({ dockerConfigPath: config }), ref, AMD64, await temporaryStore(t));
  assert.equal(pulled.digest, image.digest);
  assert.deepEqual(server.tokenRequests, [['repository:bearer/app:pull,push'], ['repository:bearer/app:pull']]);
  assert.deepEqual(server.grants, ['basic', 'basic']);
  assert.deepEqual(server.accounts, [USER, USER], 'the account is named, as docker names it');
});

test('Bearer auth: a mount asks for pull on the source repository as well', async (t) => {
  let server!: BearerServer;
  const registry = await startRegistry(t, (app) => (server = requireBearer(app)));
  const config = await dockerConfig(t, { [registry.host]: { auth: base64(`${USER}:${PASSWORD}`) } });
  const client = new RegistryClient({ dockerConfigPath: config });
  const base = await testImage({ layers: [{ base: 'layer' }], label: 'base' });
  const baseRef = parseImageReference(`${registry.host}/base/os:1`);
  await pushImage(client, base, baseRef);

  const derived = await testImage({ layers: [{ base: 'layer' }], label: 'derived' });
  const outcomes: BlobUploadOutcome[] = [];
  await pushImage(client, derived, parseImageReference(`${registry.host}/team/app:1`), {
    mountFrom: baseRef,
    onBlob: (descriptor, outcome) => descriptor.digest === base.layers[0]!.descriptor.digest && outcomes.push(outcome),
  });
  assert.deepEqual(outcomes, ['mounted']);
  assert.ok(server.tokenRequests.some((scopes) => scopes.join(' ') === 'repository:base/os:pull repository:team/app:pull,push'), JSON.stringify(server.tokenRequests));
});

test('Bearer auth: a token the registry stops accepting is renewed and the request retried once', async (t) => {
  let server!: BearerServer;
  const registry = await startRegistry(t, (app) => (server = requireBearer(app)));
  const config = await dockerConfig(t, { [registry.host]: { username: USER, password: PASSWORD } });
  const client = new RegistryClient({ dockerConfigPath: config });
  const ref = parseImageReference(`${registry.host}/renew/app:1`);
  await pushImage(client, await testImage({ layers: [{ a: 'first' }] }), ref);
  server.revokeAll();
  await pushImage(client, await testImage({ layers: [{ a: 'second' }] }), ref);
  assert.equal(server.tokenRequests.length, 2);
});

test('Bearer auth: an identity token is exchanged for access tokens with a form POST', async (t) => {
  let server!: BearerServer;
  const registry = await startRegistry(t, (app) => (server = requireBearer(app, 'refresh-123')));
  const config = await dockerConfig(t, { [registry.host]: { auth: base64('<token>:'), identitytoken: 'refresh-123' } });
  const ref = parseImageReference(`${registry.host}/oauth/app:1`);
  const image = await testImage({ layers: [{ oauth: 'yes' }] });
  await pushImage(new RegistryClient({ dockerConfigPath: config }), image, ref);
  assert.equal((await pullImage(new RegistryClient({ dockerConfigPath: config }), ref, AMD64, await temporaryStore(t))).digest, image.digest);
  assert.deepEqual(server.grants, ['refresh_token', 'refresh_token']);
});

test('Bearer auth: without credentials the token server\'s refusal is reported', async (t) => {
  const registry = await startRegistry(t, (app) => requireBearer(app));
  const empty = await dockerConfig(t, {});
  await assert.rejects(
    pullImage(new RegistryClient({ dockerConfigPath: empty }), parseImageReference(`${registry.host}/private/app`), AMD64, await temporaryStore(t)),
    (error: unknown) => {
      assert.ok(error instanceof AuthenticationError);
      assert.match(error.message, /^token server http:\/\/127\.0\.0\.1:\d+\/token for 127\.0\.0\.1:\d+ refused an anonymous token \(401\) for scope repository:private\/app:pull$/);
      return true;
    },
  );
});

test('a blob redirected to another origin is fetched without the registry\'s credentials', async (t) => {
  const redirected: (string | undefined)[] = [];
  const registry = await startRegistry(t, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (request.url.endsWith('?from-redirect')) {
        redirected.push(request.headers.authorization);
        return;
      }
      if (request.method === 'GET' && request.url.includes('/blobs/')) {
        const port = request.headers.host!.split(':')[1];
        return reply.redirect(`http://localhost:${port}${request.url}?from-redirect`, 307);
      }
    });
    requireBasicUnlessRedirected(app);
  });
  const config = await dockerConfig(t, { [registry.host]: { auth: base64(`${USER}:${PASSWORD}`) } });
  const image = await testImage({ layers: [{ redirect: 'me' }] });
  const ref = parseImageReference(`${registry.host}/redirect/app:1`);
  await pushImage(new RegistryClient({ dockerConfigPath: config }), image, ref);
  const pulled = await pullImage(new RegistryClient({ dockerConfigPath: config }), ref, AMD64, await temporaryStore(t));
  assert.equal(pulled.digest, image.digest);
  assert.deepEqual(redirected, [undefined, undefined]);
});

// Storage a registry redirects to authenticates the URL itself (a signature), not the client.
function requireBasicUnlessRedirected(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v2') || request.url.endsWith('?from-redirect')) return;
    if (request.headers.authorization !== basicHeader(USER, PASSWORD)) return unauthorized(reply, 'Basic realm="wharf-test"');
  });
}
