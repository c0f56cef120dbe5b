import { parseSearchQuery, type QueryParameters } from '../search/search-query.js';
import type { RequestContext } from './context.js';

/**
 * GET /v1/_ping — the v1 registry ping `docker search` sends before searching a registry that is
 * not Docker Hub; it reads the JSON body and the headers, not the status.
 */
export async function dockerPing(ctx: RequestContext): Promise<void> {
  ctx.reply.header('x-docker-registry-standalone', 'true').header('content-type', 'application/json');
  ctx.reply.send(ctx.request.method === 'HEAD' ? undefined : '{"standalone":true}');
}

/** GET /v1/search?q=&n=&page= — Docker Hub's search format, which `docker search HOST/term` shows. */
export async function dockerSearch(ctx: RequestContext): Promise<void> {
  const query = parseSearchQuery(ctx.request.query as QueryParameters, { filters: false });
  const { total, results } = await ctx.registry.search.search(query, ctx.canPull);
  ctx.reply.send({
    num_results: total,
    num_pages: Math.ceil(total / query.pageSize),
    page: query.page,
    page_size: query.pageSize,
    query: ctx.query.q ?? '',
    results: results.map((result) => ({
      name: result.name,
      description: result.description,
      star_count: 0,
      is_official: false,
      is_automated: false,
    })),
  });
}
