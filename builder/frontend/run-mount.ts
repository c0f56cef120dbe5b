// RUN --mount specs, parsed as BuildKit's dockerfile frontend parses them (instructions/commands_runmount.go).

import { DockerfileSyntaxError } from './errors.js';

/** A bind mount of the build context (no `from`) or of a stage's or image's filesystem. */
export interface BindMount {
  readonly type: 'bind';
  readonly target: string;
  /** Path inside the source ('' for its root). */
  readonly source: string;
  readonly from?: string;
  readonly readonly: boolean;
}

/** A directory kept across builds in the build root, shared by every RUN that names the same id. */
export interface CacheMount {
  readonly type: 'cache';
  readonly target: string;
  /** Defaults to the target. */
  readonly id: string;
  readonly sharing: 'shared' | 'private' | 'locked';
  readonly readonly: boolean;
  /** Seeds an empty cache from this stage's or image's `source` path. */
  readonly from?: string;
  readonly source: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** A fresh, empty tmpfs. */
export interface TmpfsMount {
  readonly type: 'tmpfs';
  readonly target: string;
  /** Bytes; undefined for the kernel's default. */
  readonly size?: number;
}

/** A `--secret` file (or, with `env`, an environment variable) for this RUN only. */
export interface SecretMount {
  readonly type: 'secret';
  readonly id: string;
  /** Where the file appears; undefined when the secret only sets `env`. */
  readonly target?: string;
  /** The environment variable the secret's value is put in. */
  readonly env?: string;
  readonly required: boolean;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export type RunMount = BindMount | CacheMount | TmpfsMount | SecretMount;

const TYPES = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'] as const;

/**
 * Parses one `--mount=` value: comma-separated `key=value` fields (CSV quoting allowed), each
 * value expanded with `expand` first, as BuildKit does. Errors name the Dockerfile line.
 */
export function parseRunMount(spec: string, expand: (value: string) => string, file: string, line: number): RunMount {
  const fail = (message: string): never => {
    throw new DockerfileSyntaxError(file, line, `${message} in --mount=${spec}`);
  };
  const fields: Record<string, string> = {};
  let type: string = 'bind';
  let readonly: boolean | undefined;
  let required = false;
  for (const field of splitCsv(spec, fail)) {
    const equals = field.indexOf('=');
    const key = (equals < 0 ? field : field.slice(0, equals)).toLowerCase();
    if (equals < 0) {
      if (key === 'readonly' || key === 'ro') readonly = true;
      else if (key === 'readwrite' || key === 'rw') readonly = false;
      else if (key === 'required') required = true;
      else fail(`unexpected key '${key}'`);
      continue;
    }
    const value = expand(field.slice(equals + 1));
    switch (key) {
      case 'type':
        type = value.toLowerCase();
        if (!(TYPES as readonly string[]).includes(type)) fail(`unsupported mount type "${value}"`);
        if (type === 'ssh') fail('ssh mounts are not supported');
        break;
      case 'readonly':
      case 'ro':
        readonly = parseBool(value, fail);
        break;
      case 'readwrite':
      case 'rw':
        readonly = !parseBool(value, fail);
        break;
      case 'required':
        required = parseBool(value, fail);
        break;
      case 'from':
      case 'id':
      case 'sharing':
      case 'mode':
      case 'uid':
      case 'gid':
      case 'size':
      case 'env':
        fields[key] = value;
        break;
      case 'source':
      case 'src':
        fields.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        fields.target = value;
        break;
      default:
        fail(`unexpected key '${key}'`);
    }
  }
  const only = (keys: string[], types: string[]) => {
    for (const key of keys) if (fields[key] !== undefined && !types.includes(type)) fail(`unexpected key '${key}' for mount type '${type}'`);
  };
  only(['mode', 'uid', 'gid'], ['cache', 'secret']);
  only(['sharing', 'id'], ['cache', 'secret']);
  only(['size'], ['tmpfs']);
  only(['env'], ['secret']);
  only(['from', 'source'], ['bind', 'cache']);
  const mode = fields.mode === undefined ? undefined : parseOctal(fields.mode, fail);
  const owner = (key: 'uid' | 'gid') => (fields[key] === undefined ? 0 : parseId(fields[key]!, key, fail));

  if (type === 'secret') {
    const id = fields.id ?? (fields.target ? fields.target.slice(fields.target.lastIndexOf('/') + 1) : undefined);
    if (!id) fail('a secret mount needs id= or target=');
    const target = fields.target ?? (fields.env === undefined ? `/run/secrets/${id}` : undefined);
    return { type, id: id!, ...(target ? { target } : {}), ...(fields.env ? { env: fields.env } : {}), required, mode: mode ?? 0o400, uid: owner('uid'), gid: owner('gid') };
  }
  const target = fields.target;
  if (!target) return fail('mount destination (target=) is not set');
  if (type === 'tmpfs') return { type, target, ...(fields.size ? { size: parseSize(fields.size, fail) } : {}) };
  if (type === 'cache') {
    const sharing = fields.sharing ?? 'shared';
    if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') return fail(`invalid sharing "${sharing}" (shared, private or locked)`);
    return {
      type,
      target,
      id: fields.id ?? target,
      sharing,
      readonly: readonly ?? false,
      ...(fields.from ? { from: fields.from } : {}),
      source: fields.source ?? '',
      mode: mode ?? 0o755,
      uid: owner('uid'),
      gid: owner('gid'),
    };
  }
  return { type: 'bind', target, source: fields.source ?? '', ...(fields.from ? { from: fields.from } : {}), readonly: readonly ?? true };
}

/** One CSV record, as Go's encoding/csv reads it: fields split on commas, `"` quotes a field, `""` is a quote inside one. */
function splitCsv(text: string, fail: (message: string) => never): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated quote');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') fail('extraneous character after a quoted field');
    } else {
      const comma = text.indexOf(',', i);
      field = text.slice(i, comma < 0 ? text.length : comma);
      i = comma < 0 ? text.length : comma;
    }
    fields.push(field);
    i++;
  }
  return fields.filter((field) => field !== '');
}

function parseBool(value: string, fail: (message: string) => never): boolean {
  // Go's strconv.ParseBool.
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  return fail(`invalid boolean "${value}"`);
}

function parseOctal(value: string, fail: (message: string) => never): number {
  if (!/^[0-7]+$/.test(value)) fail(`invalid mode "${value}" (octal)`);
  return parseInt(value, 8);
}

function parseId(value: string, key: string, fail: (message: string) => never): number {
  if (!/^\d+$/.test(value)) fail(`invalid ${key} "${value}"`);
  return Number(value);
}

/** Docker's RAMInBytes: a number with an optional b, k, m, g (binary units). */
function parseSize(value: string, fail: (message: string) => never): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(value);
  if (!match) return fail(`invalid size "${value}"`);
  const power = ' kmgtp'.indexOf((match[2] || ' ').toLowerCase());
  return Math.round(Number(match[1]) * 1024 ** power);
}
