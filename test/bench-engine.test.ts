// The in-process Check bench: each engine's answers are verified against what the scenario is named
// for, a mislabelled scenario stops the run, and its flags are read or refused by name.
// No timing is asserted: the machine running the tests is shared.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEngineTable, parseEngineCli, runEngineBench } from '../bench/engine-cpu.js';
import { BenchUsageError, select } from '../bench/options.js';
import type { Scenario } from '../bench/scenarios.js';

const quiet = (): void => undefined;

describe('the in-process Check bench', () => {
  it('measures API-key, first-seen JWT and forged JWT Checks against the no-op engine, every figure filled in', { timeout: 60_000 }, async () => {
    const o = { scenarios: select(['api-key allow (1 policy)', 'jwt allow (HS256, first-seen)', 'jwt deny (HS256, forged']), rounds: 3, batchMs: 20 };
    const results = await runEngineBench(o, quiet);
    assert.deepEqual(results.map((r) => r.name), ['api-key allow (1 policy)', 'jwt allow (HS256, first-seen)', 'jwt deny (HS256, forged signature)']);
    for (const r of results) {
      for (const f of [r.floor, r.gatehouse]) {
        assert.ok(f.cpuMicros > 0 && Number.isFinite(f.cpuMicros), `${r.name}: ${f.cpuMicros}`);
        assert.ok(f.cpuMicrosMin > 0 && f.cpuMicrosMin <= f.cpuMicros, `${r.name}: min ${f.cpuMicrosMin} of ${f.cpuMicros}`);
        assert.ok(f.bytesPerCheck > 0 && Number.isFinite(f.bytesPerCheck), `${r.name}: ${f.bytesPerCheck} bytes`);
      }
      assert.ok(Number.isFinite(r.addedMicros));
    }
    const table = formatEngineTable(results, o).split('\n');
    assert.match(table[0] ?? '', /^node v\d+\.\d+\.\d+; in one process, no network: .* 3 interleaved turns of 20 ms CPU per engine/);
    assert.match(table[2] ?? '', /^\| scenario +\| +floor µs \| +gatehouse µs \| added µs \| ratio \| floor bytes \| gatehouse bytes \|$/);
    assert.equal(table.length, 7);
    assert.match(table[4] ?? '', /^\| api-key allow \(1 policy\) +\| +[\d.]+ \(min [\d.]+\) \| +[\d.]+ \(min [\d.]+\) \| +-?[\d.]+ \| +[\d.]+ \| +[\d,]+ \| +[\d,]+ \|$/);
    assert.match(table[5] ?? '', /^\| jwt allow \(HS256, first-seen\) /);
    assert.match(table[6] ?? '', /^\| jwt deny \(HS256, forged signature\) /);
  });

  it('a scenario whose answers are not what it is named for stops the run with the difference', { timeout: 60_000 }, async () => {
    const [allow] = select(['api-key allow (1 policy)']);
    const [deny] = select(['api-key deny (1 policy)']);
    assert.ok(allow !== undefined && deny !== undefined);
    const mislabelled: Scenario = { ...deny, name: 'mislabelled', expect: allow.expect };
    await assert.rejects(runEngineBench({ scenarios: [mislabelled], rounds: 1, batchMs: 10 }, quiet), {
      message: 'mislabelled: gatehouse: expected an allow, got denied (status 16 key_unknown)',
    });
  });

  it('reads its flags, keeps gRPC scenarios only, and refuses bad ones by name', () => {
    const o = parseEngineCli(['--scenario', 'api-key allow (1 policy)', '--scenario', 'forward-auth', '--rounds', '4', '--batch-ms', '50']);
    assert.deepEqual(o.scenarios.map((s) => s.name), ['api-key allow (1 policy)']);
    assert.deepEqual([o.rounds, o.batchMs], [4, 50]);
    assert.deepEqual(parseEngineCli([]).scenarios.map((s) => s.transport), parseEngineCli([]).scenarios.map(() => 'grpc'));
    const refused = (argv: string[], message: string): void => assert.throws(() => parseEngineCli(argv), (e: unknown) => e instanceof BenchUsageError && e.message === message);
    refused(['--rounds', '0'], '--rounds: "0" is not a whole number from 1 to 99');
    refused(['--batch-ms', 'x'], '--batch-ms: "x" is not a whole number from 10 to 60000');
    refused(['--rounds'], '--rounds needs a value');
    refused(['--fast', '1'], 'unexpected argument "--fast"');
    refused(['--scenario', 'forward-auth'], 'no gRPC scenario selected (forward-auth scenarios need the network)');
    refused(['--scenario', 'no such thing'], '--scenario "no such thing" matches no scenario');
  });
});
