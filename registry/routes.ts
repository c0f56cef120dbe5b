import { checkVersion } from './handlers/base.js';
import { deleteBlob, getBlob, headBlob } from './handlers/blobs.js';
import { listCatalog } from './handlers/catalog.js';
import type { Handler } from './handlers/context.js';
import { dockerPing, dockerSearch } from './handlers/docker-search.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { listReferrers } from './handlers/referrers.js';
import { getRepository } from './handlers/repository.js';
import { searchRepositories } from './handlers/search.js';
import { listTags } from './handlers/tags.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './handlers/uploads.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One endpoint: a path pattern whose named groups become params, and a handler per method. */
export interface Route {
  readonly pattern: RegExp;
  readonly handlers: Partial<Record<Method, Handler>>;
}

// Repository names contain '/', so the name is whatever stands before the endpoint's fixed suffix;
// it is validated against the name grammar in the handler, which answers NAME_INVALID.
const NAME = '(?<name>.+)';

/**
 * The Docker Registry HTTP API v2 / OCI distribution-spec 1.1, then the v1 ping and search that
 * `docker search` uses and Wharf's search API, in the order patterns are tried.
 */
export const ROUTES: readonly Route[] = [
  { pattern: /^\/v2\/?$/, handlers: { GET: checkVersion, HEAD: checkVersion } },
  { pattern: /^\/v2\/_catalog$/, handlers: { GET: listCatalog } },
  { pattern: new RegExp(`^/v2/${NAME}/tags/list$`), handlers: { GET: listTags } },
  {
    pattern: new RegExp(`^/v2/${NAME}/manifests/(?<reference>[^/]+)$`),
    handlers: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  },
  { pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/?$`), handlers: { POST: startUpload } },
  {
    pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/(?<id>[^/]+)$`),
    handlers: { GET: uploadStatus, PATCH: patchUpload, PUT: finishUpload, DELETE: cancelUpload },
  },
  { pattern: new RegExp(`^/v2/${NAME}/blobs/(?<digest>[^/]+)$`), handlers: { GET: getBlob, HEAD: headBlob, DELETE: deleteBlob } },
  { pattern: new RegExp(`^/v2/${NAME}/referrers/(?<digest>[^/]+)$`), handlers: { GET: listReferrers } },
  { pattern: /^\/v1\/_ping$/, handlers: { GET: dockerPing, HEAD: dockerPing } },
  { pattern: /^\/v1\/search$/, handlers: { GET: dockerSearch } },
  { pattern: /^\/api\/v1\/search$/, handlers: { GET: searchRepositories } },
  { pattern: new RegExp(`^/api/v1/repositories/${NAME}$`), handlers: { GET: getRepository } },
];

/** The route a path belongs to and the params it names, or undefined. */
export function matchRoute(path: string): { route: Route; params: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (match) return { route, params: { ...match.groups } };
  }
  return undefined;
}
