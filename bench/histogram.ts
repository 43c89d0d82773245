// A log-linear latency histogram in whole microseconds (the HdrHistogram layout): exact below 128 µs,
// then 64 buckets per power of two, so any recorded value is within 1.6% of its bucket. Recording
// is an index computation and an increment, cheap enough for the load generator's hot path.

const SUB_BITS = 7;
const SUB_COUNT = 1 << SUB_BITS; // 128 exact values
const HALF = SUB_COUNT >> 1; // 64 buckets per power of two above them
/** Largest value kept apart; anything above lands in the last bucket (about 35 minutes). */
const MAX_MICROS = 2 ** 31 - 1;
const BUCKETS = SUB_COUNT + (31 - SUB_BITS) * HALF;

function indexOf(micros: number): number {
  const v = micros <= 0 ? 0 : micros >= MAX_MICROS ? MAX_MICROS : Math.floor(micros);
  if (v < SUB_COUNT) return v;
  const shift = 32 - Math.clz32(v) - SUB_BITS;
  return SUB_COUNT + (shift - 1) * HALF + ((v >>> shift) - HALF);
}

/** [lowest, highest] value a bucket stands for. */
function rangeOf(index: number): [number, number] {
  if (index < SUB_COUNT) return [index, index];
  const shift = Math.floor((index - SUB_COUNT) / HALF) + 1;
  const top = ((index - SUB_COUNT) % HALF) + HALF;
  const low = top * 2 ** shift;
  return [low, low + 2 ** shift - 1];
}

export class Histogram {
  readonly counts: Float64Array;
  #total = 0;
  #max = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(BUCKETS);
    if (counts !== undefined) {
      if (counts.length !== BUCKETS) throw new RangeError(`a histogram has ${BUCKETS} buckets, got ${counts.length}`);
      for (let i = 0; i < BUCKETS; i++) {
        const c = counts[i] ?? 0;
        this.counts[i] = c;
        this.#total += c;
        if (c > 0) this.#max = rangeOf(i)[1];
      }
    }
  }

  /** Records one latency in microseconds (fractions are truncated). */
  record(micros: number): void {
    const i = indexOf(micros);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.#total++;
    if (micros > this.#max) this.#max = micros;
  }

  get total(): number {
    return this.#total;
  }

  /** Largest recorded value in microseconds (bucket upper bound after a round trip through counts). */
  get max(): number {
    return this.#max;
  }

  /**
   * The value below which `q` (0..1) of the recordings fall, in microseconds: the middle of the bucket
   * holding that rank, so the error is at most half a bucket. NaN when empty.
   */
  quantile(q: number): number {
    if (this.#total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) {
        const [low, high] = rangeOf(i);
        return Math.min((low + high) / 2, this.#max);
      }
    }
    return this.#max;
  }
}
