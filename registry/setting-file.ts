import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/**
 * The bytes of a file `wharf serve` was told to read (its config, an access policy, htpasswd, TLS
 * PEM files). A file that is missing or unreadable is `fail(why)`, which the caller words as one line.
 */
export function readSettingFile(path: string, fail: (why: string) => Error): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : firstLine(error));
  }
}

/** The parsed YAML of a setting file; one that cannot be read or is not YAML is `fail(why)`. */
export function readYamlFile(path: string, fail: (why: string) => Error): unknown {
  const text = readSettingFile(path, fail).toString('utf8');
  try {
    return parseYaml(text);
  } catch (error) {
    throw fail(`not valid YAML: ${firstLine(error)}`);
  }
}

/** The first line of an error's message, for a one-line refusal. */
export function firstLine(error: unknown): string {
  return String((error as Error).message ?? error).split('\n')[0]!;
}
