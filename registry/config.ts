import { homedir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SigningKeySource } from './auth/token-signing-key.js';
import { DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from './http-limits.js';
import { readYamlFile } from './setting-file.js';

/** Everything `wharf serve` can be told. */
export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  readonly storage: string;
  /** The search index file, or `memory://`. */
  readonly searchIndex: string;
  readonly logLevel: string;
  readonly uploadPurgeAgeMs: number;
  readonly uploadPurgeIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  /** The certificate (chain) and key files to serve TLS with; none is insecure-registry mode, plain HTTP. */
  readonly tls?: TlsFiles;
  /** How long a client may take to send a request's headers. */
  readonly headerTimeoutMs: number;
  /** How long a connection may wait on its client with no byte moving before it is cut. */
  readonly idleTimeoutMs: number;
  readonly auth: AuthSettings;
}

export const AUTH_MODES = ['none', 'basic', 'token'] as const;

/** Who may use the registry: how callers authenticate, and the files that say who they are and what they may do. */
export interface AuthSettings {
  readonly mode: (typeof AUTH_MODES)[number];
  /** The Apache htpasswd file of the users (bcrypt entries). */
  readonly htpasswd?: string;
  /** The YAML access policy; without one, authenticated users may do everything and anonymous callers nothing. */
  readonly access?: string;
  /** Token mode: where the signing key is. */
  readonly tokenKey: SigningKeySource;
  readonly tokenTtlMs: number;
  /** The Basic realm, and the token service (the audience of tokens). */
  readonly service: string;
  /** Token mode: the token endpoint clients are sent to, when not this registry's own /auth/token. */
  readonly realm?: string;
}

/** PEM files: the server's certificate followed by its intermediates, and its private key. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A setting that cannot be used; `wharf serve` prints it as one line and exits. */
export class ConfigError extends Error {}

interface Setting {
  /** The flag (`--addr`), the environment variable (`WHARF_ADDR`) and the YAML key (`addr`) derive from this. */
  readonly key: string;
  readonly value: string;
  /** The default, which may depend on the storage setting. */
  readonly default: (env: NodeJS.ProcessEnv, storage: string) => string;
  readonly help: string;
}

