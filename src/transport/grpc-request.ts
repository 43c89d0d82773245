// CheckRequest -> CheckInput. Envoy sends headers either merged in the `headers` map or, with
// encode_raw_headers, one entry per header line in `header_map` with the value as raw bytes.
import { isUtf8 } from 'node:buffer';
import { GatehouseError } from '../core/errors.js';
import { CheckInput } from '../core/input.js';
import type { HeaderLine, HttpRequestFields, PeerFields } from './grpc-decode.js';
import { HeaderCollector, safeHeaderName } from './request-headers.js';

/** Headers the transport reads itself and does not pass on as request headers. */
interface Pseudo {
  authority: string;
  method: string;
  path: string;
  scheme: string;
}

/**
 * Builds the CheckInput for one HTTP request, or throws a GatehouseError the engine turns into a
 * deny. `maxHeaderBytes` bounds one header value and all headers together (names included).
 */
export function toCheckInput(http: HttpRequestFields, source: PeerFields | undefined, maxHeaderBytes: number): CheckInput {
  const collected = new HeaderCollector(maxHeaderBytes);
  const pseudo: Pseudo = { authority: '', method: '', path: '', scheme: '' };
  if (http.header_map !== undefined) readHeaderList(http.header_map.headers, collected, pseudo);
  else if (http.headers !== undefined) readHeaderMap(http.headers, collected, pseudo);

  const host = nonEmpty(http.host) ?? pseudo.authority;
  if (host === '') throw new GatehouseError('host_missing', 'CheckRequest has no host or :authority');
  const method = nonEmpty(http.method) ?? pseudo.method;
  const path = nonEmpty(http.path) ?? pseudo.path;
  if (method === '' || path === '') {
    throw new GatehouseError('request_malformed', 'CheckRequest has no method or path');
  }

  return new CheckInput({
    method,
    scheme: nonEmpty(http.scheme) ?? (pseudo.scheme === '' ? 'http' : pseudo.scheme),
    host,
    path,
    headers: collected.headers,
    peer: peerAddress(source),
    body: bodyOf(http),
    requestId: nonEmpty(http.id),
  });
}

function readHeaderList(list: readonly HeaderLine[], out: HeaderCollector, pseudo: Pseudo): void {
  for (const h of list) {
    const name = h.key.toLowerCase();
    let value: string;
    const raw = h.raw_value;
    if (raw !== undefined && raw.length > 0) {
      out.count(name, raw.length);
      if (!isUtf8(raw)) {
        throw new GatehouseError('header_malformed', `header ${safeHeaderName(name)} is not valid UTF-8`);
      }
      value = raw.toString('utf8');
    } else {
      value = h.value ?? '';
      out.count(name, value.length);
    }
    addHeader(name, value, out, pseudo);
  }
}

/** The `headers` map as decoded: key, value, key, value... A key repeated is joined like a repeated line. */
function readHeaderMap(pairs: readonly string[], out: HeaderCollector, pseudo: Pseudo): void {
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const key = pairs[i] as string;
    const value = pairs[i + 1] as string;
    out.count(key, value.length);
    addHeader(key.toLowerCase(), value, out, pseudo);
  }
}

function addHeader(name: string, value: string, out: HeaderCollector, pseudo: Pseudo): void {
  if (name.charCodeAt(0) === 58 /* ':' */) {
    // Pseudo-headers describe the request line; they are never forwarded as headers.
    switch (name) {
      case ':authority':
        pseudo.authority = value;
        break;
      case ':method':
        pseudo.method = value;
        break;
      case ':path':
        pseudo.path = value;
        break;
      case ':scheme':
        pseudo.scheme = value;
        break;
      default:
        break;
    }
    return;
  }
  out.add(name, value);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

function peerAddress(peer: PeerFields | undefined): string {
  const address = peer?.address;
  if (address === undefined) return '';
  return address.socket_address?.address ?? address.pipe?.path ?? '';
}

function bodyOf(http: HttpRequestFields): string | undefined {
  if (http.body !== undefined && http.body !== '') return http.body;
  if (http.raw_body !== undefined && http.raw_body.length > 0) return http.raw_body.toString('utf8');
  return undefined;
}
