// The OIDC bearer bench scenario measures what it is named for: a short run of the real instrument
// (a gatehouse server child process, h2load) whose verified answers are allows of the API client the
// provider stub's introspection names, the token introspected once and then answered from the cache.
// No timing is asserted: the machine running the tests is shared.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBench } from '../bench/harness.js';
import { select } from '../bench/options.js';
import { OIDC_BEARER, OIDC_BEARER_USERINFO, stubIntrospections } from '../bench/policies-oidc.js';
import { formatTable } from '../bench/report.js';

/** As the other bench tests: windows long enough to carry requests on a busy machine, short enough for a test. */
const TINY = { rounds: 1, durationMs: 1000, warmupMs: 200, rateDurationMs: 1000, deadlineMs: 5000, timeLimitMs: 110_000 } as const;

describe('the OIDC bearer bench scenario', () => {
  it('an opaque token is allowed as the API client, with the introspection answer as x-userinfo, introspected once', { timeout: 120_000 }, async () => {
    const before = stubIntrospections();
    const report = await runBench({ ...TINY, scenarios: select(['oidc allow (bearer, cached)']) });
    assert.equal(report.ok, true, formatTable(report));
    assert.deepEqual(report.results.map((r) => [r.name, r.transport, r.policies]), [['oidc allow (bearer, cached)', 'grpc', 1]]);
    const sample = report.results[0]?.sample;
    assert.ok(sample?.transport === 'grpc' && sample.response.kind === 'ok', JSON.stringify(sample));
    assert.deepEqual(sample.response.ok.headers, [
      { key: 'x-consumer-id', value: OIDC_BEARER.consumerId, append: false },
      { key: 'x-userinfo', value: OIDC_BEARER_USERINFO, append: false },
    ]);
    assert.deepEqual(JSON.parse(Buffer.from(OIDC_BEARER_USERINFO, 'base64').toString('utf8')), {
      active: true,
      sub: OIDC_BEARER.consumerId,
      client_id: 'bench-api',
      scope: 'orders:read',
      token_type: 'Bearer',
    });
    assert.deepEqual(sample.response.ok.headersToRemove, ['x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-authenticated-groups', 'x-anonymous-consumer', 'x-access-token', 'x-id-token']);
    assert.equal(stubIntrospections() - before, 1, 'every Check after the first is answered from the cache');
  });
});
