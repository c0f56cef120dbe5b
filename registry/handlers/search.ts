import { parseSearchQuery, type QueryParameters } from '../search/search-query.js';
import type { RequestContext } from './context.js';

/**
 * GET /api/v1/search — repositories by `q`, filtered by `label`, `tag`, `artifactType` and
 * `platform`, sorted by relevance or push time, a page (`n`, `page`) at a time with a `Link` to the next.
 */
export async function searchRepositories(ctx: RequestContext): Promise<void> {
  const query = parseSearchQuery(ctx.request.query as QueryParameters, { filters: true });
  const { total, results } = await ctx.registry.search.search(query, ctx.canPull);
  const pages = Math.ceil(total / query.pageSize);
  if (query.page < pages) {
    const next = new URL(ctx.request.url, 'http://registry');
    next.searchParams.set('page', String(query.page + 1));
    ctx.reply.header('link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  ctx.reply.send({ query: query.text, sort: query.sort, page: query.page, pageSize: query.pageSize, total, pages, results });
}
