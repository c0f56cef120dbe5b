import { ConfigError } from '../config.js';

/** Where and how the S3 driver stores objects; `wharf serve --storage s3://…` names them all. */
export interface S3StorageOptions {
  readonly bucket: string;
  /** Key prefix every object lives under, without slashes at either end; '' for the bucket root. */
  readonly prefix: string;
  /** The region to sign for; the AWS chain (AWS_REGION, ~/.aws/config) decides when undefined. */
  readonly region?: string;
  /** An S3-compatible server's URL; AWS's own endpoint when undefined. */
  readonly endpoint?: string;
  /** `http://host/bucket/key` rather than `http://bucket.host/key`: what most S3-compatible servers want. */
  readonly forcePathStyle: boolean;
  /**
   * When the SDK adds checksums to requests and checks them on responses: `required` (only where the
   * API demands one) or `supported` (everywhere, the SDK's default, which sends streamed bodies as
   * aws-chunked with trailing checksums, something many S3-compatible servers store verbatim).
   */
  readonly checksums: 'required' | 'supported';
  /** Size of every multipart part but the last: equal parts, as R2 requires. */
  readonly partSize: number;
  /** Objects larger than this are moved by a multipart copy; the rest by one CopyObject (at most 5 GiB on S3). */
  readonly multipartCopyThresholdSize: number;
  /** Size of every part of a multipart copy but the last (equal parts again). */
  readonly multipartCopyChunkSize: number;
  /** How many parts of one multipart copy are copied at once. */
  readonly multipartCopyMaxConcurrency: number;
  /** Answer blob GETs with a 307 to a presigned URL instead of streaming through the registry. */
  readonly redirect: boolean;
}

const MiB = 1024 * 1024;
// S3's minimum for every part but the last, and its maximum for any part (and for one CopyObject).
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;
const DEFAULT_PART_SIZE = 8 * MiB;
/** S3's limit on the parts of one multipart upload. */
export const MAX_PARTS = 10_000;
// CNCF distribution's defaults for its s3 driver's options of the same names, found fastest by its authors.
const DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE = 32 * MiB;
const DEFAULT_MULTIPART_COPY_CHUNK_SIZE = 32 * MiB;
const DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY = 100;
const KNOWN = [
  'region',
  'endpoint',
  'forcePathStyle',
  'checksums',
  'partSize',
  'redirect',
  'multipartCopyThresholdSize',
  'multipartCopyChunkSize',
  'multipartCopyMaxConcurrency',
];

/** Parses `s3://BUCKET[/PREFIX]?region=R&endpoint=URL&forcePathStyle=true&…`; throws ConfigError. */
export function parseS3Url(spec: string): S3StorageOptions {
  const fail = (why: string) => new ConfigError(`--storage ${spec}: ${why}`);
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw fail('not a URL (use s3://BUCKET[/PREFIX]?region=…)');
  }
  if (url.protocol !== 's3:' || url.hostname === '') throw fail('expected s3://BUCKET[/PREFIX]');
  if (url.username !== '' || url.password !== '' || url.port !== '') {
    throw fail('credentials do not belong in the URL: they come from the AWS chain (AWS_ACCESS_KEY_ID, ~/.aws, instance roles)');
  }
  for (const key of url.searchParams.keys()) {
    if (!KNOWN.includes(key)) throw fail(`unknown option "${key}" (known: ${KNOWN.join(', ')})`);
  }
  const option = (key: string) => url.searchParams.get(key) ?? undefined;
  const flag = (key: string, fallback: boolean) => {
    const value = option(key);
    if (value === undefined) return fallback;
    if (value !== 'true' && value !== 'false') throw fail(`${key} must be true or false, not "${value}"`);
    return value === 'true';
  };
  const endpoint = option('endpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) throw fail(`endpoint must be an http(s) URL, not "${endpoint}"`);
  const checksums = option('checksums') ?? 'required';
  if (checksums !== 'required' && checksums !== 'supported') throw fail(`checksums must be required or supported, not "${checksums}"`);
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..' || (prefix !== '' && segment === ''))) {
    throw fail(`invalid prefix "${prefix}"`);
  }
  const size = (key: string, fallback: number, min: number) => {
    const value = option(key);
    if (value === undefined) return fallback;
    const match = /^(\d+)(MiB)?$/.exec(value);
    const bytes = match ? Number(match[1]) * (match[2] ? MiB : 1) : NaN;
    if (!(bytes >= min && bytes <= MAX_PART_SIZE)) throw fail(`${key} must be bytes or NMiB from ${min === 0 ? '0' : `${min / MiB}MiB`} to 5GiB, not "${value}"`);
    return bytes;
  };
  const concurrency = option('multipartCopyMaxConcurrency') ?? String(DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY);
  // More than S3's 10,000 parts could never be in flight.
  if (!/^\d+$/.test(concurrency) || !(Number(concurrency) >= 1 && Number(concurrency) <= MAX_PARTS)) {
    throw fail(`multipartCopyMaxConcurrency must be a whole number from 1 to ${MAX_PARTS}, not "${concurrency}"`);
  }
  return {
    bucket: url.hostname,
    prefix,
    region: option('region'),
    endpoint,
    // An S3-compatible server is the usual reason to name an endpoint, and most want path style.
    forcePathStyle: flag('forcePathStyle', endpoint !== undefined),
    checksums,
    partSize: size('partSize', DEFAULT_PART_SIZE, MIN_PART_SIZE),
    redirect: flag('redirect', false),
    // Up to 5 GiB, so that what is copied in one CopyObject never exceeds S3's limit for it.
    multipartCopyThresholdSize: size('multipartCopyThresholdSize', DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE, 0),
    multipartCopyChunkSize: size('multipartCopyChunkSize', DEFAULT_MULTIPART_COPY_CHUNK_SIZE, MIN_PART_SIZE),
    multipartCopyMaxConcurrency: Number(concurrency),
  };
}
