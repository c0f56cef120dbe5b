import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Platform } from '../shared/oci.js';
import { parseImageReference, ReferenceParseError } from '../shared/reference.js';

/** Where a build's image goes besides (or instead of) the registry. */
export type BuildOutput = { readonly type: 'docker'; readonly dest: string } | { readonly type: 'oci'; readonly dest: string };

/** Where a RUN step's network comes from: the host's (default, so package managers work) or none. */
export type NetworkMode = 'host' | 'none';

/** A `--secret`: what RUN --mount=type=secret,id=ID reads, from a file or an environment variable. */
export type SecretSource = { readonly id: string } & ({ readonly file: string } | { readonly env: string });

/** A `--cache-to` / `--cache-from` registry cache: the image reference holding it, and (export) which steps go in it. */
export interface RegistryCacheSpec {
  readonly ref: string;
  /** min: the final image's steps; max: every step of every stage built. */
  readonly mode: 'min' | 'max';
}

/** Everything `wharf build` was asked to do, validated. */
export interface BuildOptions {
  readonly context: string;
  readonly dockerfile: string;
  readonly tags: readonly string[];
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly target?: string;
  readonly noCache: boolean;
  readonly push: boolean;
  readonly outputs: readonly BuildOutput[];
  readonly iidfile?: string;
  readonly metadataFile?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly platform: Platform;
  readonly progress: 'auto' | 'plain' | 'tty';
  readonly quiet: boolean;
  readonly root: string;
  readonly insecureRegistries: readonly string[];
  /** PEM files of CAs trusted for every registry, besides the system's and certs.d's. */
  readonly registryCas: readonly string[];
  readonly compression: 'gzip' | 'zstd' | 'none';
  readonly sourceDateEpoch?: number;
  readonly network: NetworkMode;
  /** The OCI runtime binary that runs RUN steps (runc, crun, …). */
  readonly runtime: string;
  readonly secrets: readonly SecretSource[];
  readonly cacheTo: readonly RegistryCacheSpec[];
  readonly cacheFrom: readonly RegistryCacheSpec[];
}

/** A mistake in the command line; printed as one line. */
export class BuildUsageError extends Error {}

export const BUILD_USAGE = `Usage: wharf build [OPTIONS] CONTEXT

Builds an image from a Dockerfile, as docker build does.

Options:
  -t, --tag NAME[:TAG]            name the image (repeatable)
  -f, --file FILE                 the Dockerfile (default CONTEXT/Dockerfile)
      --build-arg K=V | K         set a build-time variable; a bare K takes it from the environment (repeatable)
      --target STAGE              build this stage and what it needs, not the last one
      --no-cache                  run every step, ignoring the build cache
      --push                      push every --tag to its registry
  -o, --output type=docker,dest=FILE | type=oci,dest=FILE
                                  write a docker load archive or an OCI image layout tar (repeatable)
      --iidfile FILE              write the image ID (the config digest) to FILE
      --metadata-file FILE        write JSON with the image and manifest digests to FILE
      --label K=V                 add a label to the image (repeatable)
      --platform OS/ARCH[/VARIANT]  the target platform (default linux/amd64)
      --progress auto|plain|tty   how to show progress (default auto: tty on a terminal)
  -q, --quiet                     print only the image ID
      --root DIR                  build state and cache (default ~/.local/share/wharf/build)
      --insecure-registry HOST[:PORT]  use HTTP or unverified TLS for this registry (repeatable;
                                  loopback registries are insecure by default, as in Docker)
      --registry-ca FILE          trust the CA certificates in this PEM file for every registry
                                  (repeatable; per registry: /etc/docker/certs.d/HOST[:PORT]/*.crt)
      --compression gzip|zstd|none  layer compression of outputs and pushes (default gzip)
      --network host|none         the network of RUN steps (default host; RUN --network= overrides)
      --runtime NAME              the OCI runtime that runs RUN steps (default runc)
      --secret id=ID,src=FILE | id=ID,env=VAR
                                  a secret for RUN --mount=type=secret (repeatable; never stored)
      --cache-to type=registry,ref=HOST/REPO:TAG[,mode=min|max]
                                  export the build cache to a registry (repeatable)
      --cache-from type=registry,ref=HOST/REPO:TAG
                                  reuse a build cache exported to a registry (repeatable)
  -h, --help                      show this help

Environment:
  DOCKER_CONFIG      the folder of config.json, whose credHelpers, credsStore and auths give registry credentials
  WHARF_CERTS_D      the per-registry TLS folder: HOST[:PORT]/*.crt CAs, *.cert + *.key client certificates
                     (default /etc/docker/certs.d)
  SOURCE_DATE_EPOCH  clamps created times and file mtimes for reproducible builds`;

