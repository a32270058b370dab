import { describe, expect, it } from 'vitest';
import { RtpReorder } from '../workers/record/rtp-reorder.ts';

function harness(holdMs = 1000, maxHeld = 2000) {
  const out: number[] = [];
  const lost: { missing: number; afterSeq: number; nextSeq: number }[] = [];
  const noticed: number[] = [];
  const r = new RtpReorder<number>(
    {
      deliver: (p) => out.push(p),
      lost: ({ noticedAt, ...l }) => {
        noticed.push(noticedAt);
        lost.push(l);
      },
    },
    holdMs,
    maxHeld,
  );
  return { r, out, lost, noticed };
}

describe('RTP reordering before the record', () => {
  it('puts a repaired packet back in its place and reports nothing lost', () => {
    const { r, out, lost } = harness();
    for (const seq of [10, 11, 13, 14, 15]) r.push(seq, seq, 0);
    expect(out).toEqual([10, 11]);
    r.tick(500);
    r.push(12, 12, 600); // the retransmission, 600 ms later
    expect(out).toEqual([10, 11, 12, 13, 14, 15]);
    expect(lost).toEqual([]);
    expect(r.reordered).toBe(1);
  });

  it('gives a hole up after holdMs, reports its size once, and passes on what waited', () => {
    const { r, out, lost, noticed } = harness(1000);
    for (const seq of [1, 2, 5, 6]) r.push(seq, seq, 100);
    r.tick(1099);
    expect(out).toEqual([1, 2]);
    r.tick(1100);
    expect(out).toEqual([1, 2, 5, 6]);
    expect(lost).toEqual([{ missing: 2, afterSeq: 2, nextSeq: 5 }]);
    expect(noticed).toEqual([100]); // when the packet after the hole arrived, not when it was given up
    r.push(3, 3, 1200); // too late now
    expect(r.late).toBe(1);
    expect(out).toEqual([1, 2, 5, 6]);
  });

  it('handles the 16-bit wrap, duplicates, and a hole that would hold too many packets', () => {
    const { r, out, lost } = harness(1000, 3);
    for (const seq of [65534, 65535, 0, 0, 1]) r.push(seq, seq, 0);
    expect(out).toEqual([65534, 65535, 0, 1]);
    expect(r.late).toBe(1);
    for (const seq of [3, 4, 5, 6]) r.push(seq, seq, 10);
    expect(lost).toEqual([{ missing: 1, afterSeq: 1, nextSeq: 3 }]);
    expect(out.slice(-4)).toEqual([3, 4, 5, 6]);
  });

  it('flush passes on everything held at the end of a stream, holes reported', () => {
    const { r, out, lost } = harness();
    for (const seq of [7, 9, 12]) r.push(seq, seq, 0);
    r.flush();
    expect(out).toEqual([7, 9, 12]);
    expect(lost.map((l) => l.missing)).toEqual([1, 2]);
    expect(r.holding).toBe(0);
  });
});
