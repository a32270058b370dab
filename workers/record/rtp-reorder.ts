// Puts one RTP stream's packets back in sequence order before they reach a file. mediasoup repairs uplink
// loss with NACK: the publisher resends a lost packet, and mediasoup forwards it one round trip (or a few)
// after the packets that followed it. A hole is therefore held open for `holdMs`; what arrives meanwhile
// waits behind it. A hole still open after that is a real loss (reported once, with its size), and a
// packet older than what was already passed on is counted as late.

export interface ReorderEvents<P> {
  /** Packets in sequence order (with any holes already reported before them). */
  deliver: (packet: P) => void;
  /** `missing` packets after `afterSeq` never arrived (given up on after holdMs). */
  lost: (info: { missing: number; afterSeq: number; nextSeq: number; noticedAt: number }) => void;
}

const MOD = 0x10000;
const ahead = (a: number, b: number): number => (a - b + MOD) % MOD; // how far a is after b

export class RtpReorder<P> {
  private expected: number | null = null;
  /** Packets waiting behind a hole, with when they arrived. */
  private readonly held = new Map<number, { packet: P; at: number }>();
  /** Packets that came after their place was passed (too late, or duplicates). */
  late = 0;
  /** Packets that arrived out of order and were put back in place (repaired loss, reordering). */
  reordered = 0;

  constructor(
    private readonly events: ReorderEvents<P>,
    private readonly holdMs = 1000,
    /** At most this many packets wait behind a hole; beyond that the hole is given up on at once. */
    private readonly maxHeld = 2000,
  ) {}

  get holding(): number {
    return this.held.size;
  }

  push(seq: number, packet: P, now = Date.now()): void {
    if (this.expected === null) this.expected = seq;
    const distance = ahead(seq, this.expected);
    if (distance >= MOD / 2) {
      this.late++;
      return;
    }
    if (distance === 0) {
      if (this.held.size) this.reordered++;
      this.expected = (seq + 1) % MOD;
      this.events.deliver(packet);
      this.drain();
      return;
    }
    if (this.held.has(seq)) {
      this.late++;
      return;
    }
    this.held.set(seq, { packet, at: now });
    if (this.held.size > this.maxHeld) this.giveUp();
  }

  /** Call periodically: holes open longer than holdMs are given up on. */
  tick(now = Date.now()): void {
    while (this.held.size && now - this.oldestArrival() >= this.holdMs) this.giveUp();
  }

  /** Everything held goes out now (end of the stream), holes reported. */
  flush(): void {
    while (this.held.size) this.giveUp();
  }

  /** The hole is known since the first packet after it arrived (conservatively, the earliest held one). */
  private oldestArrival(): number {
    let oldest = Infinity;
    for (const h of this.held.values()) oldest = Math.min(oldest, h.at);
    return oldest;
  }

  /** Reports the oldest hole as lost and passes on what waited behind it. */
  private giveUp(): void {
    let next = -1;
    let best = MOD;
    for (const seq of this.held.keys()) {
      const d = ahead(seq, this.expected!);
      if (d < best) {
        best = d;
        next = seq;
      }
    }
    if (next < 0) return;
    this.events.lost({ missing: best, afterSeq: (this.expected! - 1 + MOD) % MOD, nextSeq: next, noticedAt: this.held.get(next)!.at });
    this.expected = next;
    this.drain();
  }

  private drain(): void {
    let h = this.held.get(this.expected!);
    while (h !== undefined) {
      this.held.delete(this.expected!);
      this.events.deliver(h.packet);
      this.expected = (this.expected! + 1) % MOD;
      h = this.held.get(this.expected);
    }
  }
}
