import { execFile } from 'node:child_process';
import type { RegistryCredentials } from './docker-config.js';

/** A credential helper could not be run or answered something other than credentials or "not found". */
export class CredentialHelperError extends Error {}

/** What `docker-credential-NAME get` prints: the secret is a password, or an identity token when Username is `<token>`. */
interface HelperAnswer {
  readonly Username?: unknown;
  readonly Secret?: unknown;
}

// docker/cli's marker for an identity token stored in place of a user name.
const TOKEN_USERNAME = '<token>';
// docker-credential-helpers' "not found" message is "credentials not found in native keychain"; others vary the tail.
const NOT_FOUND = /credentials not found/i;
const OUTPUT_LIMIT = 1024 * 1024;

/**
 * Runs `docker-credential-NAME get` with `serverUrl` on stdin, as docker/cli does, and returns what
 * it stored, or undefined when it has nothing for that server (the registry is then used anonymously).
 */
export function runCredentialHelper(name: string, serverUrl: string): Promise<RegistryCredentials | undefined> {
  const program = `docker-credential-${name}`;
  const source = credentialHelperSource(name);
  return new Promise((resolve, reject) => {
    const child = execFile(program, ['get'], { encoding: 'utf8', maxBuffer: OUTPUT_LIMIT }, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return reject(new CredentialHelperError(`${source} is not installed (no ${program} on PATH)`));
        // Helpers print their error on stdout (docker-credential-helpers) or stderr (others).
        const said = `${stdout}\n${stderr}`.trim();
        if (NOT_FOUND.test(said)) return resolve(undefined);
        const detail = said.split('\n')[0] || `exit code ${String(code)}`;
        return reject(new CredentialHelperError(`${source} failed to get credentials for ${serverUrl}: ${detail}`));
      }
      let answer: HelperAnswer;
      try {
        answer = JSON.parse(stdout) as HelperAnswer;
      } catch {
        return reject(new CredentialHelperError(`${source} answered for ${serverUrl} with something other than JSON credentials`));
      }
      const { Username: username, Secret: secret } = answer ?? {};
      if (typeof username !== 'string' || typeof secret !== 'string') {
        return reject(new CredentialHelperError(`${source} answered for ${serverUrl} without a Username and Secret`));
      }
      resolve(username === TOKEN_USERNAME ? { identityToken: secret, source } : { username, password: secret, source });
    });
    child.stdin?.on('error', () => {}); // a helper may exit without reading; its exit status tells why
    child.stdin?.end(serverUrl);
  });
}

/** How errors name a helper: `credential helper docker-credential-NAME`. */
export function credentialHelperSource(name: string): string {
  return `credential helper docker-credential-${name}`;
}
