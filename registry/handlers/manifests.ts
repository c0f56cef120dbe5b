import { RegistryError } from '../errors.js';
import { parseReference } from '../manifest-store.js';
import { readLimited } from '../request-body.js';
import { repositoryName, type RequestContext } from './context.js';

/** Manifests larger than this are refused, as the distribution-spec allows and distribution does. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** GET and HEAD /v2/<name>/manifests/<reference> */
export async function getManifest(ctx: RequestContext): Promise<void> {
  const manifest = await ctx.registry.manifests.get(repositoryName(ctx), parseReference(ctx.params.reference!));
  ctx.reply.headers({
    'content-type': manifest.mediaType,
    'content-length': manifest.content.length,
    'docker-content-digest': manifest.digest,
    etag: `"${manifest.digest}"`,
  });
  ctx.reply.send(ctx.request.method === 'HEAD' ? undefined : manifest.content);
}

/** PUT /v2/<name>/manifests/<reference> — validates, stores and (for a tag reference) tags a manifest. */
export async function putManifest(ctx: RequestContext): Promise<void> {
  const name = repositoryName(ctx);
  const reference = parseReference(ctx.params.reference!);
  const content = await readLimited(
    ctx.request.raw,
    MAX_MANIFEST_BYTES,
    () => new RegistryError('MANIFEST_INVALID', `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, { limit: MAX_MANIFEST_BYTES }, 413),
  );
  const { digest, subject } = await ctx.registry.manifests.put(name, reference, content, ctx.request.headers['content-type']);
  ctx.reply.code(201).headers({
    location: `/v2/${name}/manifests/${digest}`,
    'docker-content-digest': digest,
    'content-length': 0,
    ...(subject ? { 'oci-subject': subject } : {}),
  });
  ctx.reply.send();
}

/** DELETE /v2/<name>/manifests/<reference> — a digest deletes the manifest and its tags; a tag deletes only the tag. */
export async function deleteManifest(ctx: RequestContext): Promise<void> {
  await ctx.registry.manifests.delete(repositoryName(ctx), parseReference(ctx.params.reference!));
  ctx.reply.code(202).header('content-length', 0).send();
}