/** The settings of `wharf serve`, in the order `--help` lists them. */
export const SERVE_SETTINGS: readonly Setting[] = [
  { key: 'addr', value: 'HOST:PORT', default: () => '0.0.0.0:5000', help: 'address to listen on' },
  {
    key: 'storage',
    value: 'PATH|URL',
    default: (env) => join(dataHome(env), 'wharf', 'registry'),
    help: 'where blobs and manifests live: a directory (or file:///dir), s3://BUCKET[/PREFIX]?region=…, or memory:// (lost on exit)',
  },
  {
    key: 'search-index',
    value: 'FILE',
    default: (env, storage) => localStateFile(storage, env, 'search-index.db', 'search'),
    help: 'the search index (SQLite, rebuilt from storage when absent or outdated); memory:// keeps it in memory',
  },
  { key: 'log-level', value: 'LEVEL', default: () => 'info', help: 'fatal, error, warn, info (one line per request), debug or trace' },
  { key: 'upload-purge-age', value: 'DURATION', default: () => '168h', help: 'delete upload sessions older than this' },
  { key: 'upload-purge-interval', value: 'DURATION', default: () => '1h', help: 'how often to look for old upload sessions' },
  { key: 'shutdown-timeout', value: 'DURATION', default: () => '30s', help: 'on SIGTERM, how long in-flight requests may take to finish' },
  { key: 'tls-cert', value: 'FILE', default: () => '', help: 'serve HTTPS with this PEM certificate, followed by its intermediates (with --tls-key)' },
  { key: 'tls-key', value: 'FILE', default: () => '', help: 'the PEM private key of --tls-cert' },
  { key: 'header-timeout', value: 'DURATION', default: () => `${DEFAULT_HEADER_TIMEOUT_MS / 1000}s`, help: "how long a client may take to send a request's headers" },
  {
    key: 'idle-timeout',
    value: 'DURATION',
    default: () => `${DEFAULT_IDLE_TIMEOUT_MS / 1000}s`,
    help: 'cut a connection whose client sends or reads nothing for this long (a stalled upload or download)',
  },
  { key: 'auth', value: 'none|basic|token', default: () => '', help: 'how callers authenticate: none, basic (Basic credentials; the default with --htpasswd) or token (Bearer tokens from /auth/token)' },
  { key: 'htpasswd', value: 'FILE', default: () => '', help: 'the users: an Apache htpasswd file of bcrypt entries (htpasswd -B)' },
  { key: 'access', value: 'FILE', default: () => '', help: 'the access policy (YAML rules of repos, users, actions); without it users may do everything, anonymous callers nothing' },
  {
    key: 'token-key',
    value: 'FILE',
    default: (env, storage) => localStateFile(storage, env, 'token-key.pem', 'token-keys'),
    help: 'the PEM private key that signs tokens (EC, RSA or Ed25519); made on first start when it is the default; memory:// makes one per start',
  },
  { key: 'token-ttl', value: 'DURATION', default: () => '5m', help: 'how long an access token lasts' },
  { key: 'service', value: 'NAME', default: () => 'wharf', help: 'the Basic realm and the token service name (the audience of tokens)' },
  { key: 'realm', value: 'URL', default: () => '', help: "the token endpoint clients are sent to (default: this registry's own /auth/token, as the client reached it)" },
];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function envName(key: string): string {
  return `WHARF_${key.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * Resolves every setting: flag, then WHARF_* environment variable, then the YAML file named by
 * --config (or WHARF_CONFIG), then the default. Throws ConfigError naming the bad setting.
 */
export function resolveServeConfig(flags: Readonly<Record<string, string | undefined>>, env: NodeJS.ProcessEnv): ServeConfig {
  const configSource = flags.config !== undefined ? '--config' : 'WHARF_CONFIG';
  const configPath = flags.config ?? (env.WHARF_CONFIG || undefined);
  const file = configPath === undefined ? {} : readConfigFile(configPath, configSource);
  // `storage` is what a default may depend on (the search index's does).
  const value = (key: string, storage = ''): { value: string; source: string } => {
    if (flags[key] !== undefined) return { value: flags[key]!, source: `--${key}` };
    const fromEnv = env[envName(key)];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: envName(key) };
    // A key left empty in YAML (`storage:`) is null: unset, not the text "null".
    if (file[key] !== undefined && file[key] !== null) return { value: String(file[key]), source: `${key} in ${configPath}` };
    return { value: SERVE_SETTINGS.find((s) => s.key === key)!.default(env, storage), source: `default ${key}` };
  };
  const storage = value('storage').value;
  if (storage === '') throw new ConfigError('storage: must not be empty');
  const addr = value('addr');
  const { host, port } = parseAddress(addr.value, addr.source);
  const logLevel = value('log-level');
  if (!LOG_LEVELS.includes(logLevel.value)) {
    throw new ConfigError(`${logLevel.source}: unknown log level "${logLevel.value}" (use ${LOG_LEVELS.join(', ')})`);
  }
  const duration = (key: string, { positive }: { positive: boolean }) => {
    const v = value(key);
    const ms = parseDuration(v.value, v.source);
    if (positive && ms === 0) throw new ConfigError(`${v.source}: must be longer than 0`);
    return ms;
  };
  const searchIndex = value('search-index', storage);
  if (searchIndex.value === '') throw new ConfigError(`${searchIndex.source}: must not be empty`);
  return {
    host,
    port,
    tls: tlsFiles(value('tls-cert'), value('tls-key')),
    storage,
    searchIndex: indexPath(searchIndex.value),
    logLevel: logLevel.value,
    uploadPurgeAgeMs: duration('upload-purge-age', { positive: true }),
    uploadPurgeIntervalMs: duration('upload-purge-interval', { positive: true }),
    shutdownTimeoutMs: duration('shutdown-timeout', { positive: false }),
    headerTimeoutMs: duration('header-timeout', { positive: true }),
    idleTimeoutMs: duration('idle-timeout', { positive: true }),
    auth: authSettings(value, storage, duration('token-ttl', { positive: true })),
  };
}

type SettingValue = { value: string; source: string };

/** The authentication settings, checked together: a file for a mode that does not read it is a mistake. */
function authSettings(value: (key: string, storage?: string) => SettingValue, storage: string, tokenTtlMs: number): AuthSettings {
  const htpasswd = value('htpasswd');
  const access = value('access');
  const auth = value('auth');
  const mode = auth.value === '' ? (htpasswd.value === '' ? 'none' : 'basic') : auth.value;
  if (!(AUTH_MODES as readonly string[]).includes(mode)) throw new ConfigError(`${auth.source}: unknown mode "${mode}" (use ${AUTH_MODES.join(', ')})`);
  if (mode === 'basic' && htpasswd.value === '') throw new ConfigError(`${auth.source}: basic needs --htpasswd FILE (the users)`);
  for (const file of [htpasswd, access]) {
    if (mode === 'none' && file.value !== '') throw new ConfigError(`${file.source}: needs --auth basic or token (${auth.source} is none: everyone may do everything)`);
  }
  const realm = value('realm');
  if (realm.value !== '' && !/^https?:\/\/[^/\s]+/.test(realm.value)) throw new ConfigError(`${realm.source}: "${realm.value}" is not an http(s) URL`);
  const service = value('service');
  if (service.value === '') throw new ConfigError(`${service.source}: must not be empty`);
  const tokenKey = value('token-key', storage);
  return {
    mode: mode as AuthSettings['mode'],
    ...(htpasswd.value === '' ? {} : { htpasswd: htpasswd.value }),
    ...(access.value === '' ? {} : { access: access.value }),
    // The default key file is made on first start; one that was named must exist.
    tokenKey: tokenKey.value === 'memory://' ? {} : { file: tokenKey.value, create: tokenKey.source.startsWith('default') },
    tokenTtlMs,
    service: service.value,
    ...(realm.value === '' ? {} : { realm: realm.value }),
  };
}

/** Both TLS files or neither: one alone is a mistake, not a request for plain HTTP. */
function tlsFiles(cert: { value: string; source: string }, key: { value: string; source: string }): TlsFiles | undefined {
  if (cert.value === '' && key.value === '') return undefined;
  if (key.value === '') throw new ConfigError(`${cert.source}: needs --tls-key too (the certificate's private key)`);
  if (cert.value === '') throw new ConfigError(`${key.source}: needs --tls-cert too (the certificate the key belongs to)`);
  return { certFile: cert.value, keyFile: key.value };
}

function dataHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
}

