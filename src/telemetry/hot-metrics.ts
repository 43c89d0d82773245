// The two metrics written on every Check. prom-client's labelled children hash their label object on
// every inc() and observe() (a sorted string join, about 1 µs each); these keep plain numbers per label
// set and hand prom-client's registry the same samples when it is scraped, in the same text format.
import type { Registry } from 'prom-client';

type Labels = Record<string, string | number>;

/** A sample as prom-client's registry prints it (`metricName` defaults to the metric's name). */
interface Sample {
  readonly metricName?: string;
  readonly labels: Labels;
  readonly value: number;
}

interface Collected {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  readonly values: Sample[];
}

/** A counter whose label sets are looked up once (`labels()`), then counted with a field increment. */
export class HotCounter<N extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter' as const;
  readonly aggregator = 'sum' as const;
  readonly #labelNames: readonly N[];
  readonly #children = new Map<string, { labels: Labels; value: number }>();

  constructor(o: { name: string; help: string; labelNames: readonly N[]; registers: readonly Registry[] }) {
    this.name = o.name;
    this.help = o.help;
    this.#labelNames = o.labelNames;
    for (const r of o.registers) r.registerMetric(this as never);
  }

  /** The child for these label values, in `labelNames` order. */
  labels(...values: string[]): { inc(by?: number): void } {
    if (values.length !== this.#labelNames.length) throw new RangeError(`${this.name} takes ${this.#labelNames.length} label values, got ${values.length}`);
    const key = values.join('\0');
    let child = this.#children.get(key);
    if (child === undefined) {
      const labels: Labels = {};
      this.#labelNames.forEach((n, i) => (labels[n] = values[i] as string));
      child = { labels, value: 0 };
      this.#children.set(key, child);
    }
    const c = child;
    return {
      inc: (by = 1) => {
        c.value += by;
      },
    };
  }

  get(): Promise<Collected> {
    const values = [...this.#children.values()].map((c) => ({ labels: { ...c.labels }, value: c.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.#children.clear();
  }
}

/** A histogram with one label; a child's observe() is a bucket scan and three additions. */
export class HotHistogram<N extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #labelName: N;
  readonly #bounds: readonly number[];
  readonly #children = new Map<string, { counts: Float64Array; sum: number; count: number }>();

  constructor(o: { name: string; help: string; labelName: N; buckets: readonly number[]; registers: readonly Registry[] }) {
    this.name = o.name;
    this.help = o.help;
    this.#labelName = o.labelName;
    this.#bounds = [...o.buckets].sort((a, b) => a - b);
    for (const r of o.registers) r.registerMetric(this as never);
  }

  labels(value: string): { observe(v: number): void } {
    let child = this.#children.get(value);
    if (child === undefined) {
      child = { counts: new Float64Array(this.#bounds.length), sum: 0, count: 0 };
      this.#children.set(value, child);
    }
    const c = child;
    const bounds = this.#bounds;
    return {
      observe: (v: number) => {
        if (!Number.isFinite(v)) return;
        for (let i = 0; i < bounds.length; i++) {
          if (v <= (bounds[i] as number)) {
            c.counts[i] = (c.counts[i] as number) + 1;
            break;
          }
        }
        c.sum += v;
        c.count++;
      },
    };
  }

  /** prom-client's histogram samples, in its order: cumulative `_bucket` per bound (`le` first) and `+Inf`, `_sum`, `_count`. */
  get(): Promise<Collected> {
    const values: Sample[] = [];
    for (const [label, c] of this.#children) {
      const labels = { [this.#labelName]: label };
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += c.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: acc });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: c.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: c.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.#children.clear();
  }
}
