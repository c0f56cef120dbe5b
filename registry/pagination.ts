import { RegistryError } from './errors.js';

/** One page of a sorted list, as `n` and `last` ask for it, and the `last` of the next page if there is one. */
export function paginate(sorted: readonly string[], query: { n?: string; last?: string }): { page: string[]; nextLast?: string } {
  let items = sorted;
  if (query.last !== undefined) items = items.filter((item) => item > query.last!);
  if (query.n === undefined || query.n === '') return { page: [...items] };
  if (!/^\d{1,9}$/.test(query.n)) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, got "${query.n}"`, { n: query.n });
  }
  const n = Number(query.n);
  const page = items.slice(0, n);
  return { page, nextLast: items.length > n && n > 0 ? page[page.length - 1] : undefined };
}

/** The RFC 5988 `Link` header pointing at the next page. */
export function nextPageLink(path: string, n: string | undefined, last: string): string {
  const query = new URLSearchParams({ ...(n ? { n } : {}), last });
  return `<${path}?${query.toString()}>; rel="next"`;
}
