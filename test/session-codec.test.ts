import assert from 'node:assert/strict';
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { GatehouseError } from '../src/core/errors.js';
import type { Identity } from '../src/core/identity.js';
import { parseCookieHeader } from '../src/core/input.js';
import {
  SEAL_ALGORITHMS,
  SessionCodec,
  SessionIdSigner,
  SessionKeys,
  type OpenFailure,
  type SealAlgorithm,
} from '../src/session/codec.js';
import { buildExpiredCookies, buildSetCookies, compileCookieSpec, cookieProblem, heldParts, readCookie } from '../src/session/cookie.js';
import {
  createSessionRecord,
  parseSessionRecord,
  renewSessionRecord,
  sessionState,
  sessionTtlMs,
  timeoutsProblem,
  type SessionRecord,
  type SessionTimeouts,
} from '../src/session/record.js';

/** Every test ends in bounded time, whatever a dependency does. */
const BOUNDED = { timeout: 30_000 };

const OLD_SECRET = 'old-session-secret-0123456789abcdef';
const NEW_SECRET = 'new-session-secret-fedcba9876543210';
const SHOP = 'shop/storefront';
const ADMIN = 'shop/admin';
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const TIMEOUTS: SessionTimeouts = { absoluteMs: 86_400_000, idleMs: 1_800_000, renewBeforeMs: 600_000 };

const alice: Identity = {
  method: 'sso',
  consumerId: 'alice-id',
  username: 'alice',
  customId: 'c-42',
  credential: 'oidc:https://id.example.com',
  groups: ['staff', 'partners'],
  anonymous: false,
  claims: { email: 'alice@example.com', email_verified: true },
  headers: [],
};

function record(aud = SHOP, identity: Identity = alice): SessionRecord {
  return createSessionRecord(aud, identity, NOW, TIMEOUTS);
}

function codec(aud: string, secrets: string[], algorithm?: SealAlgorithm): SessionCodec {
  return new SessionCodec(SessionKeys.derive({ audience: aud, secrets }), { algorithm });
}

function reasonOf(c: SessionCodec, value: unknown): OpenFailure | 'ok' {
  const r = c.open(value as string);
  return r.ok ? 'ok' : r.reason;
}

