import { isTag } from '../../shared/repository-name.js';
import { RegistryError } from '../errors.js';
import type { SearchQuery } from './search-statement.js';

/** A query string as fastify parses it: a parameter given twice is an array. */
export type QueryParameters = Readonly<Record<string, string | readonly string[] | undefined>>;

const MAX_QUERY_LENGTH = 255;
const MAX_WORDS = 16;
const MAX_WORD_LENGTH = 100;
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE = 10_000;
const MAX_FILTERS = 16;
// Letters, digits, spaces and the separators of repository names; the rest is FTS syntax or noise.
const QUERY_CHARACTERS = /^[\p{L}\p{N}\s/._-]*$/u;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;
const PLATFORM = /^[a-z0-9_.-]+\/[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)?$/;

/**
 * Checks a search request: `q`, `n` (1-100, default 25) and `page` (from 1), and with `filters`
 * also `sort` and the repeatable `label`, `tag`, `artifactType` and `platform`. Throws QUERY_INVALID
 * or PAGINATION_NUMBER_INVALID (400) saying what is wrong.
 */
export function parseSearchQuery(parameters: QueryParameters, { filters }: { filters: boolean }): SearchQuery {
  const text = (single(parameters, 'q') ?? '').trim().toLowerCase();
  if (text.length > MAX_QUERY_LENGTH) invalid(`q is longer than ${MAX_QUERY_LENGTH} characters`);
  if (!QUERY_CHARACTERS.test(text)) {
    const bad = [...text].find((c) => !QUERY_CHARACTERS.test(c));
    invalid(`q may hold letters, digits, spaces and / . _ - only, not ${JSON.stringify(bad)}`);
  }
  const words = text.split(/[^\p{L}\p{N}]+/u).filter((word) => word !== '');
  if (words.length > MAX_WORDS) invalid(`q has more than ${MAX_WORDS} words`);
  const long = words.find((word) => word.length > MAX_WORD_LENGTH);
  if (long !== undefined) invalid(`a word of q is longer than ${MAX_WORD_LENGTH} characters`);

  const pageSize = count(parameters, 'n', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const page = count(parameters, 'page', 1, MAX_PAGE);
  if (!filters) return { text, words, labels: [], tags: [], artifactTypes: [], platforms: [], sort: 'relevance', page, pageSize };

  const sort = single(parameters, 'sort') ?? 'relevance';
  if (sort !== 'relevance' && sort !== 'pushed') invalid(`sort must be relevance or pushed, not "${sort}"`);
  const labels = all(parameters, 'label').map((label) => {
    const [key, ...value] = label.split('=');
    if (!key || key.length > 255 || label.length > 1024) invalid(`label must be KEY or KEY=VALUE, not "${label}"`);
    return value.length === 0 ? { key } : { key, value: value.join('=') };
  });
  const tags = all(parameters, 'tag');
  for (const tag of tags) if (!isTag(tag)) invalid(`tag "${tag}" is not a valid tag`);
  const artifactTypes = all(parameters, 'artifactType');
  for (const type of artifactTypes) if (!MEDIA_TYPE.test(type)) invalid(`artifactType "${type}" is not a media type`);
  const platforms = all(parameters, 'platform');
  for (const platform of platforms) if (!PLATFORM.test(platform)) invalid(`platform must be OS/ARCH[/VARIANT], not "${platform}"`);
  if (labels.length + tags.length + artifactTypes.length + platforms.length > MAX_FILTERS) invalid(`more than ${MAX_FILTERS} filters`);
  return { text, words, labels, tags, artifactTypes, platforms, sort, page, pageSize };
}

function single(parameters: QueryParameters, key: string): string | undefined {
  const value = parameters[key];
  if (typeof value === 'object') invalid(`${key} is given more than once`);
  return value;
}

function all(parameters: QueryParameters, key: string): string[] {
  const value = parameters[key];
  return value === undefined ? [] : typeof value === 'string' ? [value] : [...value];
}

function count(parameters: QueryParameters, key: string, fallback: number, max: number): number {
  const value = single(parameters, key);
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', `${key} must be a whole number from 1 to ${max}, not "${value}"`, { [key]: value });
  }
  return Number(value);
}

function invalid(message: string): never {
  throw new RegistryError('QUERY_INVALID', message);
}
