import { RegistryError } from '../errors.js';
import { repositoryName, type RequestContext } from './context.js';

/** GET /api/v1/repositories/<name> — one repository's summary: tags, manifests, labels, platforms, sizes and push times. */
export async function getRepository(ctx: RequestContext): Promise<void> {
  const name = repositoryName(ctx);
  const summary = await ctx.registry.search.repository(name, ctx.canPull);
  // A repository the caller may not pull is as unknown to it as one that does not exist.
  if (summary === undefined) throw new RegistryError('NAME_UNKNOWN', `repository ${name} not known to registry`, { name });
  ctx.reply.send(summary);
}