describe('sealed session cookies', () => {
  for (const algorithm of SEAL_ALGORITHMS) {
    it(`a session sealed with ${algorithm} opens to the same record`, BOUNDED, () => {
      const c = codec(SHOP, [NEW_SECRET], algorithm);
      const sealed = c.seal(record());
      assert.match(sealed, /^[A-Za-z0-9_-]+$/);
      const bytes = Buffer.from(sealed, 'base64url');
      assert.equal(bytes[0], 1, 'format version');
      assert.equal(bytes[1], algorithm === 'aes-256-gcm' ? 1 : 2, 'algorithm id');
      assert.deepEqual(c.open(sealed), { ok: true, record: record() });
    });
  }

  it('sealing the same record twice gives different values (fresh nonce)', BOUNDED, () => {
    const c = codec(SHOP, [NEW_SECRET]);
    assert.notEqual(c.seal(record()), c.seal(record()));
  });

  it('a value sealed with chacha20-poly1305 still opens after switching to aes-256-gcm', BOUNDED, () => {
    const sealed = codec(SHOP, [NEW_SECRET], 'chacha20-poly1305').seal(record());
    assert.deepEqual(codec(SHOP, [NEW_SECRET], 'aes-256-gcm').open(sealed), { ok: true, record: record() });
  });

  it('rotation: a session sealed with the old secret opens once a new secret is put first', BOUNDED, () => {
    const before = codec(SHOP, [OLD_SECRET]);
    const during = codec(SHOP, [NEW_SECRET, OLD_SECRET]);
    const after = codec(SHOP, [NEW_SECRET]);
    const oldValue = before.seal(record());
    const newValue = during.seal(record());
    assert.deepEqual(during.open(oldValue), { ok: true, record: record() });
    assert.deepEqual(during.open(newValue), { ok: true, record: record() });
    assert.deepEqual(after.open(newValue), { ok: true, record: record() }, 'the first secret seals');
    assert.equal(reasonOf(after, oldValue), 'unknown_key');
    assert.equal(reasonOf(before, newValue), 'unknown_key');
  });

  it('a session sealed for another policy is wrong_audience, even with the same secret', BOUNDED, () => {
    const admin = codec(ADMIN, [NEW_SECRET]).seal(record(ADMIN));
    assert.equal(reasonOf(codec(SHOP, [NEW_SECRET]), admin), 'wrong_audience');
  });

  it('sealing a record of another policy is refused', BOUNDED, () => {
    assert.throws(
      () => codec(SHOP, [NEW_SECRET]).seal(record(ADMIN)),
      (e: unknown) => e instanceof GatehouseError && e.code === 'session_audience_mismatch',
    );
  });

  for (const algorithm of SEAL_ALGORITHMS) {
    it(`${algorithm}: flipping any bit of any byte is rejected, with the reason of the part hit`, BOUNDED, () => {
      const c = codec(SHOP, [NEW_SECRET], algorithm);
      const bytes = Buffer.from(c.seal(record()), 'base64url');
      const expected = (i: number): OpenFailure => {
        if (i === 0) return 'unsupported_version';
        if (i === 1) return 'unsupported_algorithm';
        if (i < 6) return 'unknown_key';
        if (i < 10) return 'wrong_audience';
        return 'tampered';
      };
      for (let i = 0; i < bytes.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const copy = Buffer.from(bytes);
          copy[i] = (copy[i] ?? 0) ^ (1 << bit);
          assert.equal(reasonOf(c, copy.toString('base64url')), expected(i), `byte ${i} bit ${bit}`);
        }
      }
    });
  }

  it('changing any character of the cookie text is rejected (no malleable encoding bits)', BOUNDED, () => {
    const c = codec(SHOP, [NEW_SECRET]);
    const sealed = c.seal(record());
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < sealed.length; i++) {
      for (const ch of alphabet) {
        if (ch === sealed[i]) continue;
        const changed = sealed.slice(0, i) + ch + sealed.slice(i + 1);
        assert.notEqual(reasonOf(c, changed), 'ok', `position ${i} -> ${ch}`);
      }
    }
  });

  it('every truncation and any extension is rejected', BOUNDED, () => {
    const c = codec(SHOP, [NEW_SECRET]);
    const sealed = c.seal(record());
    for (let n = 0; n < sealed.length; n++) {
      const reason = reasonOf(c, sealed.slice(0, n));
      assert.ok(reason === 'malformed' || reason === 'tampered', `prefix ${n}: ${reason}`);
    }
    assert.equal(reasonOf(c, `${sealed}AAAA`), 'tampered');
    assert.equal(reasonOf(c, ` ${sealed}`), 'malformed');
    assert.equal(reasonOf(c, `${sealed}=`), 'malformed');
  });

  it('garbage of every kind is rejected and never throws', BOUNDED, () => {
    const c = codec(SHOP, [NEW_SECRET, OLD_SECRET]);
    const fixed: unknown[] = ['', '.', '=', 'not base64!', 'AAAA', 'A'.repeat(39), 'A'.repeat(100_000), '\u0000', '💥'];
    for (const v of fixed) assert.notEqual(reasonOf(c, v), 'ok', JSON.stringify(v).slice(0, 40));
    for (const v of [null, undefined, 42, {}, [], Symbol('x')]) assert.equal(reasonOf(c, v), 'malformed');
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(Math.floor(Math.random() * 300));
      if (i % 2 === 0) bytes[0] = 1; // get past the version byte half the time
      if (i % 4 === 0 && bytes.length > 1) bytes[1] = 1 + (i % 3);
      assert.notEqual(reasonOf(c, bytes.toString('base64url')), 'ok');
      assert.notEqual(reasonOf(c, bytes.toString('latin1')), 'ok');
    }
  });

  it('the documented format opens when built by hand, and an authentic non-record is invalid_record', BOUNDED, () => {
    // version | alg | kid | aud tag | nonce | ciphertext | tag, keys by HKDF-SHA256 as documented in codec.ts
    const hkdf = (purpose: string, len: number): Buffer =>
      Buffer.from(
        hkdfSync('sha256', NEW_SECRET, 'gatehouse/session/v1', `gatehouse/session/v1/${purpose}\0${SHOP}`, len),
      );
    const audTag = createHash('sha256').update(`gatehouse/session/aud\0${SHOP}`).digest().subarray(0, 4);
    const build = (plaintext: string): string => {
      const header = Buffer.concat([Buffer.from([1, 1]), hkdf('kid', 4), audTag]);
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', hkdf('seal/aes-256-gcm', 32), nonce, { authTagLength: 16 });
      cipher.setAAD(Buffer.concat([header, Buffer.from(SHOP)]));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([header, nonce, body, cipher.getAuthTag()]).toString('base64url');
    };
    const c = codec(SHOP, [NEW_SECRET]);
    assert.deepEqual(c.open(build(JSON.stringify(record()))), { ok: true, record: record() });
    assert.equal(reasonOf(c, build('{"v":2}')), 'invalid_record');
    assert.equal(reasonOf(c, build('not json')), 'invalid_record');
    assert.equal(reasonOf(c, build(JSON.stringify({ ...record(), exp: 'tomorrow' }))), 'invalid_record');
  });

  it('secrets shorter than 32 bytes, an empty list or no audience are refused when the policy compiles', BOUNDED, () => {
    const refused = (secrets: string[], audience = SHOP): string => {
      try {
        SessionKeys.derive({ audience, secrets });
      } catch (e) {
        assert.ok(e instanceof GatehouseError);
        assert.equal(e.code, 'session_config_invalid');
        return e.message;
      }
      return 'accepted';
    };
    assert.equal(refused([NEW_SECRET, 'short']), 'session: secrets[1]: must be at least 32 bytes, got 5');
    assert.equal(refused([]), 'session: secrets: at least one secret is required');
    assert.equal(refused([NEW_SECRET], ''), 'session: audience must be a non-empty string');
  });
});

