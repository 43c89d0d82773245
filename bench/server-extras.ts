// What a bench server needs beyond its policies, written by a PolicySet next to its manifests as
// `.bench-server.json` (a dotfile, so the policy file source never reads it) and read by server.ts:
// a token cache size, or a redis-server of its own holding sessions. The Redis lives and dies with
// the server process, which the harness already stops after use and kills on error or interrupt.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSessionIdShape } from '../src/session/codec.js';
import { parseSessionRecord, sessionTtlMs, type SessionRecord } from '../src/session/record.js';
import { connectRedisSessionStore } from '../src/session/redis-store.js';
import { startRedis, type RedisServer } from '../test/support/redis.js';

export const EXTRAS_FILE = '.bench-server.json';

/** A session record to store under `id` before the server starts. */
export interface SeededSession {
  readonly id: string;
  readonly record: SessionRecord;
}

export interface ServerExtras {
  /** Verified-token cache size; 0 makes every JWT Check verify the signature, as for a token never seen. */
  readonly jwtTokenCacheSize?: number;
  /** Start a redis-server for this server (given as --redis-url) holding these sessions. */
  readonly redisSessions?: readonly SeededSession[];
}

export class ServerExtrasError extends Error {
  override readonly name = 'ServerExtrasError';
  readonly code = 'bench_server_extras_invalid';
}

export function writeServerExtras(dir: string, extras: ServerExtras): void {
  writeFileSync(join(dir, EXTRAS_FILE), JSON.stringify(extras));
}

/** The extras of a policies directory; none when it has no extras file. Throws on a malformed one. */
export function readServerExtras(dir: string): ServerExtras {
  const file = join(dir, EXTRAS_FILE);
  if (!existsSync(file)) return {};
  const bad = (why: string): never => {
    throw new ServerExtrasError(`${file}: ${why}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return bad(`not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('not an object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'jwtTokenCacheSize' && k !== 'redisSessions') bad(`unknown field ${k}`);
  const size = o['jwtTokenCacheSize'];
  if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)) bad('jwtTokenCacheSize is not a whole number >= 0');
  const sessions = o['redisSessions'];
  let seeded: SeededSession[] | undefined;
  if (sessions !== undefined) {
    if (!Array.isArray(sessions)) return bad('redisSessions is not a list');
    const list: readonly unknown[] = sessions;
    seeded = list.map((s, i): SeededSession => {
      const entry = typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {};
      const id = entry['id'];
      const record = parseSessionRecord(entry['record']);
      if (!isSessionIdShape(id)) return bad(`redisSessions[${i}].id is not a session id`);
      if (record === undefined) return bad(`redisSessions[${i}].record is not a session record`);
      return { id, record };
    });
  }
  return { ...(typeof size === 'number' ? { jwtTokenCacheSize: size } : {}), ...(seeded === undefined ? {} : { redisSessions: seeded }) };
}

/** A fresh redis-server holding the sessions (written through the store gatehouse reads them with). */
export async function startSeededRedis(sessions: readonly SeededSession[]): Promise<RedisServer> {
  const redis = await startRedis();
  try {
    const store = await connectRedisSessionStore({ url: redis.url });
    try {
      const now = Date.now();
      for (const { id, record } of sessions) {
        const ttlMs = sessionTtlMs(record, now);
        if (ttlMs <= 0) throw new ServerExtrasError(`session ${id.slice(0, 6)}... has already expired`);
        await store.put(id, record, ttlMs);
      }
    } finally {
      await store.close();
    }
    return redis;
  } catch (e) {
    await redis.stop();
    throw e;
  }
}
