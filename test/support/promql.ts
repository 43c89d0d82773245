// Finds the metric names a PromQL expression reads, to hold dashboards and alerts to the metrics
// the service really exports. Syntax itself is checked by promtool; this only names selectors.
import { Metrics } from '../../src/telemetry/metrics.js';

const NOT_METRICS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan',
]);

/** Grafana's variables, replaced so that the expression is plain PromQL. */
export function fromGrafana(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, '.*');
}

/** Metric names in selectors of `expr` (functions, keywords, labels and durations excluded). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const token = match[0];
    const index = match.index;
    const before = stripped[index - 1] ?? ' ';
    if (/[0-9.$]/.test(before)) continue; // 1e-9, 5m, variables
    if (stripped.slice(index + token.length).trimStart().startsWith('(')) continue; // a function call
    if (NOT_METRICS.has(token.toLowerCase())) continue;
    names.add(token);
  }
  return [...names].sort();
}

/** Grafana's `label_values(selector, label)`: only the selector names a metric. */
export function templateQueryMetrics(query: string): string[] {
  const labelValues = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/.exec(query);
  if (labelValues !== null) return metricNames(labelValues[1] as string);
  return metricNames(query);
}

/** Names a histogram or summary exports besides its own: `_bucket`, `_sum`, `_count`. */
export function withHistogramSeries(names: readonly string[], histograms: readonly string[]): Set<string> {
  const all = new Set(names);
  for (const h of histograms) for (const suffix of ['_bucket', '_sum', '_count']) all.add(h + suffix);
  return all;
}

/** The service's own metrics (its metrics contract). */
export const GATEHOUSE_METRICS: readonly string[] = [
  'gatehouse_check_total',
  'gatehouse_check_duration_seconds',
  'gatehouse_policies',
  'gatehouse_api_keys',
  'gatehouse_session_rejected_total',
  'gatehouse_policy_compile_errors_total',
  'gatehouse_source_synced',
  'gatehouse_kubernetes_watch_down_seconds',
  'gatehouse_kubernetes_watch_restarts_total',
  'gatehouse_shadow_decisions_total',
];

/**
 * Every series name the service's own registry exports (its metrics and prom-client's process
 * metrics), histograms expanded into their `_bucket`, `_sum` and `_count` series.
 */
export async function exportedSeries(): Promise<Set<string>> {
  const metrics = new Metrics();
  const exported = await metrics.registry.getMetricsAsJSON();
  metrics.registry.clear();
  // prom-client's typings declare a numeric enum, but getMetricsAsJSON() reports 'histogram'.
  const histograms = exported.filter((m) => String(m.type) === 'histogram').map((m) => m.name);
  return withHistogramSeries(exported.map((m) => m.name), histograms);
}