/** Parses `wharf build` arguments; throws BuildUsageError. Returns undefined for --help. */
export function parseBuildOptions(args: string[], env: NodeJS.ProcessEnv): BuildOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        tag: { type: 'string', short: 't', multiple: true },
        file: { type: 'string', short: 'f' },
        'build-arg': { type: 'string', multiple: true },
        target: { type: 'string' },
        'no-cache': { type: 'boolean' },
        push: { type: 'boolean' },
        output: { type: 'string', short: 'o', multiple: true },
        iidfile: { type: 'string' },
        'metadata-file': { type: 'string' },
        label: { type: 'string', multiple: true },
        platform: { type: 'string' },
        progress: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        root: { type: 'string' },
        'insecure-registry': { type: 'string', multiple: true },
        'registry-ca': { type: 'string', multiple: true },
        compression: { type: 'string' },
        network: { type: 'string' },
        runtime: { type: 'string' },
        secret: { type: 'string', multiple: true },
        'cache-to': { type: 'string', multiple: true },
        'cache-from': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new BuildUsageError((error as Error).message.split('\n')[0]!);
  }
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  if (positionals.length !== 1) throw new BuildUsageError(`expects exactly one CONTEXT directory, got ${positionals.length}`);
  const context = resolve(positionals[0]!);
  const progress = values.progress ?? 'auto';
  if (progress !== 'auto' && progress !== 'plain' && progress !== 'tty') throw new BuildUsageError(`--progress must be auto, plain or tty, not "${progress}"`);
  const compression = values.compression ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'zstd' && compression !== 'none') {
    throw new BuildUsageError(`--compression must be gzip, zstd or none, not "${compression}"`);
  }
  const network = values.network ?? 'host';
  if (network !== 'host' && network !== 'none') throw new BuildUsageError(`--network must be host or none, not "${network}"`);
  if (values.runtime === '') throw new BuildUsageError('--runtime needs a program name');
  const tags = values.tag ?? [];
  if (values.push && tags.length === 0) throw new BuildUsageError('--push needs at least one --tag');
  return {
    context,
    dockerfile: values.file === undefined ? join(context, 'Dockerfile') : resolve(values.file),
    tags,
    buildArgs: parseBuildArgs(values['build-arg'] ?? [], env),
    target: values.target,
    noCache: values['no-cache'] ?? false,
    push: values.push ?? false,
    outputs: (values.output ?? []).map(parseOutput),
    iidfile: values.iidfile,
    metadataFile: values['metadata-file'],
    labels: Object.fromEntries((values.label ?? []).map((label) => keyValue(label, '--label'))),
    platform: parsePlatform(values.platform ?? 'linux/amd64'),
    progress,
    quiet: values.quiet ?? false,
    root: resolve(values.root ?? join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'wharf', 'build')),
    insecureRegistries: values['insecure-registry'] ?? [],
    registryCas: (values['registry-ca'] ?? []).map((file) => resolve(file)),
    compression,
    sourceDateEpoch: parseSourceDateEpoch(env.SOURCE_DATE_EPOCH),
    network,
    runtime: values.runtime ?? 'runc',
    secrets: (values.secret ?? []).map((spec) => parseSecret(spec, env)),
    cacheTo: (values['cache-to'] ?? []).map((spec) => parseRegistryCache(spec, '--cache-to')),
    cacheFrom: (values['cache-from'] ?? []).map((spec) => parseRegistryCache(spec, '--cache-from')),
  };
}

function parseBuildArgs(args: readonly string[], env: NodeJS.ProcessEnv): Map<string, string> {
  const result = new Map<string, string>();
  for (const arg of args) {
    const equals = arg.indexOf('=');
    if (equals === 0) throw new BuildUsageError(`--build-arg "${arg}" has no name`);
    if (equals > 0) {
      result.set(arg.slice(0, equals), arg.slice(equals + 1));
    } else if (env[arg] !== undefined) {
      // A bare name takes the value from the environment, and is left out when unset, as in docker build.
      result.set(arg, env[arg]!);
    }
  }
  return result;
}

function parseOutput(spec: string): BuildOutput {
  const fields = Object.fromEntries(spec.split(',').map((field) => keyValue(field, '--output')));
  const { type, dest } = fields;
  if (type !== 'docker' && type !== 'oci') throw new BuildUsageError(`--output "${spec}": type must be docker or oci`);
  if (!dest) throw new BuildUsageError(`--output "${spec}": needs dest=FILE`);
  return { type, dest: resolve(dest) };
}

function parseSecret(spec: string, env: NodeJS.ProcessEnv): SecretSource {
  const fields = Object.fromEntries(spec.split(',').map((field) => keyValue(field, '--secret')));
  const { id, src, source, env: variable, type } = fields;
  const file = src ?? source;
  if (!id) throw new BuildUsageError(`--secret "${spec}": needs id=ID`);
  if (type !== undefined && type !== 'file' && type !== 'env') throw new BuildUsageError(`--secret "${spec}": type must be file or env`);
  if (file && variable) throw new BuildUsageError(`--secret "${spec}": give src=FILE or env=VAR, not both`);
  if (variable || type === 'env') return { id, env: variable ?? id };
  // As buildx: a bare id names the environment variable of that name when it is set, else a file.
  if (!file && type === undefined && env[id] !== undefined) return { id, env: id };
  return { id, file: resolve(file ?? id) };
}

function parseRegistryCache(spec: string, flag: string): RegistryCacheSpec {
  const fields = Object.fromEntries(spec.split(',').map((field) => keyValue(field, flag)));
  if (fields.type !== 'registry') throw new BuildUsageError(`${flag} "${spec}": only type=registry is supported`);
  if (!fields.ref) throw new BuildUsageError(`${flag} "${spec}": needs ref=HOST/REPO:TAG`);
  try {
    parseImageReference(fields.ref);
  } catch (error) {
    if (!(error instanceof ReferenceParseError)) throw error;
    throw new BuildUsageError(`${flag} "${spec}": ${error.message}`);
  }
  const mode = fields.mode ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw new BuildUsageError(`${flag} "${spec}": mode must be min or max`);
  return { ref: fields.ref, mode };
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(spec: string): Platform {
  const [os, architecture, variant, extra] = spec.split('/');
  if (!os || !architecture || extra !== undefined) throw new BuildUsageError(`--platform "${spec}" is not OS/ARCH[/VARIANT]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

function keyValue(text: string, flag: string): [string, string] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new BuildUsageError(`${flag} "${text}" is not KEY=VALUE`);
  return [text.slice(0, equals), text.slice(equals + 1)];
}

function parseSourceDateEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new BuildUsageError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, not "${value}"`);
  return Number(value);
}
