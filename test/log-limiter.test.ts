// A flood of requests that each fail the same way (Redis down, a provider's introspection cap full)
// writes one warning per key and window, not one per request: the first in full, the rest counted, and
// the count carried by the key's next line once the window has closed. Metrics still count every one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Deny } from '../src/core/decision.js';
import { GatehouseError } from '../src/core/errors.js';
import { CheckInput } from '../src/core/input.js';
import { GatehouseEngine } from '../src/service/metered-engine.js';
import { createLogger } from '../src/telemetry/log.js';
import { limitWarnings, LOG_MAX_KEYS, LOG_WINDOW_MS, LogLimiter, reportSuppressed, type Summary } from '../src/telemetry/log-limiter.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { eventually } from './support/eventually.js';
import { authPolicy, yamlOf } from './support/fixtures.js';
import { startTestGatehouse } from './support/gatehouse.js';

/** A clock the test moves. */
function manualClock(start = 1000): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

/** JSON log lines without their time stamp. */
function lines(): { sink: (line: string) => void; read: () => Record<string, unknown>[]; peek: () => number } {
  const out: string[] = [];
  return {
    sink: (line) => void out.push(line),
    peek: () => out.length,
    read: () =>
      out.splice(0).map((l) => {
        const { time, ...rest } = JSON.parse(l) as Record<string, unknown>;
        assert.equal(typeof time, 'string');
        return rest;
      }),
  };
}

describe('LogLimiter', () => {
  it('admits the first occurrence of a key, counts the rest of its window, and hands the count to the first after it', () => {
    const clock = manualClock();
    const limiter = new LogLimiter({ windowMs: 10_000, clock: clock.now });
    assert.equal(limiter.admit('a'), 0);
    for (let i = 0; i < 5; i++) assert.equal(limiter.admit('a'), undefined);
    clock.advance(9_999);
    assert.equal(limiter.admit('a'), undefined);
    clock.advance(1);
    assert.equal(limiter.admit('a'), 6);
    // The new window opened at that line: counted again until it closes.
    assert.equal(limiter.admit('a'), undefined);
    clock.advance(10_000);
    assert.equal(limiter.admit('a'), 1);
    // A quiet window: nothing was suppressed.
    clock.advance(60_000);
    assert.equal(limiter.admit('a'), 0);
    assert.equal(limiter.size, 1);
  });

  it('keeps a window per key', () => {
    const clock = manualClock();
    const limiter = new LogLimiter({ windowMs: 100, clock: clock.now });
    assert.deepEqual([limiter.admit('a'), limiter.admit('b'), limiter.admit('a'), limiter.admit('a'), limiter.admit('b')], [0, 0, undefined, undefined, undefined]);
    clock.advance(50);
    assert.equal(limiter.admit('c'), 0);
    clock.advance(50);
    assert.deepEqual([limiter.admit('a'), limiter.admit('b'), limiter.admit('c')], [2, 1, undefined]);
  });

  it('a clock that goes backwards closes the window instead of holding it open', () => {
    const clock = manualClock(50_000);
    const limiter = new LogLimiter({ windowMs: 10_000, clock: clock.now });
    assert.equal(limiter.admit('a'), 0);
    assert.equal(limiter.admit('a'), undefined);
    clock.set(1_000);
    assert.equal(limiter.admit('a'), 1);
    assert.equal(limiter.admit('a'), undefined);
  });

  it('tracks at most maxKeys keys, forgetting the one whose window opened first', () => {
    const clock = manualClock();
    const limiter = new LogLimiter({ windowMs: 1_000, maxKeys: 3, clock: clock.now });
    for (const k of ['a', 'b', 'c']) assert.equal(limiter.admit(k), 0);
    assert.equal(limiter.admit('a'), undefined);
    clock.advance(1_000);
    // a's window reopens: it is now the newest, b the oldest.
    assert.equal(limiter.admit('a'), 1);
    assert.equal(limiter.admit('d'), 0);
    assert.equal(limiter.size, 3);
    // b was forgotten: admitted again at once, as new; c and a are still in their windows.
    assert.equal(limiter.admit('b'), 0);
    assert.equal(limiter.size, 3);
    assert.deepEqual([limiter.admit('a'), limiter.admit('d'), limiter.admit('b')], [undefined, undefined, undefined]);
    // c went when b came back.
    assert.equal(limiter.admit('c'), 0);
  });

  it('a flood of distinct keys stays within the default cap of 1,000', () => {
    const limiter = new LogLimiter({ clock: () => 0 });
    assert.deepEqual([LOG_WINDOW_MS, LOG_MAX_KEYS], [10_000, 1_000]);
    for (let i = 0; i < 50_000; i++) assert.equal(limiter.admit(`code-${i}`), 0);
    assert.equal(limiter.size, 1_000);
    assert.equal(limiter.admit('code-49999'), undefined);
    assert.equal(limiter.admit('code-48999'), 0);
  });

  it('refuses a window that is not a finite number >= 0 and a cap that is not a whole number >= 1', () => {
    for (const windowMs of [-1, Number.NaN, Infinity]) assert.throws(() => new LogLimiter({ windowMs }), { name: 'RangeError', message: `log window must be a finite number of milliseconds >= 0, not ${windowMs}` });
    for (const maxKeys of [0, 1.5, -3]) assert.throws(() => new LogLimiter({ maxKeys }), { name: 'RangeError', message: `log limiter keys must be a whole number >= 1, not ${maxKeys}` });
    for (const sweepEveryMs of [0, 1.5, -3, Number.NaN, 2 ** 31]) {
      assert.throws(() => new LogLimiter({ sweepEveryMs }), { name: 'RangeError', message: `log sweep interval must be a whole number of milliseconds from 1 to ${2 ** 31 - 1}, not ${sweepEveryMs}` });
    }
    // The sweep follows the window, at least once a second, never past what a timer takes.
    assert.deepEqual(
      [new LogLimiter().sweepEveryMs, new LogLimiter({ windowMs: 50 }).sweepEveryMs, new LogLimiter({ windowMs: 2500.5 }).sweepEveryMs, new LogLimiter({ windowMs: 1e12 }).sweepEveryMs, new LogLimiter({ sweepEveryMs: 7 }).sweepEveryMs],
      [LOG_WINDOW_MS, 1000, 2501, 2 ** 31 - 1, 7],
    );
    // A window of 0 limits nothing.
    const limiter = new LogLimiter({ windowMs: 0, clock: () => 5 });
    assert.deepEqual([limiter.admit('a'), limiter.admit('a')], [0, 0]);
  });
});

