// The bench reads its goals off one report: each goal's figure best-of and paired, its target, and a
// verdict that says which of the two met it. A goal whose scenario did not run is not listed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goalCells, goalRows, GOALS } from '../bench/goals.js';
import type { BenchReport, Figures, ScenarioResult } from '../bench/harness.js';
import { formatJson, formatTable } from '../bench/report.js';

const MB = 1024 * 1024;

function figures(rps: number, meanMicros: number): Figures {
  return {
    rps,
    meanMicros,
    rpsByRound: [rps],
    meanByRound: [meanMicros],
    rate: rps / 2,
    achievedRate: rps / 2,
    rateRequests: rps,
    p50Micros: 100,
    p99Micros: 200,
    p999Micros: 300,
    serverCpu: 0.98,
    cpuMicrosPerCheck: 40,
    cpuMicrosPerCheckAt1: 60,
    loadCpu: 0.1,
    bytesPerCheck: 25_000,
    lateChecks: 0,
  };
}

interface Measured {
  readonly ratio: number;
  readonly paired: number;
  readonly added: number;
  readonly pairedAdded: number;
  readonly rssMb: number;
  /** A signature floor's ratio to the floor, best-of and paired. */
  readonly signature?: { readonly ratio: number; readonly paired: number };
}

function scenario(name: string, m: Measured): ScenarioResult {
  const floor = figures(30_000, 60);
  return {
    name,
    transport: name.startsWith('forward-auth') ? 'http' : 'grpc',
    policies: 1,
    gatehouse: figures(30_000 * m.ratio, 60 + m.added),
    floor,
    ratio: m.ratio,
    addedMicros: m.added,
    pairedRatio: m.paired,
    pairedAddedMicros: m.pairedAdded,
    beside: floor,
    besideRatio: m.ratio,
    besideAddedMicros: m.added,
    besideAddedCpuMicros: 2,
    besideAddedCpuMicrosAt1: 2,
    besidePairedRatio: m.paired,
    besidePairedAddedMicros: m.pairedAdded,
    signature: m.signature === undefined ? undefined : figures(30_000 * m.signature.ratio, 70),
    signatureRatio: m.signature?.ratio ?? Number.NaN,
    signaturePairedRatio: m.signature?.paired ?? Number.NaN,
    overSignature: m.signature === undefined ? Number.NaN : m.ratio / m.signature.ratio,
    overSignaturePaired: m.signature === undefined ? Number.NaN : m.paired / m.signature.paired,
    rssIdleBytes: 60 * MB,
    rssAfterBytes: m.rssMb * MB,
    serverPid: 1,
    problem: undefined,
    sample: undefined,
  };
}

function report(results: readonly ScenarioResult[], scaling: number | undefined): BenchReport {
  return {
    node: 'v20.20.2',
    rounds: 6,
    durationMs: 1000,
    warmupMs: 250,
    rateDurationMs: 2000,
    settleMs: 5000,
    floorRssIdleBytes: 57 * MB,
    floorRssAfterBytes: 160 * MB,
    results,
    scaling,
    scalingRaw: scaling,
    ok: true,
  };
}

const ALL = report(
  [
    scenario('api-key allow (1 policy)', { ratio: 0.9, paired: 0.88, added: 6, pairedAdded: 7, rssMb: 176 }),
    scenario('jwt allow (ES256, cached)', { ratio: 0.84, paired: 0.91, added: 11, pairedAdded: 10, rssMb: 180 }),
    scenario('session allow (cookie)', { ratio: 0.95, paired: 0.93, added: 10, pairedAdded: 12, rssMb: 170 }),
    scenario('session allow (redis)', { ratio: 0.7, paired: 0.69, added: 9, pairedAdded: 9, rssMb: 184 }),
    scenario('session allow (oidc)', { ratio: 0.84, paired: 0.85, added: 13, pairedAdded: 12, rssMb: 178 }),
    scenario('jwt allow (ES256, first-seen)', { ratio: 0.25, paired: 0.29, added: 121, pairedAdded: 121, rssMb: 172, signature: { ratio: 0.375, paired: 0.36 } }),
    scenario('forward-auth allow (nginx, api-key)', { ratio: 0.74, paired: 0.74, added: 4, pairedAdded: 4, rssMb: 104 }),
    scenario('api-key allow (10,000 policies, 100,000 keys)', { ratio: 0.88, paired: 0.91, added: 7, pairedAdded: 10, rssMb: 240 }),
  ],
  1.01,
);

