import { nextPageLink, pageRequest } from '../pagination.js';
import type { RequestContext } from './context.js';

/** GET /v2/_catalog with `n` / `last` pagination. */
export async function listCatalog(ctx: RequestContext): Promise<void> {
  const { page, nextLast } = await ctx.registry.catalog(pageRequest(ctx.query), ctx.canPull);
  if (nextLast !== undefined) ctx.reply.header('link', nextPageLink('/v2/_catalog', ctx.query.n, nextLast));
  ctx.reply.send({ repositories: page });
}