describe('LogLimiter.sweep', () => {
  const summary = (code: string): (() => Summary) => () => ({ msg: 'check failed', fields: { code } });

  it('reports a closed window with occurrences not logged once, forgets every closed window, and leaves open ones', () => {
    const clock = manualClock();
    const limiter = new LogLimiter({ windowMs: 10_000, clock: clock.now });
    assert.equal(limiter.admit('flood', summary('a')), 0);
    for (let i = 0; i < 7; i++) assert.equal(limiter.admit('flood', summary('a')), undefined);
    assert.equal(limiter.admit('once', summary('b')), 0);
    assert.equal(limiter.admit('bare'), 0);
    assert.equal(limiter.admit('bare'), undefined);
    clock.advance(5_000);
    assert.equal(limiter.admit('late', summary('c')), 0);
    assert.equal(limiter.admit('late', summary('c')), undefined);
    assert.deepEqual(limiter.sweep(), []);
    assert.equal(limiter.size, 4);
    clock.advance(5_000);
    // 'flood' reported; 'once' (nothing suppressed) and 'bare' (no summary) forgotten silently; 'late' still open.
    assert.deepEqual(limiter.sweep(), [{ summary: { msg: 'check failed', fields: { code: 'a' } }, suppressed: 7 }]);
    assert.equal(limiter.size, 1);
    assert.deepEqual(limiter.sweep(), []);
    // Its count was reported: the next occurrence opens a window without carrying it again.
    assert.equal(limiter.admit('flood', summary('a')), 0);
    clock.advance(5_000);
    assert.deepEqual(limiter.sweep(), [{ summary: { msg: 'check failed', fields: { code: 'c' } }, suppressed: 1 }]);
  });

  it('asks for the summary only when a window opens', () => {
    const clock = manualClock();
    const limiter = new LogLimiter({ windowMs: 10_000, clock: clock.now });
    let asked = 0;
    const thunk = (): Summary => {
      asked++;
      return { msg: 'm', fields: {} };
    };
    for (let i = 0; i < 1000; i++) limiter.admit('k', thunk);
    assert.equal(asked, 1);
    clock.advance(10_000);
    limiter.admit('k', thunk);
    assert.equal(asked, 2);
  });

  it('reportSuppressed logs what sweep finds, every window, until stopped', async () => {
    const log = lines();
    const limiter = new LogLimiter({ windowMs: 50 });
    const warn = limitWarnings(createLogger('warn', log.sink), limiter, (msg, f) => `${msg}\0${String(f?.code)}`, (msg, f) => ({ msg, fields: { code: f?.code } }));
    const stop = reportSuppressed(createLogger('warn', log.sink), limiter);
    try {
      for (let i = 0; i < 5; i++) warn.warn('transport failure', { code: 'internal_error', error: `boom ${i}` });
      assert.deepEqual(log.read(), [{ level: 'warn', msg: 'transport failure', code: 'internal_error', error: 'boom 0' }]);
      // The sweep runs at most once a second; a busy machine may delay the timer.
      const deadline = Date.now() + 5000;
      while (log.peek() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(log.read(), [{ level: 'warn', msg: 'transport failure', code: 'internal_error', suppressed: 4 }]);
    } finally {
      stop();
    }
    warn.warn('transport failure', { code: 'internal_error', error: 'again' });
    warn.warn('transport failure', { code: 'internal_error', error: 'again' });
    await new Promise((r) => setTimeout(r, 1300));
    assert.deepEqual(log.read(), [{ level: 'warn', msg: 'transport failure', code: 'internal_error', error: 'again' }]);
  });
});

describe('limitWarnings', () => {
  it('logs the first warning per key in full and the next after the window with suppressed', () => {
    const clock = manualClock();
    const log = lines();
    const warn = limitWarnings(createLogger('warn', log.sink), new LogLimiter({ windowMs: 10_000, clock: clock.now }), (msg, f) => `${msg}\0${String(f?.code)}`);
    for (let i = 0; i < 4; i++) warn.warn('check failed', { code: 'internal_error', error: `boom ${i}` });
    warn.warn('check failed', { code: 'other', error: 'x' });
    clock.advance(10_000);
    warn.warn('check failed', { code: 'internal_error', error: 'boom 4' });
    warn.warn('check failed', { code: 'other', error: 'y' });
    assert.deepEqual(log.read(), [
      { level: 'warn', msg: 'check failed', code: 'internal_error', error: 'boom 0' },
      { level: 'warn', msg: 'check failed', code: 'other', error: 'x' },
      { level: 'warn', msg: 'check failed', code: 'internal_error', error: 'boom 4', suppressed: 3 },
      { level: 'warn', msg: 'check failed', code: 'other', error: 'y' },
    ]);
  });
});

describe('the service reports a flood that stopped', () => {
  it('a policy invalid from the start: the first check failed line in full, the other four as one line once the window closes', { timeout: 30_000 }, async () => {
    const log = lines();
    const g = await startTestGatehouse(
      {
        // Invalid from the start (a selector that selects every Secret): its host is denied 503 policy_invalid.
        'broken.yaml': yamlOf(authPolicy('web', 'broken', { hosts: ['broken.example.com'], authentication: { methods: [{ name: 'k', apiKey: { selector: {} } }] } })),
      },
      { logger: createLogger('warn', log.sink), logLimiter: new LogLimiter({ windowMs: 2000, sweepEveryMs: 200 }) },
    );
    try {
      await eventually(() => g.gatehouse.store.status('web', 'broken') !== undefined, 5000, 'broken status');
      // At once, well inside the 2 s window.
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => g.envoy.check({ host: 'broken.example.com', path: `/p${i}` })));
      for (const res of answers) assert.equal(res.kind === 'denied' && res.denied.status, 503);
      const failed = (): Record<string, unknown>[] => log.read().filter((l) => l.msg === 'check failed');
      const first = failed();
      assert.equal(first.length, 1, JSON.stringify(first));
      assert.match(String(first[0]?.path), /^\/p[0-4]$/);
      assert.equal(first[0]?.suppressed, undefined);
      const later: Record<string, unknown>[] = [];
      await eventually(() => (later.push(...failed()), later.length > 0), 10_000, 'the swept count');
      assert.deepEqual(later, [{ level: 'warn', msg: 'check failed', decision: 'deny', code: 'policy_invalid', policy: 'web/broken', status: 503, suppressed: 4 }]);
    } finally {
      await g.stop();
    }
  });
});

