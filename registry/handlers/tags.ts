import { nextPageLink, pageRequest } from '../pagination.js';
import { repositoryName, type RequestContext } from './context.js';

/** GET /v2/<name>/tags/list with `n` / `last` pagination. */
export async function listTags(ctx: RequestContext): Promise<void> {
  const name = repositoryName(ctx);
  const { page, nextLast } = await ctx.registry.tags(name, pageRequest(ctx.query));
  if (nextLast !== undefined) ctx.reply.header('link', nextPageLink(`/v2/${name}/tags/list`, ctx.query.n, nextLast));
  ctx.reply.send({ name, tags: page });
}
