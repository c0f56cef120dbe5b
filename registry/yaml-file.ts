import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/**
 * The parsed YAML of a file `wharf serve` was told to read (its config, an access policy). A file
 * that is missing, unreadable or not YAML is `fail(why)`, which the caller words as one line.
 */
export function readYamlFile(path: string, fail: (why: string) => Error): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw fail((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message);
  }
  try {
    return parseYaml(text);
  } catch (error) {
    throw fail(`not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}
