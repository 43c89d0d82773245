// Strict reading of a compact JWS before any key is touched: size, three canonical base64url parts,
// a JSON object header and payload, an allowed `alg`, no `crit`. Header members that carry keys or
// key URLs (jwk, jku, x5u, x5c) are never read.
import { JwtProblem, problem } from './jwt-errors.js';

export interface TokenHeader {
  readonly alg: string;
  readonly kid: string | undefined;
}

export interface ParsedToken {
  readonly header: TokenHeader;
  readonly payload: Readonly<Record<string, unknown>>;
  /** The payload as sent (base64url of its JSON): forwarded as is, never re-encoded. */
  readonly payloadSegment: string;
}

const SEGMENT = /^[A-Za-z0-9_-]*$/;
const MAX_KID = 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseToken(token: string, allowed: ReadonlySet<string>, maxBytes: number): ParsedToken | JwtProblem {
  if (token.length > maxBytes) return problem('jwt_too_large', `token of ${token.length} bytes exceeds maxTokenBytes ${maxBytes}`);
  const parts = token.split('.');
  if (parts.length === 5) return problem('jwt_malformed', 'encrypted tokens (JWE) are not accepted');
  if (parts.length !== 3) return problem('jwt_malformed', `a JWT has 3 dot-separated parts, this one ${parts.length}`);
  const [h = '', p = '', s = ''] = parts;
  if (h === '' || p === '') return problem('jwt_malformed', 'empty header or payload');
  const header = decodeObject(h, 'header');
  if (header instanceof JwtProblem) return header;
  const alg = header['alg'];
  if (typeof alg !== 'string' || alg === '') return problem('jwt_malformed', 'header has no alg');
  if (alg.toLowerCase() === 'none') return problem('jwt_alg_not_allowed', 'alg none is never accepted');
  if (!allowed.has(alg)) return problem('jwt_alg_not_allowed', `alg ${alg.slice(0, 32)} is not in the policy's algorithms`);
  if (header['crit'] !== undefined) return problem('jwt_crit_unsupported', 'header lists critical extensions; none is supported');
  const kid = header['kid'];
  if (kid !== undefined && (typeof kid !== 'string' || kid.length > MAX_KID)) return problem('jwt_malformed', 'kid is not a string of at most 1024 characters');
  if (s === '') return problem('jwt_signature_invalid', 'token has no signature');
  if (!canonical(s)) return problem('jwt_malformed', 'signature is not canonical base64url');
  const payload = decodeObject(p, 'payload');
  if (payload instanceof JwtProblem) return payload;
  return { header: { alg, kid }, payload, payloadSegment: p };
}

/** base64url without padding whose decoding re-encodes to the same text (no stray bits). */
function canonical(segment: string): boolean {
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) return false;
  return Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

function decodeObject(segment: string, what: 'header' | 'payload'): Readonly<Record<string, unknown>> | JwtProblem {
  if (!canonical(segment)) return problem('jwt_malformed', `${what} is not canonical base64url`);
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    return problem('jwt_malformed', `${what} is not UTF-8 JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return problem('jwt_malformed', `${what} is not a JSON object`);
  return json as Record<string, unknown>;
}
