// The goals the bench is held to, read off one report: each with the figure measured best-of and
// paired by round, its target, and whether it was met. Only goals whose scenarios ran are listed.
import type { BenchReport, ScenarioResult } from './harness.js';
import { SCALE_NAME } from './scenarios.js';

export type Verdict = 'yes' | 'no' | 'best-of only' | 'paired only';

export interface GoalRow {
  readonly goal: string;
  readonly scenario: string;
  /** Best-of figure (or the only one). */
  readonly measured: number;
  /** Paired by round; undefined where the goal has no paired figure. */
  readonly paired: number | undefined;
  readonly target: number;
  /** Whether a figure meets the goal at or above the target (throughput) or at or below it. */
  readonly atLeast: boolean;
  readonly met: Verdict;
  /**
   * Throughput of a scenario with a signature floor: that floor's ratio to the no-op floor, best-of
   * and paired. No server that checks the signature can pass it, whatever the target says.
   */
  readonly bound?: { readonly measured: number; readonly paired: number };
}

/** Scenarios whose throughput and added latency the goals name (the OIDC session included). */
export const CHEAP_SCENARIOS: readonly string[] = ['api-key allow (1 policy)', 'jwt allow (ES256, cached)', 'session allow (cookie)', 'session allow (oidc)'];
export const REDIS_SCENARIO = 'session allow (redis)';
export const FIRST_SEEN_SCENARIO = 'jwt allow (ES256, first-seen)';

export const GOALS = Object.freeze({
  throughput: 0.9,
  redisThroughput: 0.7,
  firstSeenThroughput: 0.5,
  addedMicros: 10,
  rssOverFloor: 1.3,
  scaling: 1.1,
});

function verdict(value: number, paired: number | undefined, target: number, atLeast: boolean): Verdict {
  const meets = (v: number): boolean => Number.isFinite(v) && (atLeast ? v >= target : v <= target);
  const a = meets(value);
  if (paired === undefined) return a ? 'yes' : 'no';
  const b = meets(paired);
  if (a && b) return 'yes';
  if (a) return 'best-of only';
  return b ? 'paired only' : 'no';
}

function row(goal: string, scenario: string, measured: number, paired: number | undefined, target: number, atLeast: boolean): GoalRow {
  return { goal, scenario, measured, paired, target, atLeast, met: verdict(measured, paired, target, atLeast) };
}

function throughputRow(r: ScenarioResult, target: number): GoalRow {
  const base = row('throughput / floor at 64 in flight', r.name, r.ratio, r.pairedRatio, target, true);
  return r.signature === undefined ? base : { ...base, bound: { measured: r.signatureRatio, paired: r.signaturePairedRatio } };
}

export function goalRows(report: BenchReport): GoalRow[] {
  const ran = new Map(report.results.map((r) => [r.name, r]));
  const rows: GoalRow[] = [];
  const each = (names: readonly string[], make: (r: ScenarioResult) => GoalRow): void => {
    for (const name of names) {
      const r = ran.get(name);
      if (r !== undefined) rows.push(make(r));
    }
  };
  each(CHEAP_SCENARIOS, (r) => throughputRow(r, GOALS.throughput));
  each([REDIS_SCENARIO], (r) => throughputRow(r, GOALS.redisThroughput));
  each([FIRST_SEEN_SCENARIO], (r) => throughputRow(r, GOALS.firstSeenThroughput));
  each(CHEAP_SCENARIOS, (r) => row('added µs at 1 in flight', r.name, r.addedMicros, r.pairedAddedMicros, GOALS.addedMicros, false));
  // The example-size policy sets: the 10,000-policy server also holds its policy set, which the floor
  // does not; its memory is printed beside the goals (rssAtScale) and held by bench/kubernetes.js.
  const rss = report.results
    .filter((r) => r.name !== SCALE_NAME)
    .map((r) => ({ name: r.name, over: r.rssAfterBytes / report.floorRssAfterBytes }))
    .filter((x) => Number.isFinite(x.over));
  const worst = rss.reduce<{ name: string; over: number } | undefined>((w, x) => (w === undefined || x.over > w.over ? x : w), undefined);
  if (worst !== undefined) rows.push(row('RSS after load / floor, highest', worst.name, worst.over, undefined, GOALS.rssOverFloor, false));
  if (report.scaling !== undefined) rows.push(row('scaling: 10,000 policies / 1 policy, over each floor', 'api-key allow (10,000 policies, 100,000 keys)', report.scaling, undefined, GOALS.scaling, false));
  return rows;
}

/** The goals as table rows: goal, scenario, best-of, paired, target, met, bound (best-of / paired). */
export function goalCells(rows: readonly GoalRow[]): string[][] {
  const digits = (r: GoalRow): number => (r.goal.startsWith('added') ? 0 : 2);
  const show = (n: number | undefined, d: number): string => (n === undefined ? '' : Number.isFinite(n) ? n.toFixed(d) : '-');
  return rows.map((r) => [
    r.goal,
    r.scenario,
    show(r.measured, digits(r)),
    show(r.paired, digits(r)),
    `${r.atLeast ? '≥' : '≤'} ${r.target}`,
    r.met,
    r.bound === undefined ? '' : `${show(r.bound.measured, 2)} / ${show(r.bound.paired, 2)}`,
  ]);
}

/**
 * The 10,000-policy server's RSS after load: over the floor's, and what load added to each process
 * (RSS after its windows - idle) over the floor's, so the policy set's own memory is told apart.
 */
export function rssAtScale(report: BenchReport): { readonly over: number; readonly grownOver: number; readonly grownMb: number; readonly floorGrownMb: number } | undefined {
  const r = report.results.find((x) => x.name === SCALE_NAME);
  if (r === undefined) return undefined;
  const grown = r.rssAfterBytes - r.rssIdleBytes;
  const floorGrown = report.floorRssAfterBytes - report.floorRssIdleBytes;
  return { over: r.rssAfterBytes / report.floorRssAfterBytes, grownOver: grown / floorGrown, grownMb: grown / 1048576, floorGrownMb: floorGrown / 1048576 };
}
