import type { OutgoingHttpHeaders } from 'node:http';
import type { Digest } from '../../shared/digest.js';
import { RegistryError } from '../errors.js';
import { digestParameter, repositoryName, type RequestContext } from './context.js';

/** HEAD /v2/<name>/blobs/<digest> */
export async function headBlob(ctx: RequestContext): Promise<void> {
  const { size, digest } = await blobInRepository(ctx);
  ctx.reply.headers(blobHeaders(digest, size)).send();
}

/** GET /v2/<name>/blobs/<digest>, whole or one byte range; or a 307 to the storage's own URL for it. */
export async function getBlob(ctx: RequestContext): Promise<void> {
  const { size, digest } = await blobInRepository(ctx);
  const redirect = await ctx.registry.blobs.redirectUrl(digest);
  if (redirect !== undefined) {
    // The client repeats any Range there; the storage answers it.
    ctx.reply.code(307).headers({ location: redirect, 'docker-content-digest': digest, 'content-length': 0 }).send();
    return;
  }
  const range = ctx.request.headers.range;
  // RFC 9110 lets a server ignore a Range it does not serve (other units, several ranges): send it all.
  if (range === undefined || !/^bytes=\d*-\d*$/.test(range.trim())) {
    await sendBlob(ctx, 200, blobHeaders(digest, size), digest, 0, size);
    return;
  }
  // Set first so a 416 tells the client the size, as RFC 9110 asks.
  ctx.reply.header('content-range', `bytes */${size}`);
  const { start, end } = parseByteRange(range, size);
  const headers = { ...blobHeaders(digest, end - start + 1), 'content-range': `bytes ${start}-${end}/${size}` };
  await sendBlob(ctx, 206, headers, digest, start, end - start + 1);
}

/** DELETE /v2/<name>/blobs/<digest> — unlinks the blob from the repository. */
export async function deleteBlob(ctx: RequestContext): Promise<void> {
  await ctx.registry.blobs.unlink(repositoryName(ctx), digestParameter(ctx.params.digest));
  ctx.reply.code(202).header('content-length', 0).send();
}

/**
 * Writes the response itself rather than through fastify, so the storage driver can copy into the
 * socket with reused buffers (2-3x less CPU per byte than a read stream on a 1 GiB pull).
 */
async function sendBlob(ctx: RequestContext, status: number, headers: Record<string, string | number>, digest: Digest, offset: number, length: number) {
  ctx.reply.hijack();
  const response = ctx.reply.raw;
  response.writeHead(status, { ...ctx.reply.getHeaders(), ...headers } as OutgoingHttpHeaders);
  try {
    await ctx.registry.blobs.copyTo(digest, response, offset, length);
    response.end();
  } catch (error) {
    // Headers are gone already: all that is left is to cut the response short.
    response.destroy();
    if (!ctx.request.raw.destroyed) ctx.request.log.error({ err: error, digest }, 'sending blob failed');
  }
}

async function blobInRepository(ctx: RequestContext) {
  const name = repositoryName(ctx);
  const digest = digestParameter(ctx.params.digest);
  const size = await ctx.registry.blobs.size(name, digest);
  if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} not known in ${name}`, { digest });
  return { size, digest };
}

function blobHeaders(digest: string, length: number): Record<string, string | number> {
  return {
    'content-type': 'application/octet-stream',
    'content-length': length,
    'docker-content-digest': digest,
    etag: `"${digest}"`,
    'accept-ranges': 'bytes',
    'cache-control': 'max-age=31536000',
  };
}

/** The one range of a `Range: bytes=…` header (start-end, start-, or -suffix); throws RANGE_INVALID (416). */
function parseByteRange(header: string, size: number): { start: number; end: number } {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = () => new RegistryError('RANGE_INVALID', `range "${header}" is not satisfiable for ${size} bytes`, { size });
  if (!match || (match[1] === '' && match[2] === '')) throw unsatisfiable();
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start > end || start >= size) throw unsatisfiable();
  return { start, end };
}
