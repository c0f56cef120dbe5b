/** One challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`. */
export interface AuthChallenge {
  /** Lower-case: `basic`, `bearer`. */
  readonly scheme: string;
  /** Parameter names lower-case, values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN_END = /[\s,="]/;

/**
 * Parses a `WWW-Authenticate` value into its challenges (RFC 7235). Quoted values may hold commas
 * (`scope="repository:a:pull,push"`), and one header may carry several challenges, as Node joins repeated headers.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skip = (pattern: RegExp) => {
    while (i < header.length && pattern.test(header[i]!)) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && !TOKEN_END.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  const quoted = () => {
    let value = '';
    for (i++; i < header.length && header[i] !== '"'; i++) {
      if (header[i] === '\\') i++;
      value += header[i] ?? '';
    }
    i++;
    return value;
  };

  while (i < header.length) {
    skip(/[\s,]/);
    const name = token();
    if (name === '') {
      i++; // a stray '=' or '"' in a malformed header: step over it rather than loop forever
      continue;
    }
    skip(/\s/);
    if (header[i] === '=') {
      i++;
      skip(/\s/);
      const value = header[i] === '"' ? quoted() : token();
      const current = challenges[challenges.length - 1];
      if (current) current.params[name.toLowerCase()] = value;
    } else {
      challenges.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  return challenges;
}
