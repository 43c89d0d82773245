// One meaning of a request path. Routing, skip rules and endpoints compare this normal form, whatever
// spelling the client or the proxy used: unreserved characters percent-decoded, every other escape in
// uppercase hex, characters that must be escaped escaped, dot segments removed (RFC 3986 §5.2.4),
// repeated slashes merged. What cannot be normalized without guessing how the upstream reads it is
// refused: invalid escapes, control characters, `#`, backslashes, a dot segment with `;` parameters,
// and encoded `/` or `\` (the one refusal a policy may waive, see `allowEncodedSlashes`).

/** Path matching options, as bits: a policy's `pathMatching` and CheckInput.pathVariant. */
export const PATH_CASE_INSENSITIVE = 1;
export const PATH_STRIP_PARAMETERS = 2;

export type PathRefusal =
  | 'path_not_absolute' // not origin-form (`*`, absolute URI, empty)
  | 'path_bad_escape' // `%` not followed by two hex digits
  | 'path_control_char' // NUL or another control character, raw or encoded
  | 'path_fragment' // `#`
  | 'path_backslash' // raw `\`
  | 'path_dot_parameters'; // `..;x` / `.;x`: Tomcat and Spring read it as `..`, others as a name

export type NormalPath =
  | {
      readonly ok: true;
      readonly path: string;
      /** `%2F` or `%5C` appeared: kept as data in `path`, refused unless the policy allows them. */
      readonly encodedSlash: boolean;
    }
  | { readonly ok: false; readonly refusal: PathRefusal; readonly detail: string };

// A path made only of these, without `//` or a dot segment, is already in normal form.
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|;|$)/;

const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;
// Characters a path may carry raw besides the unreserved ones (RFC 3986 pchar and `/`).
const KEEP_RAW = new Uint8Array(128);
for (const c of "!$&'()*+,;=:@/") KEEP_RAW[c.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';

/** The normal form of a path (query already removed). */
export function normalizePath(raw: string): NormalPath {
  if (raw.charCodeAt(0) !== 47 /* / */) return refuse('path_not_absolute', 'path does not start with /');
  if (PLAIN.test(raw) && !raw.includes('//') && !DOT_SEGMENT.test(raw)) return { ok: true, path: raw, encodedSlash: false };
  const decoded = canonicalChars(raw);
  if (!decoded.ok) return decoded;
  return removeDotSegments(decoded.path, decoded.encodedSlash);
}

/** Escapes decoded or re-encoded per character; structure untouched. */
function canonicalChars(raw: string): NormalPath {
  let out = '';
  let encodedSlash = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return refuse('path_bad_escape', `invalid percent-encoding at offset ${i}`);
      const b = hi * 16 + lo;
      i += 2;
      if (b < 0x20 || b === 0x7f) return refuse('path_control_char', `encoded control character at offset ${i - 2}`);
      if (b < 128 && UNRESERVED[b] === 1) {
        out += String.fromCharCode(b);
        continue;
      }
      if (b === 0x2f || b === 0x5c) encodedSlash = true;
      out += `%${HEX[hi]}${HEX[lo]}`;
      continue;
    }
    if (c < 0x20 || c === 0x7f) return refuse('path_control_char', `control character at offset ${i}`);
    if (c === 35 /* # */) return refuse('path_fragment', 'path contains #');
    if (c === 92 /* \ */) return refuse('path_backslash', 'path contains a backslash');
    if (c < 128) {
      out += UNRESERVED[c] === 1 || KEEP_RAW[c] === 1 ? raw[i] : `%${HEX[c >> 4]}${HEX[c & 15]}`;
      continue;
    }
    // Non-ASCII: its UTF-8 bytes, escaped, so `/é` and `/%C3%A9` are one path.
    const cp = raw.codePointAt(i) ?? c;
    if (cp > 0xffff) i++;
    for (const byte of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return { ok: true, path: out, encodedSlash };
}

/** RFC 3986 §5.2.4 over segments, with empty segments (repeated slashes) dropped. */
function removeDotSegments(path: string, encodedSlash: boolean): NormalPath {
  const parts = path.split('/');
  const out: string[] = [];
  // The last segment decides whether the result ends with `/` (`/a/` and `/a/.` do, `/a` does not).
  let trailing = false;
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i] as string;
    const last = i === parts.length - 1;
    if (seg === '' || seg === '.') {
      trailing = last;
      continue;
    }
    if (seg === '..') {
      out.pop();
      trailing = last;
      continue;
    }
    const semi = seg.indexOf(';');
    if (semi !== -1) {
      const name = seg.slice(0, semi);
      if (name === '.' || name === '..') return refuse('path_dot_parameters', 'a dot segment carries ;parameters');
    }
    out.push(seg);
    trailing = false;
  }
  const joined = `/${out.join('/')}`;
  return { ok: true, path: trailing && out.length > 0 ? `${joined}/` : joined, encodedSlash };
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function refuse(refusal: PathRefusal, detail: string): NormalPath {
  return { ok: false, refusal, detail };
}

/** `;parameters` cut from every segment, repeated slashes merged again: how Tomcat or Spring match. */
export function stripPathParameters(path: string): string {
  if (!path.includes(';')) return path;
  const stripped = path.replace(/;[^/]*/g, '').replace(/\/{2,}/g, '/');
  return stripped === '' ? '/' : stripped;
}

/** Whether `prefix` matches `path` at a segment boundary: `/static` matches `/static/x`, not `/static-x`. */
export function matchesPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.endsWith('/') || path.charCodeAt(prefix.length) === 47;
}

/**
 * A path written in a policy (a prefix, a skip path, an endpoint path), in the form requests are
 * compared in under `options` (CheckInput.pathVariant bits). Refuses what is not in normal form, so
 * that a policy means exactly what it says: the message names the form to write instead.
 */
export function configuredPath(path: string, options: number, allowEncodedSlashes: boolean): { ok: true; path: string } | { ok: false; message: string } {
  const normal = normalizePath(path);
  if (!normal.ok) return { ok: false, message: `not a valid path: ${normal.detail}` };
  if (normal.path !== path) return { ok: false, message: `not in normal form: write "${normal.path}"` };
  if (normal.encodedSlash && !allowEncodedSlashes) return { ok: false, message: 'contains an encoded / or \\ (requests with one are refused unless pathMatching.allowEncodedSlashes)' };
  let out = (options & PATH_STRIP_PARAMETERS) !== 0 ? stripPathParameters(path) : path;
  if ((options & PATH_CASE_INSENSITIVE) !== 0) out = out.toLowerCase();
  return { ok: true, path: out };
}
