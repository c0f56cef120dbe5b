import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB } from '../reference.js';

/** What `docker login` stored for a registry: a user and password, or an identity (refresh) token. */
export interface RegistryCredentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token, exchanged at the token server for access tokens. */
  readonly identityToken?: string;
}

interface AuthEntry {
  readonly auth?: string;
  readonly username?: string;
  readonly password?: string;
  readonly identitytoken?: string;
}

/** Where Docker keeps its client configuration: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function defaultDockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

/** The `auths` of a Docker config file, looked up by registry. A missing file means no credentials. */
export class DockerCredentials {
  private constructor(private readonly auths: ReadonlyMap<string, RegistryCredentials>) {}

  /** Reads the file; throws with the path when it exists but is not valid JSON. */
  static async load(path: string): Promise<DockerCredentials> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new DockerCredentials(new Map());
      throw error;
    }
    let auths: Record<string, AuthEntry>;
    try {
      auths = (JSON.parse(text) as { auths?: Record<string, AuthEntry> }).auths ?? {};
    } catch (error) {
      throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
    }
    const entries = new Map<string, RegistryCredentials>();
    for (const [key, entry] of Object.entries(auths)) {
      const credentials = credentialsOf(entry);
      if (credentials) entries.set(normalizeRegistry(key), credentials);
    }
    return new DockerCredentials(entries);
  }

  /** The credentials for a registry as references name it (`docker.io`, `localhost:5000`). */
  get(registry: string): RegistryCredentials | undefined {
    return this.auths.get(normalizeRegistry(registry));
  }
}

function credentialsOf(entry: AuthEntry): RegistryCredentials | undefined {
  let { username, password } = entry;
  if (entry.auth) {
    // base64("user:password"); the password may itself contain ':'.
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  }
  const identityToken = entry.identitytoken || undefined;
  if (username === undefined && identityToken === undefined) return undefined;
  return { username, password, identityToken };
}

// Keys are written as `host`, `https://host`, or for Docker Hub `https://index.docker.io/v1/`.
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', DOCKER_HUB]);

function normalizeRegistry(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}
