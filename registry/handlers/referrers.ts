import { MediaType } from '../../shared/media-types.js';
import { referrersIndex } from '../manifest-store.js';
import { digestParameter, repositoryName, type RequestContext } from './context.js';

/** GET /v2/<name>/referrers/<digest> — an OCI index of the manifests whose subject is the digest. */
export async function listReferrers(ctx: RequestContext): Promise<void> {
  const name = repositoryName(ctx);
  const subject = digestParameter(ctx.params.digest);
  const { artifactType } = ctx.query;
  const manifests = await ctx.registry.manifests.referrers(name, subject, artifactType || undefined);
  if (artifactType) ctx.reply.header('oci-filters-applied', 'artifactType');
  ctx.reply.header('content-type', MediaType.OciIndex).send(JSON.stringify(referrersIndex(manifests)));
}