describe('signed session ids (store-backed sessions)', () => {
  const signer = (aud: string, secrets: string[]): SessionIdSigner =>
    new SessionIdSigner(SessionKeys.derive({ audience: aud, secrets }));

  it('a minted id verifies and is 32 random bytes', BOUNDED, () => {
    const s = signer(SHOP, [NEW_SECRET]);
    const a = s.mint();
    const b = s.mint();
    assert.match(a.cookieValue, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/);
    assert.equal(Buffer.from(a.id, 'base64url').length, 32);
    assert.notEqual(a.id, b.id);
    assert.deepEqual(s.verify(a.cookieValue), { ok: true, id: a.id });
  });

  it('a forged id, an altered id and an id of another policy are refused without a store lookup', BOUNDED, () => {
    const s = signer(SHOP, [NEW_SECRET]);
    const { id, cookieValue } = s.mint();
    const forgedId = randomBytes(32).toString('base64url');
    assert.deepEqual(s.verify(`${forgedId}.${cookieValue.split('.')[1]}`), { ok: false, reason: 'forged' });
    assert.deepEqual(s.verify(`${id}.${randomBytes(16).toString('base64url')}`), { ok: false, reason: 'forged' });
    const foreign = signer(ADMIN, [NEW_SECRET]).mint().cookieValue;
    assert.deepEqual(s.verify(foreign), { ok: false, reason: 'forged' });
    for (let i = 0; i < cookieValue.length; i++) {
      if (cookieValue[i] === '.') continue;
      const ch = cookieValue[i] === 'A' ? 'B' : 'A';
      const changed = cookieValue.slice(0, i) + ch + cookieValue.slice(i + 1);
      assert.equal(s.verify(changed).ok, false, `position ${i}`);
    }
  });

  it('malformed id cookies are refused as malformed', BOUNDED, () => {
    const s = signer(SHOP, [NEW_SECRET]);
    const { id, cookieValue } = s.mint();
    for (const v of ['', 'abc', id, `${cookieValue}.x`, `${id}.`, cookieValue.replace('.', ':'), ` ${cookieValue}`]) {
      assert.deepEqual(s.verify(v), { ok: false, reason: 'malformed' }, v);
    }
    assert.deepEqual(s.verify(42 as unknown as string), { ok: false, reason: 'malformed' });
  });

  it('rotation: an id signed with the old secret verifies after a new secret is put first', BOUNDED, () => {
    const old = signer(SHOP, [OLD_SECRET]).mint();
    assert.deepEqual(signer(SHOP, [NEW_SECRET, OLD_SECRET]).verify(old.cookieValue), { ok: true, id: old.id });
    assert.deepEqual(signer(SHOP, [NEW_SECRET]).verify(old.cookieValue), { ok: false, reason: 'forged' });
  });
});

