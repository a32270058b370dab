/** Latency histogram with 10 µs buckets up to 200 ms (anything above lands in the last bucket). */
export const BUCKET_US = 10;
const BUCKETS = 20_000;

export class Histogram {
  readonly counts: number[];
  max = 0;

  constructor(counts?: number[], max = 0) {
    this.counts = counts ?? new Array<number>(BUCKETS).fill(0);
    this.max = max;
  }

  add(us: number): void {
    const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor(us / BUCKET_US)));
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    if (us > this.max) this.max = us;
  }

  merge(other: { counts: number[]; max: number }): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.max = Math.max(this.max, other.max);
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  /** The upper edge of the bucket holding the q-quantile, in microseconds. */
  quantile(q: number): number {
    const total = this.total;
    if (total === 0) return 0;
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return (i + 1) * BUCKET_US;
    }
    return BUCKETS * BUCKET_US;
  }

  /** Sparse form for JSON reports. */
  toJSON(): { bucketUs: number; max: number; counts: Record<number, number> } {
    const counts: Record<number, number> = {};
    this.counts.forEach((c, i) => {
      if (c) counts[i] = c;
    });
    return { bucketUs: BUCKET_US, max: this.max, counts };
  }
}
