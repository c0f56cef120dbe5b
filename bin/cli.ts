// Every command of `wharf` run in this process (see wharf.ts for builds on the build server).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const USAGE = `Usage: wharf COMMAND [OPTIONS]

A container image builder and OCI registry.

Commands:
  build         Build an image from a Dockerfile
  serve         Run the registry (Docker Registry HTTP API v2 / OCI distribution-spec 1.1)
  reindex       Rebuild the registry's search index from its storage
  build-server  Keep the builder loaded between builds (started by 'wharf build' when needed)

Run 'wharf COMMAND --help' for a command's options.
Options:
  -h, --help     Show this help
  -v, --version  Show the version`;

const BUILD_SERVER_USAGE = `Usage: wharf build-server

Keeps the builder loaded between builds, as buildkitd does for docker build, so that a
'wharf build' costs node's start and not the loading of the builder. 'wharf build' starts
one when none answers (in the background: that build runs in its own process) and hands
its builds to it after. It runs one build at a time, as its client would have (working
directory, environment, umask); a build that finds it busy runs in its own process.

Environment:
  WHARF_BUILD_SERVER_IDLE  seconds without a build before it exits (default 600);
                           0: no server, every build runs in its own process
  WHARF_BUILD_SERVER_DIR   the directory of its socket, pid file and log, which must be
                           the user's alone (default $XDG_RUNTIME_DIR/wharf, else
                           $TMPDIR/wharf-build-UID)`;

type ServeConfigModule = typeof import('../registry/config.js');

/** The option rows of `--help` for these settings (all of serve's, or reindex's few). */
function settingRows({ SERVE_SETTINGS, envName }: ServeConfigModule, keys?: readonly string[]): string {
  const storageDefault = SERVE_SETTINGS.find((s) => s.key === 'storage')!.default(process.env, '');
  const rows = SERVE_SETTINGS.filter((s) => keys === undefined || keys.includes(s.key)).map((s) => {
    const flag = `--${s.key} ${s.value}`;
    return `  ${flag.padEnd(34)}${s.help}\n  ${''.padEnd(34)}env ${envName(s.key)}, default ${s.default(process.env, storageDefault) || 'none'}`;
  });
  return `${rows.join('\n')}
  ${'--config FILE'.padEnd(34)}YAML file of settings (keys as the flags, e.g. "addr: 127.0.0.1:5000")
  ${''.padEnd(34)}env WHARF_CONFIG
  ${'-h, --help'.padEnd(34)}Show this help`;
}

function serveUsage(settings: ServeConfigModule): string {
  return `Usage: wharf serve [OPTIONS]

Serves a registry. Each setting comes from its flag, else its environment variable,
else the YAML config file, else its default.

Options:
${settingRows(settings)}`;
}

/** The settings `wharf reindex` reads: where storage and the index are. */
const REINDEX_SETTINGS = ['storage', 'search-index'];

function reindexUsage(settings: ServeConfigModule): string {
  return `Usage: wharf reindex [OPTIONS]

Rebuilds the search index from storage, as \`wharf serve\` would find them (same flags,
variables and config file). If a running registry holds the index, every registry on the
storage is told to rebuild its own in the background instead.

Options:
${settingRows(settings, REINDEX_SETTINGS)}`;
}

// Why listen() can fail through no fault of the program: said in one line, not a stack trace.
const LISTEN_ERRORS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL']);

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command === '-v' || command === '--version' || command === 'version') {
    console.log(`wharf ${VERSION}`);
    return 0;
  }
  if (command === 'serve') return runServe(rest);
  if (command === 'build') return runBuild(rest);
  if (command === 'reindex') return runReindex(rest);
  if (command === 'build-server') return runBuildServer(rest);
  console.error(`wharf: unknown command "${command}" (see 'wharf --help')`);
  return 2;
}

/** A build in this process: no build server, or it is busy. */
async function runBuild(args: string[]): Promise<number> {
  // Each command loads only its own half: a build never pays for fastify, nor serve for the builder.
  const { runBuildCommand } = await import('../builder/build-command.js');
  return runBuildCommand(args, { stdout: process.stdout, stderr: process.stderr, env: process.env }, (stop) => {
    const interrupted = (signal: NodeJS.Signals) => {
      stop(signal);
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
  });
}

async function runBuildServer(args: string[]): Promise<number> {
  if (args.length > 0) {
    console.log(BUILD_SERVER_USAGE);
    return args.every((arg) => arg === '-h' || arg === '--help') ? 0 : 2;
  }
  const { runBuildServer } = await import('../builder/server/build-server.js');
  return runBuildServer();
}

/** `--KEY VALUE` settings, --config and --help of `wharf COMMAND`; undefined after printing what is wrong. */
function parseSettings(command: string, keys: readonly string[], args: string[]): Record<string, string | boolean | undefined> | undefined {
  const options = Object.fromEntries([
    ...keys.map((key) => [key, { type: 'string' as const }]),
    ['config', { type: 'string' as const }],
    ['help', { type: 'boolean' as const, short: 'h' }],
  ]);
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    console.error(`wharf ${command}: ${(error as Error).message.split('\n')[0]} (see 'wharf ${command} --help')`);
    return undefined;
  }
}

async function runServe(args: string[]): Promise<number> {
  // Loaded here, not at the top: its YAML parser is a cost every build would pay.
  const settings = await import('../registry/config.js');
  const { ConfigError, SERVE_SETTINGS, resolveServeConfig } = settings;
  const values = parseSettings('serve', SERVE_SETTINGS.map((setting) => setting.key), args);
  if (values === undefined) return 2;
  if (values.help) {
    console.log(serveUsage(settings));
    return 0;
  }
  try {
    const config = resolveServeConfig(values as Record<string, string | undefined>, process.env);
    const { serve } = await import('../registry/server.js');
    await serve(config);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`wharf serve: ${error.message}`);
      return 2;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && LISTEN_ERRORS.has(code)) {
      console.error(`wharf serve: cannot listen: ${(error as Error).message}`);
      return 1;
    }
    throw error;
  }
}

async function runReindex(args: string[]): Promise<number> {
  const settings = await import('../registry/config.js');
  const { ConfigError, resolveServeConfig } = settings;
  const values = parseSettings('reindex', REINDEX_SETTINGS, args);
  if (values === undefined) return 2;
  if (values.help) {
    console.log(reindexUsage(settings));
    return 0;
  }
  try {
    const config = resolveServeConfig(values as Record<string, string | undefined>, process.env);
    if (config.searchIndex === 'memory://') {
      console.error('wharf reindex: the search index is in memory (memory://): a registry builds it at every start');
      return 2;
    }
    const [{ openStorage }, { reindex }] = await Promise.all([import('../registry/storage/open-storage.js'), import('../registry/search/reindex.js')]);
    const storage = await openStorage(config.storage);
    const outcome = await reindex(storage, config.searchIndex);
    if (!outcome.rebuilt) {
      console.log(outcome.reason);
      return 0;
    }
    const { repositories, manifests, tags, seconds } = outcome;
    console.log(`indexed ${repositories} repositories (${manifests} manifests, ${tags} tags) from ${storage.name} into ${config.searchIndex} in ${seconds.toFixed(2)} s`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`wharf reindex: ${error.message}`);
      return 2;
    }
    // Storage or the index file could not be read or written: one line, as for a build.
    console.error(`wharf reindex: ${(error as Error).message}`);
    if (process.env.WHARF_DEBUG) console.error(error);
    return 1;
  }
}

