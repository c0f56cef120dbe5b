import { ConfigError } from '../config.js';
import { readYamlFile } from '../setting-file.js';

/** What a caller may do to a repository. */
export type Action = 'pull' | 'push' | 'delete';

export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/** Who is asking: an htpasswd user's name, or undefined for an anonymous caller. */
export type Caller = string | undefined;

/** The policy's word for a caller without credentials. */
const ANONYMOUS = 'anonymous';
/** The policy's word for every authenticated user (not anonymous callers, who are listed by name). */
const EVERY_USER = '*';

interface Rule {
  readonly repos: readonly RegExp[];
  readonly users: ReadonlySet<string>;
  readonly actions: ReadonlySet<Action>;
}

/**
 * Who may do what to which repositories. Rules only grant, and a caller may do what any rule
 * grants. Without a policy file, every authenticated user may do everything and anonymous callers nothing.
 */
export class AccessPolicy {
  private constructor(private readonly rules: readonly Rule[] | undefined) {}

  /** The policy without a file: authenticated users may do everything, anonymous callers nothing. */
  static readonly DEFAULT = new AccessPolicy(undefined);

  /** Reads the YAML rules of `path`; throws ConfigError naming the file and the rule that is wrong. */
  static load(path: string): AccessPolicy {
    const fail = (why: string) => new ConfigError(`--access ${path}: ${why}`);
    const parsed = readYamlFile(path, fail);
    if (!Array.isArray(parsed)) throw fail('must be a list of rules {repos: [...], users: [...], actions: [...]}');
    return new AccessPolicy(parsed.map((rule, index) => parseRule(rule, (why) => fail(`rule ${index + 1}: ${why}`))));
  }

  /** Whether `caller` may do `action` to repository `name`. */
  allows(caller: Caller, name: string, action: Action): boolean {
    if (this.rules === undefined) return caller !== undefined;
    return this.rules.some((rule) => rule.actions.has(action) && appliesTo(rule, caller) && rule.repos.some((glob) => glob.test(name)));
  }

  /** The actions among `wanted` that `caller` may do to `name`. */
  allowedActions(caller: Caller, name: string, wanted: readonly Action[]): Action[] {
    return wanted.filter((action) => this.allows(caller, name, action));
  }

  /** Whether `caller` may pull anything at all: such a caller may list the catalog and search (results filtered). */
  mayPullSomething(caller: Caller): boolean {
    if (this.rules === undefined) return caller !== undefined;
    return this.rules.some((rule) => rule.actions.has('pull') && appliesTo(rule, caller));
  }
}

function appliesTo(rule: Rule, caller: Caller): boolean {
  if (caller === undefined) return rule.users.has(ANONYMOUS);
  return rule.users.has(EVERY_USER) || rule.users.has(caller);
}

function parseRule(value: unknown, fail: (why: string) => ConfigError): Rule {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail('must be a mapping {repos, users, actions}');
  const rule = value as Record<string, unknown>;
  for (const key of Object.keys(rule)) {
    if (!['repos', 'users', 'actions'].includes(key)) throw fail(`unknown key "${key}" (use repos, users, actions)`);
  }
  const list = (key: string): string[] => {
    const items = rule[key];
    if (!Array.isArray(items) || items.length === 0 || !items.every((item) => typeof item === 'string' && item !== '')) {
      throw fail(`${key} must be a non-empty list of names`);
    }
    return items as string[];
  };
  const actions = list('actions');
  const unknown = actions.find((action) => !ACTIONS.includes(action as Action));
  if (unknown !== undefined) throw fail(`unknown action "${unknown}" (use ${ACTIONS.join(', ')})`);
  return { repos: list('repos').map((glob) => globPattern(glob, fail)), users: new Set(list('users')), actions: new Set(actions as Action[]) };
}

/** A repository glob as a pattern: `*` matches within one path segment, `**` across segments. */
export function globPattern(glob: string, fail: (why: string) => Error = (why) => new Error(why)): RegExp {
  if (!/^[a-z0-9._\-/*]+$/.test(glob)) throw fail(`repos: "${glob}" is not a repository glob (lowercase names, /, * and **)`);
  const pattern = glob
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.\-/]/g, '\\$&')))
    .join('');
  return new RegExp(`^${pattern}$`);
}
