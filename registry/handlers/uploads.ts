import { parseDigest, type Digest } from '../../shared/digest.js';
import { isRepositoryName } from '../../shared/repository-name.js';
import { RegistryError } from '../errors.js';
import { allowAll } from '../pull-access.js';
import type { ChunkBounds } from '../uploads.js';
import { digestParameter, hasBody, repositoryName, type RequestContext } from './context.js';

/**
 * POST /v2/<name>/blobs/uploads/ — mounts a blob from another repository (`mount`, `from`), takes
 * a whole blob in one request (`digest`), or starts an upload session.
 */
export async function startUpload(ctx: RequestContext): Promise<void> {
  const name = repositoryName(ctx);
  const { mount, from, digest } = ctx.query;
  if (mount !== undefined && (await mountBlob(ctx, name, mount, from))) return;

  const id = await ctx.registry.uploads.start(name);
  if (digest !== undefined) {
    // The session exists only for this request: whatever goes wrong, no client can resume it.
    try {
      const expected = digestParameter(digest);
      await ctx.registry.uploads.complete(name, id, expected, { body: ctx.request.raw, bounds: chunkBounds(ctx) });
      sendBlobCreated(ctx, name, expected);
    } catch (error) {
      await ctx.registry.uploads.cancel(name, id).catch(() => {});
      throw error;
    }
    return;
  }
  ctx.reply.code(202).headers(sessionHeaders(name, id, 0)).send();
}

/** GET /v2/<name>/blobs/uploads/<id> — how much the session has received. */
export async function uploadStatus(ctx: RequestContext): Promise<void> {
  const name = repositoryName(ctx);
  const offset = await ctx.registry.uploads.offset(name, ctx.params.id!);
  ctx.reply.code(204).headers(sessionHeaders(name, ctx.params.id!, offset)).send();
}

/** PATCH /v2/<name>/blobs/uploads/<id> — appends a streamed or `Content-Range` chunk. */
export async function patchUpload(ctx: RequestContext): Promise<void> {
  const name = repositoryName(ctx);
  const id = ctx.params.id!;
  try {
    const offset = await ctx.registry.uploads.append(name, id, ctx.request.raw, chunkBounds(ctx));
    ctx.reply.code(202).headers(sessionHeaders(name, id, offset)).send();
  } catch (error) {
    // An out-of-order chunk's 416 tells the client where to resume, as a status request would.
    if (error instanceof RegistryError && error.code === 'RANGE_INVALID') {
      const offset = await ctx.registry.uploads.offset(name, id);
      ctx.reply.headers(sessionHeaders(name, id, offset));
    }
    throw error;
  }
}

/** PUT /v2/<name>/blobs/uploads/<id>?digest= — takes an optional last chunk, verifies and commits the blob. */
export async function finishUpload(ctx: RequestContext): Promise<void> {
  const name = repositoryName(ctx);
  const id = ctx.params.id!;
  const digest = digestParameter(ctx.query.digest);
  const finalChunk = hasBody(ctx.request) ? { body: ctx.request.raw, bounds: chunkBounds(ctx) } : undefined;
  await ctx.registry.uploads.complete(name, id, digest, finalChunk);
  sendBlobCreated(ctx, name, digest);
}

/** DELETE /v2/<name>/blobs/uploads/<id> — cancels the session. */
export async function cancelUpload(ctx: RequestContext): Promise<void> {
  await ctx.registry.uploads.cancel(repositoryName(ctx), ctx.params.id!);
  ctx.reply.code(204).send();
}

/**
 * Links an existing blob into `name`; false when there is nothing to mount, or the mount arguments
 * are malformed, and a session should start instead (as the distribution-spec asks).
 */
async function mountBlob(ctx: RequestContext, name: string, mount: string, from: string | undefined): Promise<boolean> {
  let digest: Digest;
  try {
    digest = parseDigest(mount);
  } catch {
    return false;
  }
  if (from !== undefined && !isRepositoryName(from)) return false;
  // Mounting needs pull on the source, as reading the blob there would; a caller without it uploads instead.
  if (from !== undefined && !ctx.canPull(from)) return false;
  // Without `from`, any repository's copy will do (distribution-spec 1.1 lets registries mount automatically),
  // unless access is controlled: the copy may be in a repository the caller may not read.
  if (from === undefined && ctx.canPull !== allowAll) return false;
  const size = from === undefined ? await ctx.registry.blobs.sizeAnywhere(digest) : await ctx.registry.blobs.size(from, digest);
  if (size === undefined) return false;
  await ctx.registry.blobs.link(name, digest);
  sendBlobCreated(ctx, name, digest);
  return true;
}

function sendBlobCreated(ctx: RequestContext, name: string, digest: string): void {
  ctx.reply
    .code(201)
    .headers({ location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest, 'content-length': 0 })
    .send();
}

function sessionHeaders(name: string, id: string, offset: number): Record<string, string | number> {
  return {
    location: `/v2/${name}/blobs/uploads/${id}`,
    'docker-upload-uuid': id,
    // distribution answers 0-0 for an empty session and Docker clients expect it.
    range: `0-${Math.max(offset - 1, 0)}`,
  };
}

/** Where a chunk claims to start and how long it claims to be, from Content-Range and Content-Length. */
function chunkBounds(ctx: RequestContext): ChunkBounds {
  const header = ctx.request.headers['content-range'];
  const declared = ctx.request.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  if (header === undefined) return { length };
  const match = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) throw new RegistryError('RANGE_INVALID', `malformed Content-Range "${header}"`);
  const start = Number(match[1]);
  const rangeLength = Number(match[2]) - start + 1;
  if (rangeLength < 1) throw new RegistryError('RANGE_INVALID', `empty Content-Range "${header}"`);
  if (length !== undefined && length !== rangeLength) {
    throw new RegistryError('SIZE_INVALID', `Content-Range covers ${rangeLength} bytes, Content-Length says ${length}`);
  }
  return { start, length: rangeLength };
}
