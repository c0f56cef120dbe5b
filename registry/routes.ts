import type { Access } from './auth/access-control.js';
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

/** What one method of a route runs, and the access its caller needs first. */
export interface Endpoint {
  readonly handler: Handler;
  readonly access: Access;
}

/** One route: a path pattern whose named groups become params, and an endpoint per method. */
export interface Route {
  readonly pattern: RegExp;
  readonly methods: Partial<Record<Method, Endpoint>>;
}

// Repository names contain '/', so the name is whatever stands before the endpoint's fixed suffix;
// it is validated against the name grammar in the handler, which answers NAME_INVALID.
const NAME = '(?<name>.+)';

/**
 * The Docker Registry HTTP API v2 / OCI distribution-spec 1.1, then the v1 ping and search that
 * `docker search` uses and Wharf's search API, in the order patterns are tried.
 */
export const ROUTES: readonly Route[] = [
  { pattern: /^\/v2\/?$/, methods: { GET: { handler: checkVersion, access: 'login' }, HEAD: { handler: checkVersion, access: 'login' } } },
  { pattern: /^\/v2\/_catalog$/, methods: { GET: { handler: listCatalog, access: 'listing' } } },
  { pattern: new RegExp(`^/v2/${NAME}/tags/list$`), methods: { GET: { handler: listTags, access: 'pull' } } },
  {
    pattern: new RegExp(`^/v2/${NAME}/manifests/(?<reference>[^/]+)$`),
    methods: {
      GET: { handler: getManifest, access: 'pull' },
      HEAD: { handler: getManifest, access: 'pull' },
      PUT: { handler: putManifest, access: 'push' },
      DELETE: { handler: deleteManifest, access: 'delete' },
    },
  },
  // A cross-repository mount also needs pull on its source, which the handler checks (without it, it uploads).
  { pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/?$`), methods: { POST: { handler: startUpload, access: 'push' } } },
  {
    // Every step of an upload, cancelling included, is part of a push.
    pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/(?<id>[^/]+)$`),
    methods: {
      GET: { handler: uploadStatus, access: 'push' },
      PATCH: { handler: patchUpload, access: 'push' },
      PUT: { handler: finishUpload, access: 'push' },
      DELETE: { handler: cancelUpload, access: 'push' },
    },
  },
  {
    pattern: new RegExp(`^/v2/${NAME}/blobs/(?<digest>[^/]+)$`),
    methods: { GET: { handler: getBlob, access: 'pull' }, HEAD: { handler: headBlob, access: 'pull' }, DELETE: { handler: deleteBlob, access: 'delete' } },
  },
  { pattern: new RegExp(`^/v2/${NAME}/referrers/(?<digest>[^/]+)$`), methods: { GET: { handler: listReferrers, access: 'pull' } } },
  // docker search pings without credentials, whatever the registry's authentication.
  { pattern: /^\/v1\/_ping$/, methods: { GET: { handler: dockerPing, access: 'open' }, HEAD: { handler: dockerPing, access: 'open' } } },
  { pattern: /^\/v1\/search$/, methods: { GET: { handler: dockerSearch, access: 'listing' } } },
  { pattern: /^\/api\/v1\/search$/, methods: { GET: { handler: searchRepositories, access: 'listing' } } },
  { pattern: new RegExp(`^/api/v1/repositories/${NAME}$`), methods: { GET: { handler: getRepository, access: 'listing' } } },
];

/** The route a path belongs to and the params it names, or undefined. */
export function matchRoute(path: string): { route: Route; params: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (match) return { route, params: { ...match.groups } };
  }
  return undefined;
}
