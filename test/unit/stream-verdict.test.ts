import { describe, expect, it } from 'vitest';
import { Lag, verdict, type RunReading } from '../../workers/livestream/verdict.ts';

const base: RunReading = { stillMs: 500, started: true, silentInputs: 0, short: false, behind: false, level: 0, levels: 3 };
const at = (r: Partial<RunReading>): ReturnType<typeof verdict> => verdict({ ...base, ...r });

describe('how the program watchdog judges a run', () => {
  it('a run making frames in time is fine, also when behind for want of input (not short of CPU)', () => {
    expect(at({})).toBe('fine');
    expect(at({ behind: true })).toBe('fine');
    expect(at({ short: true })).toBe('fine');
  });

  it('behind and short of CPU is slow; standing still with a dead input, or hanging with CPU to spare, is stuck', () => {
    expect(at({ behind: true, short: true })).toBe('slow');
    expect(at({ stillMs: 9000, silentInputs: 1, short: true })).toBe('stuck');
    expect(at({ stillMs: 9000 })).toBe('stuck');
    expect(at({ stillMs: 7000 })).toBe('fine');
    // Standing still, every input delivering, the encoder waiting for a CPU: the slowest kind of slow.
    expect(at({ stillMs: 9000, short: true })).toBe('slow');
    expect(at({ stillMs: 9000, short: true, level: 2 })).toBe('slow');
  });

  it('before its first frame a run gets longer, but at the last step one that never starts is rebuilt', () => {
    expect(at({ started: false, stillMs: 15_000 })).toBe('fine');
    expect(at({ started: false, stillMs: 21_000 })).toBe('stuck');
    expect(at({ started: false, stillMs: 21_000, short: true })).toBe('slow');
    // The ladder's last step: nothing lower to step to (consultation test, CI run 4: a level-2 run that
    // never made a frame was logged slow and left as it was).
    expect(at({ started: false, stillMs: 21_000, short: true, level: 2 })).toBe('stuck');
  });

  it('still for 30 s is stuck whatever the CPU does', () => {
    expect(at({ stillMs: 29_000, short: true, level: 2 })).toBe('slow');
    expect(at({ stillMs: 30_000, short: true, level: 2 })).toBe('stuck');
    expect(at({ stillMs: 30_000, short: true, level: 0 })).toBe('stuck');
  });
});

describe('how far a run is behind real time', () => {
  it('is nothing before the run settles, and nothing while it keeps pace', () => {
    const lag = new Lag();
    expect(lag.update(1000, 0)).toBe(0);
    lag.settle(4000, 3000);
    expect(lag.update(5000, 4000)).toBe(0);
    expect(lag.update(6000, 4900)).toBe(100);
    expect(lag.update(7000, 6000)).toBe(0);
  });

  it('counts from the best point: a run that ran ahead (catching up on a backlog) is behind as soon as it stands still', () => {
    const lag = new Lag();
    lag.settle(0, 0);
    // 4 s ahead of wall time after catching up, then still for 3 s.
    expect(lag.update(10_000, 14_000)).toBe(0);
    expect(lag.update(11_000, 14_000)).toBe(1000);
    expect(lag.update(13_000, 14_000)).toBe(3000);
    // Moving again, slower than real time: the lag keeps what was lost.
    expect(lag.update(15_000, 15_000)).toBe(4000);
  });
});