describe('session cookies on the wire', () => {
  const strict = compileCookieSpec({ name: 'gh_session', sameSite: 'Strict' });

  it('a browser-session cookie carries exactly Path, Secure, HttpOnly and SameSite', BOUNDED, () => {
    assert.deepEqual(buildSetCookies(strict, 'abc', { kind: 'session' }, NOW), [
      'gh_session=abc; Path=/; Secure; HttpOnly; SameSite=Strict',
    ]);
  });

  it('a "remember me" cookie carries Expires and Max-Age; domain and path are kept', BOUNDED, () => {
    const spec = compileCookieSpec({ name: 'gh_session', path: '/app', domain: 'example.com', sameSite: 'Lax' });
    assert.deepEqual(buildSetCookies(spec, 'abc', { kind: 'persistent', expiresAt: NOW + 3_600_000 }, NOW), [
      'gh_session=abc; Expires=Wed, 15 Jan 2025 13:00:00 GMT; Max-Age=3600; Path=/app; Domain=example.com; ' +
        'Secure; HttpOnly; SameSite=Lax',
    ]);
    const plain = compileCookieSpec({ name: 'sid', secure: false, httpOnly: false });
    assert.deepEqual(buildSetCookies(plain, 'v', { kind: 'persistent', expiresAt: NOW + 1500 }, NOW), [
      'sid=v; Expires=Wed, 15 Jan 2025 12:00:01 GMT; Max-Age=1; Path=/; SameSite=Lax',
    ]);
  });

  it('logout expires the cookie and each of its parts with matching Path and Domain', BOUNDED, () => {
    const spec = compileCookieSpec({ name: 'gh_session', domain: 'example.com', sameSite: 'None' });
    const tail = '; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Domain=example.com; Secure; HttpOnly; SameSite=None';
    assert.deepEqual(buildExpiredCookies(spec), [`gh_session=${tail}`]);
    assert.deepEqual(buildExpiredCookies(spec, 3), [`gh_session=${tail}`, `gh_session_2=${tail}`, `gh_session_3=${tail}`]);
  });

  it('cookie settings browsers would drop are refused when the policy compiles', BOUNDED, () => {
    const refused = (o: Parameters<typeof compileCookieSpec>[0]): string => {
      const problem = cookieProblem(o);
      return problem === undefined ? 'accepted' : `${problem.field}: ${problem.message}`;
    };
    assert.equal(refused({ name: 'sid', sameSite: 'None', secure: false }), 'secure: SameSite=None requires secure: true');
    assert.equal(refused({ name: '__Host-sid', domain: 'example.com' }), 'name: a __Host- name requires secure: true, path / and no domain');
    assert.equal(refused({ name: 'bad name' }), 'name: must be a non-empty RFC 7230 token');
    assert.equal(refused({ name: 'sid', path: 'app' }), 'path: must start with / and hold no spaces, controls or ;');
    assert.equal(refused({ name: 'sid', domain: 'exa mple.com' }), 'domain: not a host name');
    assert.equal(refused({ name: 'sid', domain: 'example.com', sameSite: 'None' }), 'accepted');
    // Built directly (not from a policy), the same options are a programming error.
    assert.throws(() => compileCookieSpec({ name: 'bad name' }), (e: unknown) => e instanceof GatehouseError && e.code === 'session_config_invalid' && e.message === 'cookie name: must be a non-empty RFC 7230 token');
  });

  it('a long session is split across 3 cookies under 4000 bytes each and reassembled from the Cookie header', BOUNDED, () => {
    const c = codec(SHOP, [NEW_SECRET]);
    const big = record(SHOP, { ...alice, claims: { blob: 'x'.repeat(7000) } });
    const sealed = c.seal(big);
    const setCookies = buildSetCookies(strict, sealed, { kind: 'session' }, NOW);
    assert.equal(setCookies.length, 3);
    const pairs = setCookies.map((s) => s.slice(0, s.indexOf(';')));
    assert.deepEqual(
      pairs.map((p) => p.slice(0, p.indexOf('='))),
      ['gh_session', 'gh_session_2', 'gh_session_3'],
    );
    for (const p of pairs) assert.ok(Buffer.byteLength(p) <= 4000, `${Buffer.byteLength(p)} bytes`);
    assert.ok(pairs[0]?.startsWith('gh_session=3*'));
    for (const s of setCookies) assert.ok(s.endsWith('; Path=/; Secure; HttpOnly; SameSite=Strict'));
    // The browser sends them back in any order, among other cookies.
    const header = ['theme=dark', pairs[2], pairs[0], 'x=1', pairs[1]].join('; ');
    const cookies = parseCookieHeader(header);
    const read = readCookie(strict, cookies);
    assert.deepEqual(read, { kind: 'value', value: sealed, parts: 3 });
    assert.deepEqual(c.open(sealed), { ok: true, record: big });
    assert.equal(heldParts(strict, cookies), 3);
  });

  it('a split set missing a part, with a bad count or a stray * is malformed', BOUNDED, () => {
    const sealed = codec(SHOP, [NEW_SECRET]).seal(record(SHOP, { ...alice, claims: { blob: 'y'.repeat(7000) } }));
    const pairs = buildSetCookies(strict, sealed, { kind: 'session' }, NOW).map((s) => s.slice(0, s.indexOf(';')));
    const read = (...ps: (string | undefined)[]): unknown => readCookie(strict, parseCookieHeader(ps.join('; ')));
    assert.deepEqual(read(pairs[0], pairs[2]), { kind: 'malformed', reason: 'part 2 of 3 missing' });
    assert.deepEqual(read(pairs[0], pairs[1]), { kind: 'malformed', reason: 'part 3 of 3 missing' });
    assert.deepEqual(read(pairs[1], pairs[2]), { kind: 'absent' });
    assert.deepEqual(read('gh_session=9*abc'), { kind: 'malformed', reason: 'split count 9 out of range' });
    assert.deepEqual(read('gh_session=1*abc'), { kind: 'malformed', reason: 'split count 1 out of range' });
    assert.deepEqual(read('gh_session=ab*c'), { kind: 'malformed', reason: 'unexpected * in cookie value' });
    assert.deepEqual(read('gh_session=2*abc', 'gh_session_2=d*e'), { kind: 'malformed', reason: 'part 2 of 2 malformed' });
    assert.deepEqual(read('gh_session=2*abc', 'gh_session_2=def'), { kind: 'value', value: 'abcdef', parts: 2 });
    assert.deepEqual(read('other=1'), { kind: 'absent' });
  });

  it('a session that shrinks back to one cookie expires the stale parts', BOUNDED, () => {
    const out = buildSetCookies(strict, 'short', { kind: 'session' }, NOW, 3);
    const tail = '; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict';
    assert.deepEqual(out, [
      'gh_session=short; Path=/; Secure; HttpOnly; SameSite=Strict',
      `gh_session_2=${tail}`,
      `gh_session_3=${tail}`,
    ]);
  });

  it('a value beyond maxParts cookies, or holding characters a cookie cannot carry, is refused', BOUNDED, () => {
    const two = compileCookieSpec({ name: 'gh_session', maxParts: 2 });
    assert.throws(
      () => buildSetCookies(two, 'a'.repeat(9000), { kind: 'session' }, NOW),
      (e: unknown) => e instanceof GatehouseError && e.code === 'session_too_large',
    );
    for (const v of ['a;b', 'a b', 'a*b', 'a"b', 'é']) {
      assert.throws(
        () => buildSetCookies(strict, v, { kind: 'session' }, NOW),
        (e: unknown) => e instanceof GatehouseError && e.code === 'session_cookie_value_invalid',
      );
    }
  });
});

