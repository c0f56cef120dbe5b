import { readdir, readFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { InsecureRegistries } from './insecure-registries.js';

/** Docker's per-registry TLS folder, `/etc/docker/certs.d`; `WHARF_CERTS_D` puts it elsewhere (a user without root, tests). */
export function defaultCertsDirectory(): string {
  return process.env.WHARF_CERTS_D || '/etc/docker/certs.d';
}

/** A registry's TLS material could not be read or used. */
export class RegistryTlsError extends Error {}

export interface RegistryTlsOptions {
  readonly insecure: InsecureRegistries;
  /** Holds `HOST[:PORT]/` folders of `*.crt` CAs and `*.cert` + `*.key` client certificates. */
  readonly certsDirectory: string;
  /** PEM files of CAs trusted for every registry, besides the system's. */
  readonly caFiles: readonly string[];
}

/** What a host's folder in the certs directory holds. */
interface HostTlsFiles {
  readonly cas: string[];
  readonly clientCertificate?: { readonly cert: string; readonly key: string };
}

// Shared keep-alive pools for the hosts that need nothing of their own: most of them.
const DEFAULT_AGENTS = {
  verified: new https.Agent({ keepAlive: true }),
  unverified: new https.Agent({ keepAlive: true, rejectUnauthorized: false }),
};

/**
 * How each registry host is reached over HTTPS, as Docker sets it up: the system's CAs plus the
 * `caFiles` and the host's `CERTS_DIR/HOST[:PORT]/*.crt`, the client certificate of its `*.cert` and
 * `*.key` pair, and no verification for insecure registries. Each host's folder is read once.
 */
export class RegistryTls {
  private readonly agents = new Map<string, Promise<https.Agent>>();
  private extraCas?: Promise<string[]>;

  constructor(private readonly options: RegistryTlsOptions) {}

  /** The agent for requests to `host` (`HOST[:PORT]`, as in a URL). */
  agentFor(host: string): Promise<https.Agent> {
    let agent = this.agents.get(host);
    if (!agent) {
      agent = this.createAgent(host);
      this.agents.set(host, agent);
    }
    return agent;
  }

  private async createAgent(host: string): Promise<https.Agent> {
    const verify = !this.options.insecure.has(host);
    const directory = join(this.options.certsDirectory, host);
    const [files, extraCas] = await Promise.all([readHostFolder(directory), this.readExtraCas()]);
    const cas = [...extraCas, ...files.cas];
    if (cas.length === 0 && !files.clientCertificate) return verify ? DEFAULT_AGENTS.verified : DEFAULT_AGENTS.unverified;
    let secureContext;
    try {
      // Made once, here, naming the files if they are unusable; every connection to the host reuses it.
      secureContext = createSecureContext({
        // A `ca` list replaces Node's roots (and NODE_EXTRA_CA_CERTS), so they are listed too.
        ...(cas.length > 0 ? { ca: [...rootCertificates, ...(await nodeExtraCas()), ...cas] } : {}),
        ...files.clientCertificate,
      });
    } catch (error) {
      throw new RegistryTlsError(`cannot use the TLS files for ${host} (${directory}, ${this.options.caFiles.join(', ') || 'no other CA files'}): ${(error as Error).message}`);
    }
    return new https.Agent({ keepAlive: true, secureContext, rejectUnauthorized: verify });
  }

  private readExtraCas(): Promise<string[]> {
    this.extraCas ??= Promise.all(
      this.options.caFiles.map((file) =>
        readFile(file, 'utf8').catch((error: Error) => {
          throw new RegistryTlsError(`cannot read the CA file ${file}: ${error.message}`);
        }),
      ),
    );
    return this.extraCas;
  }
}

/**
 * Reads a host's folder as Docker's ReadCertsDirectory does: every `*.crt` is a CA; a `*.cert` needs
 * the `*.key` of the same name and the other way round. A missing folder holds nothing.
 */
async function readHostFolder(directory: string): Promise<HostTlsFiles> {
  let names: string[];
  try {
    names = (await readdir(directory)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { cas: [] };
    throw new RegistryTlsError(`cannot read ${directory}: ${(error as Error).message}`);
  }
  const read = (name: string) => readFile(join(directory, name), 'utf8');
  const cas = await Promise.all(names.filter((name) => name.endsWith('.crt')).map(read));
  const pairs: string[] = [];
  for (const name of names) {
    if (name.endsWith('.cert') && !names.includes(`${name.slice(0, -'.cert'.length)}.key`)) {
      throw new RegistryTlsError(`${directory}: client certificate ${name} has no key ${name.slice(0, -'.cert'.length)}.key (CA certificates end in .crt)`);
    }
    if (name.endsWith('.key') && !names.includes(`${name.slice(0, -'.key'.length)}.cert`)) {
      throw new RegistryTlsError(`${directory}: key ${name} has no client certificate ${name.slice(0, -'.key'.length)}.cert`);
    }
    if (name.endsWith('.cert')) pairs.push(name.slice(0, -'.cert'.length));
  }
  // A TLS client presents one certificate; Docker offers the first that suits the server, we the first by name.
  const first = pairs[0];
  if (first === undefined) return { cas };
  const [cert, key] = await Promise.all([read(`${first}.cert`), read(`${first}.key`)]);
  return { cas, clientCertificate: { cert, key } };
}

/** The CAs Node adds from NODE_EXTRA_CA_CERTS, which an explicit `ca` list would otherwise drop. */
async function nodeExtraCas(): Promise<string[]> {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  // Node itself only warns when the file cannot be read.
  return readFile(file, 'utf8').then((pem) => [pem], () => []);
}
