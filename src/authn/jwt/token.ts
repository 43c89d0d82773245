// Strict reading of a compact JWS before any key is touched: size, three canonical base64url parts,
// a JSON object header and payload, an allowed `alg`, no `crit`, no unencoded payload (`b64`).
// Header members that carry keys or key URLs (jwk, jku, x5u, x5c) are never read.
import { JwtProblem, problem } from './errors.js';

export interface TokenHeader {
  readonly alg: string;
  readonly kid: string | undefined;
}

export interface ParsedToken {
  readonly header: TokenHeader;
  readonly payload: Readonly<Record<string, unknown>>;
  /** The payload as sent (base64url of its JSON): forwarded as is, never re-encoded. */
  readonly payloadSegment: string;
  /** The bytes the signature covers: `header.payload` exactly as sent (ASCII). */
  readonly signingInput: Buffer;
  readonly signature: Buffer;
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
  // RFC 7797 unencoded payloads must be listed in crit; one that is not is refused all the same.
  if (header['b64'] !== undefined && header['b64'] !== true) return problem('jwt_crit_unsupported', 'unencoded payloads (b64) are not supported');
  const kid = header['kid'];
  if (kid !== undefined && (typeof kid !== 'string' || kid.length > MAX_KID)) return problem('jwt_malformed', 'kid is not a string of at most 1024 characters');
  if (s === '') return problem('jwt_signature_invalid', 'token has no signature');
  const signature = canonical(s);
  if (signature === undefined) return problem('jwt_malformed', 'signature is not canonical base64url');
  const payload = decodeObject(p, 'payload');
  if (payload instanceof JwtProblem) return payload;
  // Every character of h and p is base64url (checked above), so latin1 is the exact ASCII.
  return { header: { alg, kid }, payload, payloadSegment: p, signingInput: Buffer.from(`${h}.${p}`, 'latin1'), signature };
}

/**
 * The bytes of base64url without padding whose decoding re-encodes to the same text (no stray
 * bits, no other alphabet); undefined for anything else. With the alphabet checked, the text is
 * canonical exactly when the bits of the last character that carry no byte are zero: 4 of them after
 * a lone byte (length 2 mod 4), 2 after two bytes (length 3 mod 4).
 */
function canonical(segment: string): Buffer | undefined {
  const rest = segment.length % 4;
  if (rest === 1 || !SEGMENT.test(segment)) return undefined;
  if (rest !== 0 && (sextet(segment.charCodeAt(segment.length - 1)) & (rest === 2 ? 0b1111 : 0b11)) !== 0) return undefined;
  return Buffer.from(segment, 'base64url');
}

/** The 6-bit value of a base64url character (the alphabet is already checked). */
function sextet(c: number): number {
  if (c >= 65 && c <= 90) return c - 65; // A-Z
  if (c >= 97 && c <= 122) return c - 71; // a-z
  if (c >= 48 && c <= 57) return c + 4; // 0-9
  return c === 45 ? 62 : 63; // - _
}

function decodeObject(segment: string, what: 'header' | 'payload'): Readonly<Record<string, unknown>> | JwtProblem {
  const bytes = canonical(segment);
  if (bytes === undefined) return problem('jwt_malformed', `${what} is not canonical base64url`);
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch {
    return problem('jwt_malformed', `${what} is not UTF-8 JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return problem('jwt_malformed', `${what} is not a JSON object`);
  return json as Record<string, unknown>;
}
