import { RegistryError } from './errors.js';

/** What `n` and `last` ask for: at most `n` entries (all when undefined) after `last`. */
export interface PageRequest {
  readonly n?: number;
  readonly last?: string;
}

/** One page and, when more follow, the `last` that asks for the next. */
export interface Page {
  readonly page: string[];
  readonly nextLast?: string;
}

/** Reads and checks `n` and `last` from a query; throws PAGINATION_NUMBER_INVALID. */
export function pageRequest(query: { n?: string; last?: string }): PageRequest {
  if (query.n === undefined || query.n === '') return { last: query.last };
  if (!/^\d{1,9}$/.test(query.n)) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, got "${query.n}"`, { n: query.n });
  }
  return { n: Number(query.n), last: query.last };
}

/** One page of a sorted list. */
export function paginate(sorted: readonly string[], request: PageRequest): Page {
  const items = request.last === undefined ? sorted : sorted.filter((item) => item > request.last!);
  if (request.n === undefined) return { page: [...items] };
  return pageOf(items.slice(0, request.n + 1), request.n);
}

/** The page of `n` entries from the first `n + 1` after `last` (fewer at the end): the extra one says whether more follow. */
export function pageOf(firstEntries: readonly string[], n: number | undefined): Page {
  if (n === undefined) return { page: [...firstEntries] };
  const page = firstEntries.slice(0, n);
  return { page, nextLast: firstEntries.length > n && n > 0 ? page[page.length - 1] : undefined };
}

/** The RFC 5988 `Link` header pointing at the next page. */
export function nextPageLink(path: string, n: string | undefined, last: string): string {
  const query = new URLSearchParams({ ...(n ? { n } : {}), last });
  return `<${path}?${query.toString()}>; rel="next"`;
}
