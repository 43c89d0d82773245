// The per-Check counter and histogram keep plain numbers instead of prom-client's children; a scrape
// must read exactly as prom-client's own Counter and Histogram would print the same observations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../src/telemetry/hot-metrics.js';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

/** A deterministic stream of durations across every bucket, on the bounds themselves, past the last and not finite. */
function durations(n: number): number[] {
  const out: number[] = [...BUCKETS, 0, 0.3, 7];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push((x / 2 ** 31) ** 4 * 0.4);
  }
  return out;
}

describe('per-Check metrics', () => {
  it('the Check counter scrapes exactly as prom-client’s Counter, label values escaped', async () => {
    const [ours, theirs] = [new Registry(), new Registry()];
    const labelNames = ['policy', 'method', 'decision', 'code'] as const;
    const hot = new HotCounter({ name: 'gatehouse_check_total', help: 'Check decisions.', labelNames, registers: [ours] });
    const ref = new Counter({ name: 'gatehouse_check_total', help: 'Check decisions.', labelNames, registers: [theirs] });
    const sets = [
      ['shop/api', 'keys', 'allow', 'authenticated'],
      ['shop/api', 'keys', 'deny', 'key_unknown'],
      ['', '', 'deny', 'no_policy'],
      ['ns/"quoted"\\path\nnewline', 'm', 'allow', 'x'],
    ];
    for (let i = 0; i < 1000; i++) {
      const v = sets[(i * 7) % sets.length] as string[];
      hot.labels(...v).inc();
      ref.labels(...v).inc();
    }
    hot.labels('a', 'b', 'allow', 'c').inc(5);
    ref.labels('a', 'b', 'allow', 'c').inc(5);
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.deepEqual(await hot.get(), await ref.get());
  });

  it('the Check duration histogram scrapes exactly as prom-client’s Histogram', async () => {
    const [ours, theirs] = [new Registry(), new Registry()];
    const hot = new HotHistogram({ name: 'gatehouse_check_duration_seconds', help: 'Time to decide a Check.', labelName: 'decision', buckets: BUCKETS, registers: [ours] });
    const ref = new Histogram({ name: 'gatehouse_check_duration_seconds', help: 'Time to decide a Check.', labelNames: ['decision'], buckets: BUCKETS, registers: [theirs] });
    for (const [i, d] of durations(5000).entries()) {
      hot.labels(i % 3 === 0 ? 'deny' : 'allow').observe(d);
      ref.labels(i % 3 === 0 ? 'deny' : 'allow').observe(d);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    // As JSON too, but for prom-client's `exemplar: null` on buckets (exemplars are off).
    const withoutExemplars = JSON.parse(JSON.stringify(await theirs.getMetricsAsJSON(), (k: string, v: unknown) => (k === 'exemplar' ? undefined : v))) as unknown;
    assert.deepEqual(await ours.getMetricsAsJSON(), withoutExemplars);
  });

  it('refuses a label set of the wrong length instead of counting it under shifted names', () => {
    const hot = new HotCounter({ name: 'c_total', help: 'c', labelNames: ['a', 'b'], registers: [] });
    assert.throws(() => hot.labels('only-one'), { name: 'RangeError', message: 'c_total takes 2 label values, got 1' });
  });
});
