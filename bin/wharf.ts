#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, envName, resolveServeConfig, SERVE_SETTINGS } from '../registry/config.js';
import { serve } from '../registry/server.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const USAGE = `Usage: wharf COMMAND [OPTIONS]

A container image builder and OCI registry.

Commands:
  serve     Run the registry (Docker Registry HTTP API v2 / OCI distribution-spec 1.1)

Run 'wharf COMMAND --help' for a command's options.
Options:
  -h, --help     Show this help
  -v, --version  Show the version`;

function serveUsage(): string {
  const rows = SERVE_SETTINGS.map((s) => {
    const flag = `--${s.key} ${s.value}`;
    return `  ${flag.padEnd(34)}${s.help}\n  ${''.padEnd(34)}env ${envName(s.key)}, default ${s.default(process.env)}`;
  });
  return `Usage: wharf serve [OPTIONS]

Serves a registry. Each setting comes from its flag, else its environment variable,
else the YAML config file, else its default.

Options:
${rows.join('\n')}
  ${'--config FILE'.padEnd(34)}YAML file of settings (keys as the flags, e.g. "addr: 127.0.0.1:5000")
  ${''.padEnd(34)}env WHARF_CONFIG
  ${'-h, --help'.padEnd(34)}Show this help`;
}

// Why listen() can fail through no fault of the program: said in one line, not a stack trace.
const LISTEN_ERRORS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL']);

async function main(argv: string[]): Promise<number> {
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
  console.error(`wharf: unknown command "${command}" (see 'wharf --help')`);
  return 2;
}

async function runServe(args: string[]): Promise<number> {
  const options = Object.fromEntries([
    ...SERVE_SETTINGS.map((s) => [s.key, { type: 'string' as const }]),
    ['config', { type: 'string' as const }],
    ['help', { type: 'boolean' as const, short: 'h' }],
  ]);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (error) {
    console.error(`wharf serve: ${(error as Error).message.split('\n')[0]} (see 'wharf serve --help')`);
    return 2;
  }
  if (values.help) {
    console.log(serveUsage());
    return 0;
  }
  try {
    await serve(resolveServeConfig(values as Record<string, string | undefined>, process.env));
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

process.exitCode = await main(process.argv.slice(2));
