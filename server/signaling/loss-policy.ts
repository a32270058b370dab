/**
 * Sound first on a thin link. The browser's bandwidth estimate, and mediasoup's for what it sends, react
 * to delay: a network that drops beyond its rate instead of queueing (a capped mobile link, a policed
 * relay) leaves them sending too much, and packets are lost. A `LossPolicy` watches losses and steps
 * down until they stop:
 *
 * - the server, for each participant's microphone, by what it could not get of the sound (mediasoup's
 *   count after its NACKs were answered): the page is told to send level 0 both camera layers (640x480
 *   up to 900 kbit/s, 320x240 up to 200 kbit/s), 1 the small layer only, 2 the small layer slowed;
 * - the page, for each camera it receives, by what it loses of it itself: level 0 the best layer the
 *   server picks, 1 the small layer asked for (`setPreferredLayers`).
 *
 * It steps back up after a quiet while at its level; a step up that had to be taken back doubles that
 * while (up to `MAX_QUIET_MS`), so a link at its limit is not probed over and over. Pure (no Node, no
 * DOM): the page's bundle uses it too.
 */
export type LossLevel = 0 | 1 | 2;

/**
 * Cumulative packet counts: expected and lost (a microphone's producer at the server: received + lost and
 * lost; a received camera's inbound-rtp in the page: the same).
 */
export interface LossReading {
  at: number;
  sent: number;
  lost: number;
}

export interface LossChange {
  level: LossLevel;
  from: LossLevel;
  /** What was lost over the window that decided it, in per cent. */
  lossPct: number;
}

/** How a policy judges its losses. */
export interface PolicyOptions {
  /** The lowest level there is (2 for the camera sent, 1 for one received). */
  top: LossLevel;
  /** Lost over a window above which it steps down. */
  stepDownLoss: number;
  /** The span losses are judged over. */
  windowMs: number;
  /**
   * Reports of new losses within the window needed for a step down: one burst (a busy machine that read
   * its socket late once) is not a thin link; a thin link loses in every report.
   */
  minReports: number;
}

/**
 * A participant's sound as the server gets it, read every two seconds: what its NACKs could not bring back
 * counts (a loss it repaired in time does not). Two readings with new losses in the window: one burst is
 * not a thin link.
 */
export const SOUND_SENT: PolicyOptions = { top: 2, stepDownLoss: 0.03, windowMs: 10_000, minReports: 2 };
/**
 * A camera received: its losses are counted as packets arrive. What was lost before the server (the
 * sender's own uplink) shows here too, and the small layer does not help with that: only a loss well
 * beyond what a sender's thin uplink leaves (NACK repairs most of it there) counts.
 */
export const RECEIVED_CAMERA: PolicyOptions = { top: 1, stepDownLoss: 0.1, windowMs: 6000, minReports: 3 };

/** Lost over a window below which the window counts as quiet. */
export const QUIET_LOSS = 0.005;
/** At least this many packets in a window for it to be judged (DTX: a silent microphone sends little). */
export const MIN_PACKETS = 60;
/** ...and at least this many of them lost for a step down. */
export const MIN_LOST = 5;
/** Between two steps down: time for the encoder and the estimate to follow. */
export const SETTLE_MS = 6000;
/** Quiet for this long at a level: one step up (doubled after each step up taken back). */
export const QUIET_MS = 30_000;
export const MAX_QUIET_MS = 240_000;

export class LossPolicy {
  level: LossLevel = 0;
  private readonly readings: LossReading[] = [];
  private changedAt = -Infinity;
  private quietSince?: number;
  private quietMs = QUIET_MS;
  /** When the last step up was taken (a step down soon after it doubles the quiet needed). */
  private steppedUpAt = -Infinity;
  /** Nothing arrived between the last two readings. */
  private down = false;

  constructor(private readonly options: PolicyOptions) {}

  /** One reading (each second or two); a change of level to apply, or nothing. */
  observe(reading: LossReading): LossChange | undefined {
    const { top, stepDownLoss, windowMs, minReports } = this.options;
    const last = this.readings.at(-1);
    // Counts that went back (a new stream): start the window again. Losses may go back on their own (a
    // late retransmission fills a gap counted as lost): that is no new loss.
    if (last && reading.sent < last.sent) this.readings.length = 0;
    // Nothing at all arrived since the last reading: the link is down, not thin (a tunnel, a network
    // change). What the outage lost shows up at once when it is back: the window starts after it.
    const got = last ? reading.sent - reading.lost - (last.sent - last.lost) : 1;
    if (got <= 0) {
      this.down = true;
      this.readings.length = 0;
    } else if (this.down) {
      this.down = false;
      this.readings.length = 0;
    }
    this.readings.push(reading);
    while (this.readings.length > 1 && reading.at - this.readings[1]!.at >= windowMs) this.readings.shift();
    const first = this.readings[0]!;
    if (reading.at - first.at < windowMs * 0.75) return undefined;
    const sent = reading.sent - first.sent;
    if (sent < MIN_PACKETS) return undefined;
    const lost = Math.max(0, reading.lost - first.lost);
    const loss = lost / sent;
    const lossPct = Math.round(loss * 1000) / 10;
    const reports = this.readings.filter((r, i) => i > 0 && r.lost > this.readings[i - 1]!.lost).length;
    if (loss > stepDownLoss && lost >= MIN_LOST && reports >= minReports) {
      this.quietSince = undefined;
      // After a step down the encoder and the estimate need a while to follow; a step up that loses
      // is taken back at once.
      const settling = this.steppedUpAt < this.changedAt && reading.at - this.changedAt < SETTLE_MS;
      if (this.level >= top || settling) return undefined;
      if (reading.at - this.steppedUpAt < 2 * SETTLE_MS + windowMs) this.quietMs = Math.min(MAX_QUIET_MS, this.quietMs * 2);
      return this.change((this.level + 1) as LossLevel, reading.at, lossPct);
    }
    if (loss > QUIET_LOSS || this.level === 0) {
      this.quietSince = undefined;
      return undefined;
    }
    this.quietSince ??= reading.at;
    if (reading.at - this.quietSince < this.quietMs || reading.at - this.changedAt < this.quietMs) return undefined;
    this.steppedUpAt = reading.at;
    this.quietSince = undefined;
    return this.change((this.level - 1) as LossLevel, reading.at, lossPct);
  }

  private change(level: LossLevel, at: number, lossPct: number): LossChange {
    const from = this.level;
    this.level = level;
    this.changedAt = at;
    // The window's losses were the old level's: the new one is judged on its own.
    this.readings.length = 0;
    return { level, from, lossPct };
  }
}
