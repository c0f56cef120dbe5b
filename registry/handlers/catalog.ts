import { nextPageLink, paginate } from '../pagination.js';
import type { RequestContext } from './context.js';

/** GET /v2/_catalog with `n` / `last` pagination. */
export async function listCatalog(ctx: RequestContext): Promise<void> {
  const { page, nextLast } = paginate(await ctx.registry.repositories(), ctx.query);
  if (nextLast !== undefined) ctx.reply.header('link', nextPageLink('/v2/_catalog', ctx.query.n, nextLast));
  ctx.reply.send({ repositories: page });
}
