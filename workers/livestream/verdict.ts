// How the program's watchdog judges a run each second, from what it measured: stuck (rebuilt, without
// the inputs that deliver nothing), slow (stepped down the ladder), or fine. Kept apart from the
// watchdog's timers and processes so every case can be checked on its own.

/**
 * A run that makes no frame for this long (1 s segments) has an input that holds the whole composition
 * up (e.g. a camera whose first key frame never reached the encoder), or it hangs. Before its first frame
 * a run gets longer: probing its inputs takes seconds on a busy machine, and a rebuild then would only
 * start the wait again.
 */
export const STALL_MS = 8000;
export const FIRST_FRAME_MS = 20_000;
/**
 * Still for this long, a run is stuck whatever the CPU does (a starved encoder still makes a frame now and
 * then); and at the ladder's last step a run that has made no frame in FIRST_FRAME_MS is too: there is
 * nothing lower to step to, and waiting on would leave the public with nothing at all.
 */
export const STILL_MAX_MS = 30_000;

export interface RunReading {
  /** Milliseconds since the run last made a video frame (since it started, before its first). */
  stillMs: number;
  /** Whether it has made a frame yet. */
  started: boolean;
  /** Inputs found to deliver nothing while it stood still. */
  silentInputs: number;
  /** Whether its threads waited for a CPU (the machine is short of one). */
  short: boolean;
  /** Behind real time and still falling behind. */
  behind: boolean;
  level: number;
  levels: number;
}

/** Whether the run stands still long enough to be looked at (its silent inputs are searched then). */
export function standsStill(r: Pick<RunReading, 'stillMs' | 'started'>): boolean {
  return r.stillMs >= (r.started ? STALL_MS : FIRST_FRAME_MS);
}

/**
 * Standing still with an input that delivers nothing: stuck. Standing still with every input delivering
 * is the slowest kind of slow when the encoder waits for a CPU (a rebuild at the same quality would only
 * start the wait again), otherwise it hangs: stuck — and so is a run still for STILL_MAX_MS, or one at
 * the last step that never made a frame. Moving but behind and short of CPU: slow. Behind while not
 * short of CPU means late inputs (a camera that hesitates): a lower quality would not help.
 */
export function verdict(r: RunReading): 'stuck' | 'slow' | 'fine' {
  const still = standsStill(r);
  const hopeless = r.stillMs >= STILL_MAX_MS || (still && !r.started && r.level >= r.levels - 1);
  if (still && (r.silentInputs > 0 || !r.short || hopeless)) return 'stuck';
  if (r.short && (r.behind || still)) return 'slow';
  return 'fine';
}

/**
 * How far a run has fallen behind real time, from the best point of its pace: a run that caught up on
 * what arrived while it probed ran ahead of the moment it settled, and a stall after that is behind from
 * the moment it stops, not only once it has used up that lead (CI, 2026-11-27: a run 4.4 s ahead stood
 * still for 6 s and read "lag 0" for the first 5).
 */
export class Lag {
  private best: { at: number; outMs: number } | undefined;

  /** Milliseconds behind, given the wall clock and the run's output time now (0 before `settle`). */
  update(now: number, outMs: number): number {
    if (!this.best) return 0;
    const lag = now - this.best.at - (outMs - this.best.outMs);
    if (lag > 0) return lag;
    this.best = { at: now, outMs };
    return 0;
  }

  /** The run has settled: its pace is measured from here. */
  settle(now: number, outMs: number): void {
    this.best = { at: now, outMs };
  }

  get settled(): boolean {
    return this.best !== undefined;
  }
}
