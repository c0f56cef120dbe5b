/** The credentials an `Authorization` header carries: Basic user and password, or a Bearer token. */
export type Credentials = { readonly scheme: 'basic'; readonly user: string; readonly password: string } | { readonly scheme: 'bearer'; readonly token: string };

/** The credentials of an `Authorization` header; undefined without one, or for one that is malformed or of another scheme. */
export function parseAuthorization(header: string | undefined): Credentials | undefined {
  if (header === undefined) return undefined;
  const match = /^(basic|bearer)\s+(\S+)\s*$/i.exec(header);
  if (!match) return undefined;
  if (match[1]!.toLowerCase() === 'bearer') return { scheme: 'bearer', token: match[2]! };
  const decoded = Buffer.from(match[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // A user name cannot hold a colon (RFC 7617); a password can.
  if (colon < 1) return undefined;
  return { scheme: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
