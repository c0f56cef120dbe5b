// s3rver, a real S3-speaking HTTP server, run as its own process (s3rver-main.ts) on loopback with a
// temporary directory: what the S3 driver, the API suites on S3, the end-to-end tests and the benchmark talk to.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const S3RVER_MAIN = fileURLToPath(new URL('s3rver-main.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;

/**
 * What the AWS SDK (in this process or a `wharf serve` child) needs to talk to s3rver: the one key
 * pair s3rver knows, and no instance-metadata lookups, which would leave the machine.
 */
export const S3RVER_ENV: Readonly<Record<string, string>> = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_EC2_METADATA_DISABLED: 'true',
};

/** A running s3rver. */
export interface S3Server {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly child: ChildProcess;
  /** Where s3rver keeps the buckets. */
  readonly directory: string;
  /** Creates an empty bucket (again is fine) and returns the `--storage` URL of it, with `options` added. */
  bucket(name?: string, options?: Readonly<Record<string, string>>): Promise<string>;
  /**
   * The requests s3rver answered so far, as `METHOD /path?query[ (copy[ bytes=FIRST-LAST])] STATUS`
   * (only when started with `log`): a CopyObject says `(copy)`, an UploadPartCopy the range it copied.
   */
  requests(): string[];
  /** Forgets the requests seen so far. */
  clearRequests(): void;
  /** Stops the process and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts s3rver on a port of its choosing on 127.0.0.1. With `log`, it logs every request (which
 * costs it CPU) so that requests() can count them.
 */
export async function startS3Server(options: { log?: boolean } = {}): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), 'wharf-s3rver-'));
  const args = [S3RVER_MAIN, directory, ...(options.log ? ['--log'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let requests: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    output = (output + text).slice(-64 * 1024);
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.startsWith('request: ')) requests.push(line.slice('request: '.length));
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output = (output + text).slice(-64 * 1024)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const removeDirectory = () => rmSync(directory, { recursive: true, force: true });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const check = () => {
      const match = /S3rver listening on [\d.]+:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}) before listening:\n${output}`));
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    removeDirectory();
    throw error;
  });
  const endpoint = `http://127.0.0.1:${port}`;

  return {
    endpoint,
    child,
    directory,
    async bucket(name = `wharf-${randomBytes(6).toString('hex')}`, extra = {}) {
      // s3rver lets unsigned requests through; a real S3 would want them signed.
      const response = await fetch(`${endpoint}/${name}`, { method: 'PUT' });
      // 409: it exists already, which is what a restart on the same bucket wants.
      if (!response.ok && response.status !== 409) throw new Error(`creating bucket ${name}: ${response.status} ${await response.text()}`);
      const query = new URLSearchParams({ region: 'us-east-1', endpoint, forcePathStyle: 'true', ...extra });
      return `s3://${name}?${query}`;
    },
    requests: () => [...requests],
    clearRequests: () => {
      requests = [];
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      removeDirectory();
    },
  };
}

let shared: Promise<S3Server> | undefined;

/**
 * One s3rver for the whole test process, started on first use and killed (its directory removed)
 * when the process exits; the AWS SDK of this process is pointed at it through S3RVER_ENV.
 */
export function sharedS3Server(): Promise<S3Server> {
  shared ??= startS3Server().then((server) => {
    Object.assign(process.env, S3RVER_ENV);
    // Only synchronous work runs at exit.
    process.once('exit', () => {
      server.child.kill('SIGKILL');
      rmSync(server.directory, { recursive: true, force: true });
    });
    server.child.unref();
    (server.child.stdout as unknown as { unref?: () => void }).unref?.();
    (server.child.stderr as unknown as { unref?: () => void }).unref?.();
    return server;
  });
  return shared;
}
