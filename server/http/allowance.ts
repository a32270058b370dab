/** A token bucket: a burst of `size`, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  constructor(
    private readonly size: number,
    private readonly perSecond: number,
  ) {
    this.tokens = size;
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether the bucket has refilled completely since it was last drawn on. */
  full(): boolean {
    this.refill();
    return this.tokens >= this.size;
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.size, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }
}

/**
 * One participant's allowance of some action: a token bucket that also says which refusal is the first
 * of an episode (an episode ends when the bucket has refilled completely), so the limit is logged once
 * per episode, not once per refused attempt.
 */
export class Allowance {
  private readonly bucket: TokenBucket;
  private announced = false;
  constructor(
    readonly size: number,
    readonly perSecond: number,
  ) {
    this.bucket = new TokenBucket(size, perSecond);
  }

  take(): { ok: true } | { ok: false; first: boolean } {
    if (this.announced && this.bucket.full()) this.announced = false;
    if (this.bucket.take()) return { ok: true };
    const first = !this.announced;
    this.announced = true;
    return { ok: false, first };
  }
}

/** Allowances by key (e.g. participant), created on first use. */
export class Allowances {
  private readonly map = new Map<string, Allowance>();
  constructor(
    readonly size: number,
    readonly perSecond: number,
  ) {}
  /**
   * Takes one from `key`'s allowance; beyond it, `logLimit` runs once per episode and the error
   * `refusal` makes is thrown.
   */
  spend(key: string, logLimit: () => void, refusal: () => Error): void {
    const taken = this.of(key).take();
    if (taken.ok) return;
    if (taken.first) logLimit();
    throw refusal();
  }

  of(key: string): Allowance {
    let a = this.map.get(key);
    if (!a) this.map.set(key, (a = new Allowance(this.size, this.perSecond)));
    return a;
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}
