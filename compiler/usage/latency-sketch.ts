// p50/p95 of latencies in bounded memory. Up to EXACT_MAX samples are kept and the percentiles
// are exact; past that the samples go into a fixed histogram of logarithmic buckets (each 2%
// wider than the one before, from 0.01 ms to about 28 hours), and a percentile is the geometric
// middle of its bucket: at most 1% from the exact value (values below 0.01 ms or above the last
// bucket are clamped to it). The histogram is 1,200 counters (4.7 KiB) per group, however many
// lines are read.

const EXACT_MAX = 256;
const MIN_MS = 0.01;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 1200;

const bucketOf = (ms: number): number => (ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH)));
/** The geometric middle of a bucket: within sqrt(1.02) - 1 (under 1%) of any value in it. */
const middleOf = (bucket: number): number => MIN_MS * GROWTH ** (bucket + 0.5);

/** The percentiles of one group's latencies. */
export class LatencySketch {
  private exact: number[] | null = [];
  private buckets: Uint32Array | null = null;
  private count = 0;

  add(ms: number): void {
    this.count++;
    if (this.exact !== null) {
      this.exact.push(ms);
      if (this.exact.length <= EXACT_MAX) return;
      this.buckets = new Uint32Array(BUCKETS);
      for (const value of this.exact) (this.buckets as Uint32Array)[bucketOf(value)]++;
      this.exact = null;
      return;
    }
    (this.buckets as Uint32Array)[bucketOf(ms)]++;
  }

  /** The nearest-rank percentile p (0 < p <= 1), in ms rounded to 0.001; null without samples. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(p * this.count));
    if (this.exact !== null) return round([...this.exact].sort((a, b) => a - b)[rank - 1] as number);
    const buckets = this.buckets as Uint32Array;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += buckets[i] as number;
      if (seen >= rank) return round(middleOf(i));
    }
    return round(middleOf(BUCKETS - 1));
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