describe("the engine's check failed warnings", () => {
  const input = (path: string): CheckInput => new CheckInput({ method: 'GET', scheme: 'https', host: 'h.example.com', path, headers: new Map(), peer: '127.0.0.1', requestId: `r${path}` });

  it('one per policy, method and code per window; every deny still counted; a 401 is not warned', async () => {
    const clock = manualClock();
    const log = lines();
    const metrics = new Metrics({ processMetrics: false });
    const engine = new GatehouseEngine({
      index: () => undefined,
      clock: Date.now,
      metrics,
      logger: createLogger('warn', log.sink),
      onNoPolicy: 'deny',
      warnings: new LogLimiter({ windowMs: 10_000, clock: clock.now }),
    });
    const down = (policy: string): Deny => ({ ...engine.reject(new GatehouseError('session_store_unavailable', 'redis down')), policy, method: 'web' });
    for (let i = 0; i < 100; i++) engine.observe(down('shop/a'), 0.002, input(`/a${i}`));
    engine.observe(down('shop/b'), 0.004, input('/b'));
    engine.observe({ ...engine.reject(new GatehouseError('key_unknown', 'no such key')), policy: 'shop/a', method: 'web' }, 0.001, input('/c'));
    const first = { level: 'warn', msg: 'check failed', decision: 'deny', code: 'session_store_unavailable', method: 'web', host: 'h.example.com', verb: 'GET', status: 503, detail: 'redis down' };
    assert.deepEqual(log.read(), [
      { ...first, policy: 'shop/a', path: '/a0', request_id: 'r/a0', ms: 2 },
      { ...first, policy: 'shop/b', path: '/b', request_id: 'r/b', ms: 4 },
    ]);
    clock.advance(10_000);
    engine.observe(down('shop/a'), 0.003, input('/late'));
    engine.observe(down('shop/b'), 0.003, input('/b2'));
    assert.deepEqual(log.read(), [
      { ...first, policy: 'shop/a', path: '/late', request_id: 'r/late', ms: 3, suppressed: 99 },
      { ...first, policy: 'shop/b', path: '/b2', request_id: 'r/b2', ms: 3 },
    ]);
    const counted = (await metrics.checks.get()).values.map((v) => `${String(v.labels.policy)} ${String(v.labels.code)} ${v.value}`).sort();
    assert.deepEqual(counted, ['shop/a key_unknown 1', 'shop/a session_store_unavailable 101', 'shop/b session_store_unavailable 2']);
  });

  it('a flood that stops inside its window is reported once the window closes, by policy, method and code', () => {
    const clock = manualClock();
    const log = lines();
    const warnings = new LogLimiter({ windowMs: 10_000, clock: clock.now });
    const engine = new GatehouseEngine({ index: () => undefined, clock: Date.now, metrics: new Metrics({ processMetrics: false }), logger: createLogger('warn', log.sink), onNoPolicy: 'deny', warnings });
    const down: Deny = { ...engine.reject(new GatehouseError('session_store_unavailable', 'redis down')), policy: 'shop/a', method: 'web' };
    for (let i = 0; i < 40; i++) engine.observe(down, 0.002, input(`/a${i}`));
    assert.equal(log.read().length, 1);
    clock.advance(10_000);
    assert.deepEqual(warnings.sweep(), [
      { summary: { msg: 'check failed', fields: { decision: 'deny', code: 'session_store_unavailable', policy: 'shop/a', method: 'web', status: 503 } }, suppressed: 39 },
    ]);
  });
});
