import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RepositoryFilter } from '../pull-access.js';
import type { Action } from './access-policy.js';

/**
 * What a route's method needs: an action on the repository in its path; `login` (any authenticated
 * caller: `/v2/`, which is how `docker login` checks credentials); `listing` (a caller who may pull
 * something: catalog and search, whose results are filtered); or nothing (`open`).
 */
export type Access = Action | 'login' | 'listing' | 'open';

/** How the registry decides who may do what: no authentication, Basic with htpasswd users, or Bearer tokens. */
export interface AccessControl {
  /**
   * Lets a request needing `access` (to repository `name`, for an action) through and returns the
   * repositories its caller may pull; throws UNAUTHORIZED with a challenge, DENIED, or TOOMANYREQUESTS.
   */
  authorize(request: FastifyRequest, reply: FastifyReply, access: Access, name: string | undefined): Promise<RepositoryFilter>;
}