describe('bench goals', () => {
  it('a full run: every goal with its scenario, both figures, the target and the verdict', () => {
    assert.deepEqual(goalCells(goalRows(ALL)), [
      ['throughput / floor at 64 in flight', 'api-key allow (1 policy)', '0.90', '0.88', '≥ 0.9', 'best-of only', ''],
      ['throughput / floor at 64 in flight', 'jwt allow (ES256, cached)', '0.84', '0.91', '≥ 0.9', 'paired only', ''],
      ['throughput / floor at 64 in flight', 'session allow (cookie)', '0.95', '0.93', '≥ 0.9', 'yes', ''],
      ['throughput / floor at 64 in flight', 'session allow (oidc)', '0.84', '0.85', '≥ 0.9', 'no', ''],
      ['throughput / floor at 64 in flight', 'session allow (redis)', '0.70', '0.69', '≥ 0.7', 'best-of only', ''],
      ['throughput / floor at 64 in flight', 'jwt allow (ES256, first-seen)', '0.25', '0.29', '≥ 0.5', 'no', '0.38 / 0.36'],
      ['added µs at 1 in flight', 'api-key allow (1 policy)', '6', '7', '≤ 10', 'yes', ''],
      ['added µs at 1 in flight', 'jwt allow (ES256, cached)', '11', '10', '≤ 10', 'paired only', ''],
      ['added µs at 1 in flight', 'session allow (cookie)', '10', '12', '≤ 10', 'best-of only', ''],
      ['added µs at 1 in flight', 'session allow (oidc)', '13', '12', '≤ 10', 'no', ''],
      // The 10,000-policy server (240 MB, 1.50) holds its policy set: it is shown beside the goals.
      ['RSS after load / floor, highest', 'session allow (redis)', '1.15', '', '≤ 1.3', 'yes', ''],
      ['scaling: 10,000 policies / 1 policy, over each floor', 'api-key allow (10,000 policies, 100,000 keys)', '1.01', '', '≤ 1.1', 'yes', ''],
    ]);
  });

  it('the targets are the ones bench/README.md states', () => {
    assert.deepEqual({ ...GOALS }, { throughput: 0.9, redisThroughput: 0.7, firstSeenThroughput: 0.5, addedMicros: 10, rssOverFloor: 1.3, scaling: 1.1 });
  });

  it('goals of scenarios that did not run are left out; a figure that is not a number meets nothing', () => {
    const some = report([scenario('api-key allow (1 policy)', { ratio: Number.NaN, paired: 0.95, added: 3, pairedAdded: Number.NaN, rssMb: 150 }), scenario('forward-auth allow (nginx, api-key)', { ratio: 0.7, paired: 0.7, added: 4, pairedAdded: 4, rssMb: 100 })], undefined);
    assert.deepEqual(goalCells(goalRows(some)), [
      ['throughput / floor at 64 in flight', 'api-key allow (1 policy)', '-', '0.95', '≥ 0.9', 'paired only', ''],
      ['added µs at 1 in flight', 'api-key allow (1 policy)', '3', '-', '≤ 10', 'best-of only', ''],
      ['RSS after load / floor, highest', 'api-key allow (1 policy)', '0.94', '', '≤ 1.3', 'yes', ''],
    ]);
  });

  it('the table and the JSON carry them', () => {
    const table = formatTable(ALL);
    assert.match(table, /^Goals \(met: yes when the best-of and the paired figure both meet the target\)$/m);
    assert.match(table, /^\| goal +\| scenario +\| best-of \| paired \| target \| +met \| +bound \|$/m);
    assert.match(table, /^\| throughput \/ floor at 64 in flight +\| session allow \(oidc\) +\| +0\.84 \| +0\.85 \| +≥ 0\.9 \| +no \| +\|$/m);
    assert.match(table, /^\| throughput \/ floor at 64 in flight +\| jwt allow \(ES256, first-seen\) +\| +0\.25 \| +0\.29 \| +≥ 0\.5 \| +no \| 0\.38 \/ 0\.36 \|$/m);
    assert.match(table, /^bound: the ratio to the floor of the signature floor, /m);
    assert.match(table, /^- jwt allow \(ES256, first-seen\): signature floor 11,250 req\/s, mean 70 µs at 1 in flight; gatehouse served 0\.67 of it \(paired 0\.81\)$/m);
    // 240 MB after, 60 idle; the floor 160 after, 57 idle.
    assert.match(table, /^RSS after load at 10,000 policies \+ 100,000 keys: 1\.50 of the floor's \(which holds no policy\); load added 180 MB to its RSS at idle, 1\.75 of the 103 MB it added to the floor's$/m);
    const json = JSON.parse(formatJson(ALL)) as { goals: Array<Record<string, unknown>>; rssAtScale: unknown };
    assert.equal(json.goals.length, 12);
    assert.deepEqual(json.goals[4], { goal: 'throughput / floor at 64 in flight', scenario: 'session allow (redis)', measured: 0.7, paired: 0.69, target: 0.7, atLeast: true, met: 'best-of only' });
    assert.deepEqual(json.goals[5], { goal: 'throughput / floor at 64 in flight', scenario: 'jwt allow (ES256, first-seen)', measured: 0.25, paired: 0.29, target: 0.5, atLeast: true, met: 'no', bound: { measured: 0.375, paired: 0.36 } });
    assert.deepEqual(json.rssAtScale, { over: 1.5, grownOver: 180 / 103, grownMb: 180, floorGrownMb: 103 });
  });

  it('without the 10,000-policy scenario or a signature floor, neither note is printed', () => {
    const some = report([scenario('api-key allow (1 policy)', { ratio: 0.95, paired: 0.95, added: 3, pairedAdded: 3, rssMb: 150 })], undefined);
    const table = formatTable(some);
    assert.doesNotMatch(table, /^bound:/m);
    assert.doesNotMatch(table, /^RSS after load at 10,000/m);
    assert.equal((JSON.parse(formatJson(some)) as { rssAtScale: unknown }).rssAtScale, null);
  });
});
