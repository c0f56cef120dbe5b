import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB } from '../reference.js';
import { credentialHelperSource, runCredentialHelper } from './credential-helper.js';

/** What `docker login` stored for a registry: a user and password, or an identity (refresh) token. */
export interface RegistryCredentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token, exchanged at the token server for access tokens. */
  readonly identityToken?: string;
  /** Where they came from, for error messages: the config file's path or `credential helper docker-credential-NAME`. */
  readonly source: string;
}

interface AuthEntry {
  readonly auth?: string;
  readonly username?: string;
  readonly password?: string;
  readonly identitytoken?: string;
}

/** The parts of config.json that say where credentials are. */
interface DockerConfigFile {
  readonly auths?: Record<string, AuthEntry>;
  /** The credential helper for every registry without its own in credHelpers. */
  readonly credsStore?: string;
  /** Registry → credential helper, winning over credsStore. */
  readonly credHelpers?: Record<string, string>;
}

/** Where Docker keeps its client configuration: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function defaultDockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

// docker/cli asks helpers for Docker Hub under the v1 index address, and for any other registry under its host.
const DOCKER_HUB_SERVER_URL = 'https://index.docker.io/v1/';

/**
 * The credentials of a Docker config file, looked up by registry as docker/cli does: a registry's
 * helper from `credHelpers`, else the `credsStore` helper, else its `auths` entry. A configured
 * helper is the only source for its registries (its "not found" means anonymous), and it runs only
 * when a registry asks for credentials, once per registry. A missing file means no credentials.
 */
export class DockerCredentials {
  private readonly lookups = new Map<string, Promise<RegistryCredentials | undefined>>();

  private constructor(
    private readonly path: string,
    private readonly auths: ReadonlyMap<string, RegistryCredentials>,
    private readonly credsStore: string | undefined,
    private readonly credHelpers: ReadonlyMap<string, string>,
  ) {}

  /** Reads the file; throws with the path when it exists but is not valid JSON. */
  static async load(path: string): Promise<DockerCredentials> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new DockerCredentials(path, new Map(), undefined, new Map());
      throw error;
    }
    let config: DockerConfigFile;
    try {
      config = JSON.parse(text) as DockerConfigFile;
    } catch (error) {
      throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
    }
    const auths = new Map<string, RegistryCredentials>();
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
      const credentials = credentialsOf(entry, path);
      if (credentials) auths.set(normalizeRegistry(key), credentials);
    }
    const credHelpers = new Map(Object.entries(config.credHelpers ?? {}).filter(([, helper]) => helper).map(([key, helper]) => [normalizeRegistry(key), helper]));
    return new DockerCredentials(path, auths, config.credsStore || undefined, credHelpers);
  }

  /** The credentials for a registry as references name it (`docker.io`, `localhost:5000`), or undefined for none. */
  get(registry: string): Promise<RegistryCredentials | undefined> {
    const key = normalizeRegistry(registry);
    let lookup = this.lookups.get(key);
    if (!lookup) {
      const helper = this.helperFor(key);
      lookup = helper === undefined ? Promise.resolve(this.auths.get(key)) : runCredentialHelper(helper, key === DOCKER_HUB ? DOCKER_HUB_SERVER_URL : key);
      this.lookups.set(key, lookup);
    }
    return lookup;
  }

  /** Where credentials for `registry` are looked up, as errors name it: a credential helper or the file. */
  sourceFor(registry: string): string {
    const helper = this.helperFor(normalizeRegistry(registry));
    return helper === undefined ? this.path : credentialHelperSource(helper);
  }

  private helperFor(key: string): string | undefined {
    return this.credHelpers.get(key) ?? this.credsStore;
  }
}

function credentialsOf(entry: AuthEntry, source: string): RegistryCredentials | undefined {
  let { username, password } = entry;
  if (entry.auth) {
    // base64("user:password"); the password may itself contain ':'.
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  }
  const identityToken = entry.identitytoken || undefined;
  if (username === undefined && identityToken === undefined) return undefined;
  return { username, password, identityToken, source };
}

// Keys are written as `host`, `https://host`, or for Docker Hub `https://index.docker.io/v1/`.
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', DOCKER_HUB]);

function normalizeRegistry(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}
