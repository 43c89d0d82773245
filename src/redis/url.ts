// Redis URLs, parsed without loading the client: `serve` checks --redis-url with the other settings
// (a usage error, exit 2) before anything is dialled, and the client connects from the same parse.
//
// URL forms (`rediss` variants use TLS; `user:password@` is optional everywhere):
//   redis://[user:password@]host[:port][/db]                                 one server (port 6379)
//   redis+sentinel://[user:password@]host[:port][,host[:port]...]/master[/db]   Sentinel (port 26379)
//   redis+cluster://[user:password@]host[:port][,host[:port]...]             Redis Cluster seed nodes
// IPv6 hosts go in brackets: `redis://[::1]:6379`. Credentials in the URL are percent-decoded.
import { GatehouseError } from '../core/errors.js';

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

export type RedisTarget =
  | { readonly kind: 'standalone'; readonly node: RedisNode; readonly db: number; readonly tls: boolean }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisNode[];
      readonly masterName: string;
      readonly db: number;
      readonly tls: boolean;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNode[]; readonly tls: boolean };

export interface ParsedRedisUrl {
  readonly target: RedisTarget;
  readonly username: string | undefined;
  readonly password: string | undefined;
}

const SCHEMES: Readonly<Record<string, { kind: RedisTarget['kind']; tls: boolean }>> = {
  redis: { kind: 'standalone', tls: false },
  rediss: { kind: 'standalone', tls: true },
  'redis+sentinel': { kind: 'sentinel', tls: false },
  'rediss+sentinel': { kind: 'sentinel', tls: true },
  'redis+cluster': { kind: 'cluster', tls: false },
  'rediss+cluster': { kind: 'cluster', tls: true },
};

/** The URL schemes accepted, for messages and help. */
export const REDIS_URL_SCHEMES: readonly string[] = Object.keys(SCHEMES);

/** Why a URL is refused; its text never repeats the URL, which may hold a password. */
class UrlProblem extends Error {}

/** The parsed URL, or why it is refused (never repeating the URL, which may hold a password). */
export function readRedisUrl(url: string): { readonly ok: true; readonly value: ParsedRedisUrl } | { readonly ok: false; readonly why: string } {
  try {
    return { ok: true, value: parse(url) };
  } catch (e) {
    if (e instanceof UrlProblem) return { ok: false, why: e.message };
    throw e;
  }
}

/** Parses a Redis URL; throws session_config_invalid naming what is wrong (never the URL itself). */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const read = readRedisUrl(url);
  if (!read.ok) throw new GatehouseError('session_config_invalid', `session redis url: ${read.why}`);
  return read.value;
}

function parse(url: string): ParsedRedisUrl {
  const m = /^([a-z+]+):\/\/([^/?#]*)(\/[^?#]*)?$/.exec(url);
  if (m === null) throw new UrlProblem('expected scheme://hosts[/path] with no query or fragment');
  const scheme = SCHEMES[m[1] ?? ''];
  if (scheme === undefined) throw new UrlProblem(`unknown scheme; use one of ${REDIS_URL_SCHEMES.join(', ')}`);
  let authority = m[2] ?? '';
  const path = (m[3] ?? '').replace(/^\//, '');
  let username: string | undefined;
  let password: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    username = decode(colon === -1 ? userinfo : userinfo.slice(0, colon)) || undefined;
    password = colon === -1 ? undefined : decode(userinfo.slice(colon + 1)) || undefined;
  }
  const defaultPort = scheme.kind === 'sentinel' ? 26379 : 6379;
  const nodes = authority.split(',').map((h) => parseNode(h, defaultPort));
  const segments = path === '' ? [] : path.split('/');
  switch (scheme.kind) {
    case 'standalone': {
      const node = nodes[0];
      if (node === undefined || nodes.length !== 1) throw new UrlProblem('redis:// takes exactly one host');
      if (segments.length > 1) throw new UrlProblem('path must be /<db>');
      const target = { kind: 'standalone' as const, node, db: parseDb(segments[0]), tls: scheme.tls };
      return { target, username, password };
    }
    case 'sentinel': {
      const masterName = segments[0];
      if (masterName === undefined || masterName === '') throw new UrlProblem('sentinel URL needs /<masterName>');
      if (segments.length > 2) throw new UrlProblem('path must be /<masterName>[/<db>]');
      const target = {
        kind: 'sentinel' as const,
        sentinels: nodes,
        masterName: decode(masterName),
        db: parseDb(segments[1]),
        tls: scheme.tls,
      };
      return { target, username, password };
    }
    case 'cluster':
      if (segments.length > 0) throw new UrlProblem('cluster URL takes no path (Redis Cluster has only db 0)');
      return { target: { kind: 'cluster', nodes, tls: scheme.tls }, username, password };
    default: {
      const never: never = scheme.kind;
      throw new Error(`unexpected scheme kind ${String(never)}`);
    }
  }
}

function parseNode(text: string, defaultPort: number): RedisNode {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?$/.exec(text);
  if (m === null || m[1] === undefined) throw new UrlProblem('each host must be host[:port]');
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) throw new UrlProblem('port out of range');
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function parseDb(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^[0-9]{1,3}$/.test(text)) throw new UrlProblem('db must be a number');
  return Number(text);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UrlProblem('bad percent-encoding');
  }
}
