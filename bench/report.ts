// The report as a markdown table (what `npm run bench` prints) or as JSON.
import type { BenchReport, ScenarioResult } from './harness.js';

const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const thousands = (n: number): string => Math.round(n).toLocaleString('en-US');

function answer(r: ScenarioResult): string {
  if (r.problem !== undefined) return `WRONG: ${r.problem}`;
  const first = r.samples[0];
  if (first === undefined) return '-';
  switch (first.kind) {
    case 'ok':
      return 'allow';
    case 'denied':
      return `deny ${String(first.denied.status)} ${first.message}`;
    case 'none':
      return 'none';
    default: {
      const never: never = first;
      return String(never);
    }
  }
}

export function formatTable(report: BenchReport): string {
  const head = ['scenario', 'req/s', 'ratio', 'p50 ms', 'p99 ms', 'p99.9 ms', 'requests', 'errors', 'server CPU', 'server µs/Check', 'client CPU', 'answer'];
  const rows = report.results.map((r) => [
    r.name,
    thousands(r.rps),
    r.ratio === undefined ? '-' : fixed(r.ratio, 2),
    fixed(r.p50Ms, 2),
    fixed(r.p99Ms, 2),
    fixed(r.p999Ms, 2),
    thousands(r.requests),
    String(r.errors),
    `${Math.round(r.serverCpu * 100)}%`,
    fixed(r.serverMicrosPerCheck, 0),
    `${Math.round(r.clientCpu * 100)}%`,
    answer(r),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const right = (i: number): boolean => i > 0 && i < head.length - 1;
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (right(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  const errors = report.results.filter((r) => r.firstError !== undefined).map((r) => `- ${r.name}: ${r.errors} errors, first: ${r.firstError}`);
  return [
    `node ${report.node}, ${report.concurrency} Checks in flight over ${report.connections} connections (${report.client} client), ` +
      `${report.warmupMs / 1000} s warm-up + ${report.durationMs / 1000} s per scenario; ratio = req/s / no-op req/s`,
    '',
    line(head),
    rule,
    ...rows.map(line),
    ...(errors.length > 0 ? ['', ...errors] : []),
  ].join('\n');
}

/** The report without the decoded samples' bulk: first sample only. */
export function formatJson(report: BenchReport): string {
  return JSON.stringify(
    { ...report, results: report.results.map((r) => ({ ...r, samples: r.samples.slice(0, 1) })) },
    (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
    2,
  );
}
