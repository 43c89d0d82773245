// The report as markdown tables (what `npm run bench` prints) or as JSON.
import { goalCells, goalRows, rssAtScale } from './goals.js';
import type { BenchReport, Figures, ScenarioResult } from './harness.js';

const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const whole = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const mb = (bytes: number): string => fixed(bytes / 1024 / 1024, 0);
const percent = (cores: number): string => (Number.isFinite(cores) ? `${Math.round(cores * 100)}%` : '-');

/** A markdown table; the first `left` columns are text, the rest figures aligned right. */
function table(head: readonly string[], rows: readonly (readonly string[])[], left = 1): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const right = (i: number): boolean => i >= left;
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (right(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), rule, ...rows.map(line)];
}

const quantiles = (f: ScenarioResult['floor']): string => `${whole(f.p50Micros)} / ${whole(f.p99Micros)} / ${whole(f.p999Micros)}`;

/** req/s, the other's req/s, ratio, paired ratio, mean µs, the other's mean, added µs, paired added µs. */
function versus(g: Figures, other: Figures, ratio: number, paired: number, added: number, pairedAdded: number): string[] {
  return [whole(g.rps), whole(other.rps), fixed(ratio, 2), fixed(paired, 2), fixed(g.meanMicros, 0), fixed(other.meanMicros, 0), fixed(added, 0), fixed(pairedAdded, 0)];
}

export function formatTable(report: BenchReport): string {
  const speed = table(
    ['scenario', 'req/s', 'floor req/s', 'ratio', 'paired', 'mean µs', 'floor µs', 'added µs', 'paired', 'p50/p99/p99.9 µs', 'floor p50/p99/p99.9', 'at req/s (floor)', 'server CPU', 'h2load CPU'],
    report.results.map((r) => [
      r.name,
      ...versus(r.gatehouse, r.floor, r.ratio, r.pairedRatio, r.addedMicros, r.pairedAddedMicros),
      quantiles(r.gatehouse),
      quantiles(r.floor),
      `${whole(r.gatehouse.achievedRate)} / ${whole(r.floor.achievedRate)}`,
      percent(r.gatehouse.serverCpu),
      percent(r.gatehouse.loadCpu),
    ]),
  );
  const cpu = (n: number): string => fixed(n, 1);
  const same = table(
    ['scenario', 'req/s', 'same-process floor req/s', 'ratio', 'paired', 'mean µs', 'its µs', 'added µs', 'paired', 'CPU µs/Check', 'its', 'added', 'at 1 in flight', 'its', 'added', 'floor process CPU µs/Check'],
    report.results.map((r) => [
      r.name,
      ...versus(r.gatehouse, r.beside, r.besideRatio, r.besidePairedRatio, r.besideAddedMicros, r.besidePairedAddedMicros),
      cpu(r.gatehouse.cpuMicrosPerCheck),
      cpu(r.beside.cpuMicrosPerCheck),
      cpu(r.besideAddedCpuMicros),
      cpu(r.gatehouse.cpuMicrosPerCheckAt1),
      cpu(r.beside.cpuMicrosPerCheckAt1),
      cpu(r.besideAddedCpuMicrosAt1),
      cpu(r.floor.cpuMicrosPerCheck),
    ]),
  );
  const memory = table(
    ['server', 'RSS idle MB', 'RSS after MB', 'RSS after / floor', 'bytes/Check', 'floor bytes/Check'],
    [
      ['no-op floor (one process, whole run)', mb(report.floorRssIdleBytes), mb(report.floorRssAfterBytes), '1.00', '', ''],
      ...report.results.map((r) => [
        r.name,
        mb(r.rssIdleBytes),
        mb(r.rssAfterBytes),
        fixed(r.rssAfterBytes / report.floorRssAfterBytes, 2),
        whole(r.gatehouse.bytesPerCheck),
        whole(r.floor.bytesPerCheck),
      ]),
    ],
  );
  const problems = report.results.filter((r) => r.problem !== undefined).map((r) => `- ${r.name}: WRONG: ${r.problem}`);
  const late = report.results
    .filter((r) => r.gatehouse.lateChecks + r.floor.lateChecks > 0)
    .map((r) => `- ${r.name}: fixed-rate Checks past their deadline: ${r.gatehouse.lateChecks} (floor ${r.floor.lateChecks})`);
  return [
    `node ${report.node}; h2load pinned to its own core; best of ${report.rounds} interleaved no-op/gatehouse/same-process no-op windows of ` +
      `${report.warmupMs / 1000} s warm-up + ${report.durationMs / 1000} s` +
      (report.settleMs > 0 ? `, each new server first settled by ${report.settleMs / 1000} s of load (discarded)` : '') +
      `. req/s: 1 connection × 64 in flight (HTTP/1.1: 16 connections); ` +
      `mean: 1 in flight; p50/p99/p99.9: ${report.rateDurationMs / 1000} s at a fixed rate asked at half the floor's req/s (at most 0.9 × gatehouse's), over 10 connections (HTTP/1.1: 16); ratio = req/s / floor req/s; added = mean - floor mean; paired: the median over the rounds of the same figure taken within one round`,
    '',
    ...speed,
    '',
    'Against the same-process floor: no-op servers inside gatehouse\'s own process, measured in the same rounds ' +
      '(best req/s and lowest mean as above; CPU µs/Check: median over the windows of the server process\'s CPU time / Checks it decided, ' +
      'at 64 in flight, then at 1 in flight; added = gatehouse - the same-process floor)',
    '',
    ...same,
    '',
    ...memory,
    '',
    report.scaling === undefined || report.scalingRaw === undefined
      ? 'scaling: mean latency at 10,000 policies + 100,000 keys / 1 policy = - (not run)'
      : `scaling: mean latency at 10,000 policies + 100,000 keys / 1 policy = ${fixed(report.scaling, 2)} (each over its floor; ${fixed(report.scalingRaw, 2)} as measured)`,
    '',
    'Goals (met: yes when the best-of and the paired figure both meet the target)',
    '',
    ...table(['goal', 'scenario', 'best-of', 'paired', 'target', 'met', 'bound'], goalCells(goalRows(report)), 2),
    ...boundNote(report),
    ...scaleNote(report),
    ...(late.length > 0 ? ['', ...late] : []),
    ...(problems.length > 0 ? ['', ...problems] : []),
  ].join('\n');
}

