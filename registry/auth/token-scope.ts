/**
 * One entry of a token's `access` claim, and of the `scope` a client asks for
 * (`repository:team/app:pull,push`, `registry:catalog:*`), as Docker's token authentication spec defines them.
 */
export interface ResourceAccess {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** The resource that listing the catalog and searching need access to. */
export const CATALOG = { type: 'registry', name: 'catalog' } as const;

/**
 * The scopes of a token request: each `scope` parameter may hold several, space-separated (the
 * OAuth2 form does). Malformed ones are dropped: a token server grants less, never fails, for them.
 */
export function parseScopes(values: readonly string[]): ResourceAccess[] {
  const scopes: ResourceAccess[] = [];
  for (const scope of values.flatMap((value) => value.split(' ')).filter(Boolean)) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first < 1 || last === first) continue;
    // The type may carry a class, `repository(plugin)`, which grants as its type does.
    const type = scope.slice(0, first).replace(/\([a-z0-9]+\)$/, '');
    const actions = scope.slice(last + 1).split(',').filter(Boolean);
    if (actions.length > 0) scopes.push({ type, name: scope.slice(first + 1, last), actions });
  }
  return scopes;
}

/** A scope as a challenge names it: `repository:team/app:pull,push`. */
export function formatScope({ type, name, actions }: ResourceAccess): string {
  return `${type}:${name}:${actions.join(',')}`;
}