/**
 * Where a file of the registry's own state (search index, token key) lives unless told: inside a
 * storage directory as `name` (beside blobs/ and repositories/), in memory for memory storage, else
 * (an object store) in the local data directory's `folder`, named after the storage URL.
 */
function localStateFile(storage: string, env: NodeJS.ProcessEnv, name: string, folder: string): string {
  if (storage === 'memory://') return 'memory://';
  if (storage.startsWith('file://')) return join(fileURLToPath(storage), name);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(storage)) return join(dataHome(env), 'wharf', folder, `${storage.replace(/[^a-zA-Z0-9.-]+/g, '_')}${extname(name)}`);
  return join(storage, name);
}

/** A search-index setting as a file path (file:///path is one too), or memory://. */
function indexPath(setting: string): string {
  return setting.startsWith('file://') ? fileURLToPath(setting) : setting;
}

function readConfigFile(path: string, source: string): Record<string, unknown> {
  const fail = (why: string) => new ConfigError(`${source} ${path}: ${why}`);
  const parsed = readYamlFile(path, fail);
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw fail('must be a mapping of setting: value');
  const known = new Set(SERVE_SETTINGS.map((s) => s.key));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw fail(`unknown setting "${key}"`);
  }
  return parsed as Record<string, unknown>;
}

function parseAddress(value: string, source: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new ConfigError(`${source}: "${value}" is not HOST:PORT (e.g. 0.0.0.0:5000 or [::1]:5000)`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `30m`, `168h`, `7d` or a mix like `1h30m` into milliseconds. */
export function parseDuration(value: string, source: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) {
    throw new ConfigError(`${source}: "${value}" is not a duration (e.g. 30s, 15m, 168h, 7d)`);
  }
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * DURATION_UNITS[unit!]!, 0);
}
