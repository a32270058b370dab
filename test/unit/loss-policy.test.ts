import { describe, expect, it } from 'vitest';
import { encodingsAt, LEVEL2 } from '../../client-demo/src/uplink.ts';
import { LossPolicy, MAX_QUIET_MS, QUIET_MS, RECEIVED_CAMERA, SOUND_SENT, type LossChange } from '../../server/signaling/loss-policy.ts';

type Clock = { at: number; sent: number; lost: number };
const start = (): Clock => ({ at: 0, sent: 0, lost: 0 });

/** A microphone sending `perSecond` packets a second, `lossPct` % of them lost, one reading a second. */
function feed(policy: LossPolicy, clock: Clock, seconds: number, lossPct: number, perSecond = 50): LossChange[] {
  const changes: LossChange[] = [];
  for (let i = 0; i < seconds; i++) {
    clock.at += 1000;
    clock.sent += perSecond;
    clock.lost += (perSecond * lossPct) / 100;
    const change = policy.observe({ at: clock.at, sent: clock.sent, lost: Math.floor(clock.lost) });
    if (change) changes.push(change);
  }
  return changes;
}

/** Seconds of `lossPct` % loss until the policy is at `level` (at most `max`). */
function secondsUntil(policy: LossPolicy, clock: Clock, lossPct: number, level: number, max = 120): number {
  for (let s = 1; s <= max; s++) {
    feed(policy, clock, 1, lossPct);
    if (policy.level === level) return s;
  }
  throw new Error(`not at level ${level} after ${max} s`);
}

describe('sound first on a thin link: the camera steps down while the sound (or the picture) is lost', () => {
  it('steps down a level at a time, waiting for each to settle, and not below its lowest', () => {
    const policy = new LossPolicy(SOUND_SENT);
    const clock = start();
    expect(feed(policy, clock, 20, 0)).toEqual([]);
    const changes = feed(policy, clock, 60, 20);
    expect(changes.map((c) => [c.from, c.level])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(changes[0]!.lossPct).toBeGreaterThan(3);
    // A received camera has one step only (the small layer).
    const received = new LossPolicy(RECEIVED_CAMERA);
    expect(feed(received, start(), 60, 30).map((c) => c.level)).toEqual([1]);
  });

  it('one burst of loss, a little loss all along, or too little sound to judge moves nothing', () => {
    const burst = new LossPolicy(SOUND_SENT);
    const clock = start();
    feed(burst, clock, 20, 0);
    // 60 packets lost in one reading (a busy machine read its socket late once): 12 % of a 10 s window.
    clock.lost += 60;
    expect(feed(burst, clock, 30, 0)).toEqual([]);
    expect(feed(new LossPolicy(SOUND_SENT), start(), 120, 2)).toEqual([]);
    // 4 packets a second (DTX: a microphone in a quiet room), a quarter of them lost: too few to judge.
    expect(feed(new LossPolicy(SOUND_SENT), start(), 60, 25, 4)).toEqual([]);
  });

  it('steps back up after a quiet while; a step up taken back at once, and the next one waits twice as long', () => {
    const policy = new LossPolicy(SOUND_SENT);
    const clock = start();
    feed(policy, clock, 10, 0);
    secondsUntil(policy, clock, 20, 1);
    // The loss stops as the camera steps down (the step was enough): up again after QUIET_MS, not before.
    expect(feed(policy, clock, QUIET_MS / 1000 - 5, 0)).toEqual([]);
    expect(feed(policy, clock, 20, 0).map((c) => c.level)).toEqual([0]);
    // The loss is back: taken back as soon as the window shows it (no settling after a step up).
    expect(secondsUntil(policy, clock, 20, 1)).toBeLessThanOrEqual(12);
    expect(feed(policy, clock, (2 * QUIET_MS) / 1000 - 5, 0)).toEqual([]);
    expect(feed(policy, clock, 25, 0).map((c) => c.level)).toEqual([0]);
    expect(2 * QUIET_MS).toBeLessThanOrEqual(MAX_QUIET_MS);
  });

  it('an outage (nothing arrives, then all it lost at once) is a link down, not a thin one', () => {
    const policy = new LossPolicy(SOUND_SENT);
    const clock = start();
    feed(policy, clock, 20, 0);
    // 5 s with nothing: the server's counts stand still (it cannot count what it does not know was sent).
    for (let i = 0; i < 5; i++) {
      clock.at += 1000;
      expect(policy.observe({ at: clock.at, sent: clock.sent, lost: clock.lost })).toBeUndefined();
    }
    // Back: the sender's sequence numbers went on, so the 250 packets of the outage count as lost at once.
    clock.at += 1000;
    clock.sent += 300;
    clock.lost += 250;
    expect(policy.observe({ at: clock.at, sent: clock.sent, lost: clock.lost })).toBeUndefined();
    // A few more lost as it settles: no step down.
    expect(feed(policy, clock, 3, 2)).toEqual([]);
    expect(feed(policy, clock, 30, 0)).toEqual([]);
  });

  it('counts that go back (a new producer) start the window again instead of reading as loss', () => {
    const policy = new LossPolicy(SOUND_SENT);
    const clock = { at: 0, sent: 5000, lost: 100 };
    feed(policy, clock, 20, 0);
    clock.sent = 0;
    clock.lost = 0;
    expect(feed(policy, clock, 20, 0)).toEqual([]);
    expect(policy.level).toBe(0);
  });

  it('the camera sender: both layers at level 0, the small one at 1, the small one slowed at 2', () => {
    const layers = [{ maxBitrate: 200_000 }, { maxBitrate: 900_000 }];
    const current: RTCRtpEncodingParameters[] = [
      { rid: 'r0', active: true, maxBitrate: 200_000 },
      { rid: 'r1', active: true, maxBitrate: 900_000 },
    ];
    expect(encodingsAt(1, current, layers, 24).map((e) => e.active)).toEqual([true, false]);
    const two = encodingsAt(2, current, layers, 24);
    expect(two.map((e) => e.active)).toEqual([true, false]);
    expect(two[0]).toMatchObject({ rid: 'r0', maxBitrate: LEVEL2.maxBitrate, maxFramerate: LEVEL2.maxFramerate });
    // Back to 0: as the producer asked for them.
    expect(encodingsAt(0, two, layers, 24)).toEqual([
      { rid: 'r0', active: true, maxBitrate: 200_000, maxFramerate: 24 },
      { rid: 'r1', active: true, maxBitrate: 900_000, maxFramerate: 24 },
    ]);
  });
});