describe('session validity and renewal', () => {
  const r = record();

  it('a new session is valid, not yet due for renewal, and expires at its idle end', BOUNDED, () => {
    assert.deepEqual(r, {
      v: 1,
      aud: SHOP,
      sub: 'alice-id',
      username: 'alice',
      customId: 'c-42',
      credential: 'oidc:https://id.example.com',
      groups: ['staff', 'partners'],
      method: 'sso',
      claims: { email: 'alice@example.com', email_verified: true },
      iat: NOW,
      lat: NOW,
      exp: NOW + 86_400_000,
      idleExp: NOW + 1_800_000,
    });
    assert.deepEqual(sessionState(r, NOW, TIMEOUTS), { state: 'valid', renew: false, expiresAt: NOW + 1_800_000 });
    assert.equal(sessionTtlMs(r, NOW), 1_800_000);
  });

  it('renewal is due within renewBefore of the idle end; the idle end is expired', BOUNDED, () => {
    const idleEnd = NOW + 1_800_000;
    assert.equal(sessionState(r, idleEnd - 600_001, TIMEOUTS).state, 'valid');
    assert.deepEqual(sessionState(r, idleEnd - 600_001, TIMEOUTS), { state: 'valid', renew: false, expiresAt: idleEnd });
    assert.deepEqual(sessionState(r, idleEnd - 600_000, TIMEOUTS), { state: 'valid', renew: true, expiresAt: idleEnd });
    assert.deepEqual(sessionState(r, idleEnd - 1, TIMEOUTS), { state: 'valid', renew: true, expiresAt: idleEnd });
    assert.deepEqual(sessionState(r, idleEnd, TIMEOUTS), { state: 'expired', reason: 'idle' });
  });

  it('renewBefore equal to the idle timeout renews on every request', BOUNDED, () => {
    const every: SessionTimeouts = { ...TIMEOUTS, renewBeforeMs: TIMEOUTS.idleMs };
    assert.deepEqual(sessionState(r, NOW, every), { state: 'valid', renew: true, expiresAt: NOW + 1_800_000 });
  });

  it('renewal moves the idle end but never the absolute end', BOUNDED, () => {
    const at = NOW + 1_500_000;
    const renewed = renewSessionRecord(r, at, TIMEOUTS);
    assert.equal(renewed.lat, at);
    assert.equal(renewed.idleExp, at + 1_800_000);
    assert.equal(renewed.exp, r.exp);
    assert.equal(renewed.iat, r.iat);
    // Near the absolute end the idle end is capped there, and renewing is no longer offered.
    const late = renewSessionRecord(r, r.exp - 60_000, TIMEOUTS);
    assert.equal(late.idleExp, r.exp);
    assert.deepEqual(sessionState(late, r.exp - 1, TIMEOUTS), { state: 'valid', renew: false, expiresAt: r.exp });
    assert.deepEqual(sessionState(late, r.exp, TIMEOUTS), { state: 'expired', reason: 'absolute' });
  });

  it('timeouts shortened by the policy apply to existing sessions at once', BOUNDED, () => {
    const shorter: SessionTimeouts = { absoluteMs: 3_600_000, idleMs: 300_000, renewBeforeMs: 60_000 };
    assert.deepEqual(sessionState(r, NOW + 300_000, shorter), { state: 'expired', reason: 'idle' });
    const active = renewSessionRecord(r, NOW + 3_500_000, TIMEOUTS);
    assert.deepEqual(sessionState(active, NOW + 3_600_000, shorter), { state: 'expired', reason: 'absolute' });
  });

  it('a session from the future (clock jump, forged entry) is not valid', BOUNDED, () => {
    assert.deepEqual(sessionState(r, NOW - 60_000, TIMEOUTS), { state: 'not_yet_valid' });
    assert.equal(sessionState(r, NOW - 4_000, TIMEOUTS).state, 'valid', 'small skew between replicas is fine');
  });

  it('timeouts are checked once when the policy compiles', BOUNDED, () => {
    assert.equal(timeoutsProblem(TIMEOUTS), undefined);
    assert.equal(timeoutsProblem({ ...TIMEOUTS, idleMs: 0 }), 'idleTimeout must be a positive whole number of milliseconds');
    const renewProblem = 'renewBefore must be a positive whole number of milliseconds, at most idleTimeout';
    assert.equal(timeoutsProblem({ ...TIMEOUTS, renewBeforeMs: TIMEOUTS.idleMs + 1 }), renewProblem);
    assert.equal(timeoutsProblem({ ...TIMEOUTS, renewBeforeMs: 0 }), renewProblem);
    assert.equal(timeoutsProblem({ ...TIMEOUTS, renewBeforeMs: TIMEOUTS.idleMs }), undefined);
    assert.equal(timeoutsProblem({ ...TIMEOUTS, absoluteMs: 1.5 }), 'absoluteTimeout must be a positive whole number of milliseconds');
  });

  it('stored data that is not exactly a record is refused', BOUNDED, () => {
    assert.deepEqual(parseSessionRecord(JSON.parse(JSON.stringify(r))), r);
    const bad: unknown[] = [
      null,
      [],
      'x',
      { ...r, v: 2 },
      { ...r, sub: '' },
      { ...r, sub: 7 },
      { ...r, groups: 'staff' },
      { ...r, groups: [1] },
      { ...r, claims: [] },
      { ...r, iat: -1 },
      { ...r, exp: r.iat - 1 },
      { ...r, idleExp: r.exp + 1 },
      { ...r, lat: 1.5 },
      { ...r, username: 5 },
      { ...r, aud: 'a'.repeat(2000) },
    ];
    for (const b of bad) assert.equal(parseSessionRecord(b), undefined, JSON.stringify(b)?.slice(0, 60));
  });
});
