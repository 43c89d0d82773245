// A shadow policy never holds a request up: the enforced answer is returned at once (synchronously for
// an in-memory decision) and the shadow evaluated afterwards; at most a bounded number are under way,
// beyond which one is skipped and counted, never queued without bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatehouseError } from '../src/core/errors.js';
import { CheckInput } from '../src/core/input.js';
import type { AuthnResult, Authenticator, CompiledPolicy } from '../src/core/ports.js';
import { SecretIndex } from '../src/config/secrets.js';
import { compilePolicy } from '../src/policy/compile.js';
import { PolicyIndex } from '../src/policy/index.js';
import { GatehouseEngine } from '../src/service/metered-engine.js';
import { silentLogger } from '../src/telemetry/log.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { eventually } from './support/eventually.js';

function compiled(name: string, spec: Record<string, unknown>): CompiledPolicy {
  const r = compilePolicy({ namespace: 'shop', name, generation: 1, creationTimestamp: undefined, origin: 'test', spec: { hosts: ['h.example.com'], ...spec } }, new SecretIndex(), { clock: Date.now });
  assert.ok(r.ok, JSON.stringify(r.problems));
  return r.policy;
}

/** A method whose answer waits until released: a stalled provider or store behind a shadow policy. */
function stalled(): { method: Authenticator; release: () => void; calls: () => number } {
  let release = (): void => undefined;
  const gate = new Promise<AuthnResult>((resolve) => {
    release = () => resolve({ kind: 'failure', error: new GatehouseError('key_unknown', 'released') });
  });
  let calls = 0;
  const method: Authenticator = {
    name: 'slow',
    type: 'apiKey',
    challenge: undefined,
    headerNames: [],
    presented: () => undefined,
    authenticate: () => {
      calls++;
      return gate;
    },
  };
  return { method, release, calls: () => calls };
}

async function shadowSamples(metrics: Metrics): Promise<string[]> {
  const m = await metrics.shadowDecisions.get();
  return m.values.map((v) => `${String(v.labels.policy)} ${String(v.labels.outcome)} ${String(v.labels.code)} ${v.value}`).sort();
}

describe('shadow evaluations after the answer, bounded', () => {
  it('answers at once while a shadow policy stalls; with one evaluation under way the next is skipped and counted', async () => {
    const slow = stalled();
    const live = compiled('live', { authentication: { methods: [] }, anonymous: { id: 'visitor' } });
    const shadow: CompiledPolicy = { ...compiled('next', { authentication: { methods: [] }, anonymous: { id: 'visitor' }, enforcement: 'shadow' }), authenticators: [slow.method] };
    const index = new PolicyIndex([{ policy: live, createdAt: undefined }, { policy: shadow, createdAt: undefined }]);
    const metrics = new Metrics({ processMetrics: false });
    const engine = new GatehouseEngine({ index: () => index, clock: Date.now, metrics, logger: silentLogger, onNoPolicy: 'deny', maxShadowEvaluations: 1 });
    const input = (): CheckInput => new CheckInput({ method: 'GET', scheme: 'https', host: 'h.example.com', path: '/', headers: new Map(), peer: '127.0.0.1' });

    const first = engine.check(input());
    assert.ok(!(first instanceof Promise), 'the answer is not held up by the shadow policy');
    assert.deepEqual([first.kind, first.code, first.policy], ['allow', 'anonymous', 'shop/live']);
    await eventually(() => slow.calls() === 1, 2000, 'the shadow evaluation under way');

    const second = engine.check(input());
    assert.ok(!(second instanceof Promise));
    assert.deepEqual([second.kind, second.code], ['allow', 'anonymous']);
    assert.deepEqual(await shadowSamples(metrics), ['shop/next skipped overloaded 1']);
    assert.equal(slow.calls(), 1, 'the skipped one was never started');

    slow.release();
    await eventually(async () => (await shadowSamples(metrics)).length === 2, 2000, 'the released evaluation counted');
    assert.deepEqual(await shadowSamples(metrics), ['shop/next skipped overloaded 1', 'shop/next would_deny key_unknown 1']);
    engine.check(input());
    await eventually(async () => (await shadowSamples(metrics)).includes('shop/next would_deny key_unknown 2'), 2000, 'room again for an evaluation');
  });
});
