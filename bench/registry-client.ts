/**
 * A minimal OCI distribution client on node:http with a keep-alive agent. Blob bodies are streamed,
 * never buffered, so the timed transfers measure the servers rather than the client's memory.
 */
import { createReadStream } from 'node:fs';
import http from 'node:http';
import type { Readable } from 'node:stream';
import { Sha256Worker } from './sha256-worker.js';

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface PullResult {
  ms: number;
  bytes: number;
  digest: string;
}

interface RequestOptions {
  headers?: http.OutgoingHttpHeaders;
  body?: Buffer | Readable;
}

export class RegistryClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  constructor(readonly baseUrl: string) {}

  close(): void {
    this.agent.destroy();
  }

  private url(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.baseUrl);
  }

  /** Sends a request; collects the response body (use only for small responses). */
  request(method: string, pathOrUrl: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(pathOrUrl);
    return new Promise<Response>((resolve, reject) => {
      const req = http.request(url, { method, agent: this.agent, headers: options.headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      const body = options.body;
      if (body === undefined) {
        req.end();
      } else if (Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        body.on('error', (err) => req.destroy(err));
        // If the server answers before reading the whole body, stop sending it.
        req.on('response', () => body.unpipe(req));
        req.on('close', () => body.destroy());
        body.pipe(req);
      }
    });
  }

  private async expect(method: string, pathOrUrl: string, statuses: number[], options?: RequestOptions): Promise<Response> {
    const res = await this.request(method, pathOrUrl, options);
    if (!statuses.includes(res.status)) {
      const text = res.body.toString('utf8').slice(0, 500);
      throw new Error(`${method} ${this.url(pathOrUrl).pathname}: expected ${statuses.join('/')}, got ${res.status} ${text}`);
    }
    return res;
  }

  /** POST /v2/<repo>/blobs/uploads/ and return the upload Location. */
  async startUpload(repo: string): Promise<string> {
    const res = await this.expect('POST', `/v2/${repo}/blobs/uploads/`, [202], { headers: { 'content-length': '0' } });
    const location = res.headers.location;
    if (!location) throw new Error(`POST /v2/${repo}/blobs/uploads/: 202 without a Location header`);
    return location;
  }

  private finishUrl(location: string, digest: string): string {
    const url = this.url(location);
    url.searchParams.set('digest', digest);
    return url.toString();
  }

  /** Monolithic push in two requests: POST for a session, then one PUT with the whole body. */
  async pushBlobFile(repo: string, path: string, size: number, digest: string): Promise<number> {
    const start = performance.now();
    const location = await this.startUpload(repo);
    await this.expect('PUT', this.finishUrl(location, digest), [201], {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: createReadStream(path, { highWaterMark: 1024 * 1024 }),
    });
    return performance.now() - start;
  }

  /**
   * Chunked push: POST, one PATCH per `chunkSize` bytes of the file (Content-Range, each streamed),
   * then an empty PUT ?digest=, as clients that upload in chunks do. With several clients in `via`
   * (instances of one registry), the requests go to each in turn.
   */
  async pushBlobFileChunked(repo: string, path: string, size: number, digest: string, chunkSize: number, via: RegistryClient[] = [this]): Promise<number> {
    const start = performance.now();
    let location = await via[0]!.startUpload(repo);
    let turn = 1;
    for (let offset = 0; offset < size; offset += chunkSize, turn++) {
      const end = Math.min(size, offset + chunkSize) - 1;
      const res = await via[turn % via.length]!.expect('PATCH', location, [202], {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - offset + 1), 'content-range': `${offset}-${end}` },
        body: createReadStream(path, { start: offset, end, highWaterMark: 1024 * 1024 }),
      });
      location = res.headers.location ?? location;
    }
    const last = via[turn % via.length]!;
    await last.expect('PUT', last.finishUrl(location, digest), [201], { headers: { 'content-length': '0' } });
    return performance.now() - start;
  }

  async pushBlobBuffer(repo: string, data: Buffer, digest: string): Promise<void> {
    const location = await this.startUpload(repo);
    await this.expect('PUT', this.finishUrl(location, digest), [201], {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      body: data,
    });
  }

  /**
   * GET a blob, consuming it as it arrives (nothing is kept) while a worker thread hashes it.
   * Follows up to 3 redirects. `ms` runs from the request to the last byte received.
   */
  async pullBlob(repo: string, digest: string): Promise<PullResult> {
    const hasher = new Sha256Worker();
    try {
      await hasher.ready();
      const start = performance.now();
      const attempt = (target: URL, redirectsLeft: number): Promise<{ ms: number; bytes: number }> =>
        new Promise((resolve, reject) => {
          const req = http.get(target, { agent: this.agent }, (res) => {
            const status = res.statusCode ?? 0;
            if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && redirectsLeft > 0) {
              res.resume();
              resolve(attempt(new URL(res.headers.location, target), redirectsLeft - 1));
              return;
            }
            if (status !== 200) {
              res.resume();
              reject(new Error(`GET ${target.pathname}: expected 200, got ${status}`));
              return;
            }
            let bytes = 0;
            res.on('data', (chunk: Buffer) => {
              hasher.update(chunk);
              bytes += chunk.length;
            });
            res.on('end', () => resolve({ ms: performance.now() - start, bytes }));
            res.on('error', reject);
          });
          req.on('error', reject);
        });
      const { ms, bytes } = await attempt(this.url(`/v2/${repo}/blobs/${digest}`), 3);
      return { ms, bytes, digest: await hasher.digest() };
    } finally {
      await hasher.close();
    }
  }

  async putManifest(repo: string, reference: string, mediaType: string, data: Buffer): Promise<Response> {
    return this.expect('PUT', `/v2/${repo}/manifests/${reference}`, [201], {
      headers: { 'content-type': mediaType, 'content-length': String(data.length) },
      body: data,
    });
  }

  async getManifest(repo: string, reference: string, accept: string): Promise<Response> {
    return this.request('GET', `/v2/${repo}/manifests/${reference}`, { headers: { accept } });
  }
}
