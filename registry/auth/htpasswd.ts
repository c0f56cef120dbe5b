import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { ConfigError } from '../config.js';
import { readSettingFile } from '../setting-file.js';

// What `htpasswd -B` writes ($2y$), and the other spellings of the same algorithm.
const BCRYPT_ENTRY = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** The hash kinds htpasswd can write besides bcrypt, named so that a refused line says what it holds. */
const OTHER_KINDS: readonly [RegExp, string][] = [
  [/^\$apr1\$/, 'an MD5 (apr1) hash'],
  [/^\{SHA\}/, 'a SHA-1 hash'],
  [/^\$[156]\$/, 'a crypt(3) hash'],
];

/** The users of an Apache htpasswd file, each with a bcrypt hash of their password. */
export class Htpasswd {
  // Unknown users are checked against this, so a wrong name takes as long as a wrong password.
  private readonly decoy: string;

  private constructor(private readonly hashes: ReadonlyMap<string, string>) {
    const cost = [...hashes.values()].map((hash) => Number(BCRYPT_ENTRY.exec(hash)![1]))[0] ?? 10;
    this.decoy = bcrypt.hashSync(randomBytes(16).toString('hex'), cost);
  }

  /** Reads `path`; throws ConfigError naming the file and line of anything but `user:bcrypt-hash` lines. */
  static load(path: string): Htpasswd {
    const text = readSettingFile(path, (why) => new ConfigError(`--htpasswd ${path}: ${why}`)).toString('utf8');
    const hashes = new Map<string, string>();
    text.split(/\r?\n/).forEach((line, index) => {
      if (line.trim() === '') return;
      const fail = (why: string) => new ConfigError(`--htpasswd ${path} line ${index + 1}: ${why}`);
      const colon = line.indexOf(':');
      if (colon < 1) throw fail('not a "user:hash" entry');
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1).trim();
      if (hashes.has(user)) throw fail(`user "${user}" is listed twice`);
      if (!BCRYPT_ENTRY.test(hash)) {
        const kind = OTHER_KINDS.find(([pattern]) => pattern.test(hash))?.[1] ?? 'a hash that is not bcrypt';
        throw fail(`user "${user}" has ${kind}; only bcrypt entries are supported (write them with htpasswd -B)`);
      }
      hashes.set(user, hash);
    });
    return new Htpasswd(hashes);
  }

  /** Whether `password` is `user`'s; an unknown user costs one bcrypt comparison too. */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.hashes.get(user);
    const matches = await bcrypt.compare(password, hash ?? this.decoy);
    return hash !== undefined && matches;
  }

  /**
   * A short fingerprint of `user`'s current hash: refresh tokens carry it, so that changing a
   * password (or removing the user) ends the sessions `docker login` started with the old one.
   */
  fingerprint(user: string): string | undefined {
    const hash = this.hashes.get(user);
    return hash === undefined ? undefined : createHash('sha256').update(hash).digest('base64url').slice(0, 22);
  }

  /** Whether `fingerprint` is `user`'s current one, compared in constant time. */
  fingerprintMatches(user: string, fingerprint: string): boolean {
    const current = this.fingerprint(user);
    if (current === undefined || current.length !== fingerprint.length) return false;
    return timingSafeEqual(Buffer.from(current), Buffer.from(fingerprint));
  }
}