/** What the bound column means, when a row has one. */
function boundNote(report: BenchReport): string[] {
  const rows = report.results.filter((r) => r.signature !== undefined);
  if (rows.length === 0) return [];
  return [
    '',
    'bound: the ratio to the floor of the signature floor, a server on the same transport that does nothing but check the token\'s signature (node:crypto), measured in the same rounds (best-of / paired); no server that checks the signature can pass it on this machine',
    ...rows.map((r) => `- ${r.name}: signature floor ${whole(r.signature?.rps ?? Number.NaN)} req/s, mean ${fixed(r.signature?.meanMicros ?? Number.NaN, 0)} µs at 1 in flight; gatehouse served ${fixed(r.overSignature, 2)} of it (paired ${fixed(r.overSignaturePaired, 2)})`),
  ];
}

/** The 10,000-policy server's memory after load, beside the goals (its RSS is not among them). */
function scaleNote(report: BenchReport): string[] {
  const at = rssAtScale(report);
  if (at === undefined) return [];
  return [
    '',
    `RSS after load at 10,000 policies + 100,000 keys: ${fixed(at.over, 2)} of the floor's (which holds no policy); load added ${fixed(at.grownMb, 0)} MB to its RSS at idle, ${fixed(at.grownOver, 2)} of the ${fixed(at.floorGrownMb, 0)} MB it added to the floor's`,
  ];
}

export function formatJson(report: BenchReport): string {
  return JSON.stringify({ ...report, goals: goalRows(report), rssAtScale: rssAtScale(report) ?? null }, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}
