// What a SIP terminal receives: the hearing as one picture and one sound, made for it alone. One ffmpeg a
// call (the public stream's compositor, workers/livestream/program.ts): everyone else's cameras laid out
// with the active speaker large and their roles under the tiles, and everyone else's microphones mixed —
// never the terminal's own (it would hear itself back). Sent as RTP to the call's relays, which send it
// on to the terminal. Rebuilt when someone's camera or microphone comes or goes, and when one of its
// inputs stops delivering (one silent RTP input holds the whole ffmpeg mix up: everyone would fall silent
// for the terminal) — left out until it delivers again.
import fs from 'node:fs';
import path from 'node:path';
import type { MediaRoom } from '../../workers/media/room.ts';
import { ProgramRun, type ProgramSize, type ProgramSource, type ProgramWords, type RtpOutput } from '../../workers/livestream/program.ts';
import type { PortPairs } from '../../workers/taps/udp-ports.ts';
import { SilentInputs } from '../../workers/livestream/inputs.ts';

/** The terminal's picture: 640x360 at 25 fps, 800 kbit/s (what a courtroom terminal shows well on a 720p screen). */
export const FEED_SIZE: ProgramSize = { width: 640, height: 360, videoKbps: 800, fps: 25, preset: 'veryfast' };
/**
 * A terminal without video gets the sound only: no camera is tapped or decoded (the graph's picture is
 * a 1 fps card of placeholders, made and dropped).
 */
const SOUND_ONLY: ProgramSize = { width: 320, height: 180, videoKbps: 50, fps: 1, preset: 'ultrafast', audioOnly: true };
/** A change of cameras or microphones is waited on this long, so that several at once rebuild once. */
const REBUILD_AFTER_MS = 1000;
/** How often the inputs are checked for silence (each check watches them for a second). */
const CHECK_MS = 2000;

export interface FeedOptions {
  room: MediaRoom;
  /** The terminal: its own producers are left out. */
  participantId: string;
  rtp: RtpOutput;
  ports: PortPairs;
  workDir: string;
  words: ProgramWords;
  /** A participant's label under their tile (their role in the server's language), or null for an internal peer. */
  label: (participantId: string) => string | null;
  /** A run that could not be built or ended on its own (logged by the caller; the feed tries again). */
  onTrouble: (what: string) => void;
  /**
   * A witness's terminal waiting to be called in: nothing of the courtroom, a card with `card` on it and
   * silence (asked at each rebuild; `refresh` when it changes).
   */
  waiting?: { now: () => boolean; card: string };
}

export class TerminalFeed {
  private run: ProgramRun | null = null;
  private runId = 0;
  private timer?: NodeJS.Timeout;
  private ops: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly unsubscribe: () => void;
  /** Inputs that delivered nothing, left out until they do again. */
  private readonly silent = new SilentInputs();
  /** The producers the current run takes. */
  private taken: string[] = [];
  private readonly watchdog: NodeJS.Timeout;
  private checking = false;

  constructor(private readonly o: FeedOptions) {
    fs.mkdirSync(o.workDir, { recursive: true });
    const changed = (info: { participantId: string }): void => {
      // A waiting witness's card does not change with the courtroom.
      if (o.waiting?.now()) return;
      if (info.participantId !== o.participantId && o.label(info.participantId) !== null) this.schedule();
    };
    const speaker = ({ participantId }: { participantId: string | null }): void => {
      if (participantId) this.run?.setSpeaker(participantId);
    };
    const closed = (): void => this.close();
    o.room.on('producerAdded', changed);
    o.room.on('producerClosed', changed);
    o.room.on('producerPaused', changed);
    o.room.on('activeSpeaker', speaker);
    o.room.on('close', closed);
    this.unsubscribe = () => {
      o.room.off('producerAdded', changed);
      o.room.off('producerClosed', changed);
      o.room.off('producerPaused', changed);
      o.room.off('activeSpeaker', speaker);
      o.room.off('close', closed);
    };
    this.schedule(0);
    this.watchdog = setInterval(() => void this.check(), CHECK_MS);
    this.watchdog.unref();
  }

  /** Inputs gone silent are left out, inputs back are taken again: either way the run is rebuilt. */
  private async check(): Promise<void> {
    if (this.closed || this.checking || !this.run) return;
    this.checking = true;
    try {
      const gone = await this.silent.findSilent(this.o.room, this.taken);
      const back = this.silent.size ? await this.silent.returned(this.o.room) : [];
      if (gone.length || back.length) this.schedule(0);
    } catch (error) {
      this.o.onTrouble(`the terminal's feed could not check its inputs: ${(error as Error).message.slice(0, 200)}`);
    } finally {
      this.checking = false;
    }
  }

  /** Rebuilt at once (a witness called in or sent back). */
  refresh(): void {
    this.schedule(0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.unsubscribe();
    this.run?.kill();
    this.run = null;
    fs.rmSync(this.o.workDir, { recursive: true, force: true });
  }

  private schedule(after = REBUILD_AFTER_MS): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ops = this.ops.then(() => this.rebuild()).catch((error: Error) => this.o.onTrouble(error.message.slice(0, 300)));
    }, after);
    this.timer.unref();
  }

  /** Everyone else in the main room with a camera or microphone, in join order. */
  private sources(): ProgramSource[] {
    const by = new Map<string, ProgramSource>();
    for (const p of this.o.room.producers()) {
      if (p.participantId === this.o.participantId || p.paused || p.source === 'screen' || p.source === 'interpretation') continue;
      if (this.silent.has(p.producerId)) continue;
      const label = this.o.label(p.participantId);
      if (label === null) continue; // the recorder, the transcriber, the stream's own taps
      const s = by.get(p.participantId) ?? { participantId: p.participantId, label, hidden: false, disguised: false };
      if (p.kind === 'video') s.videoProducerId = p.producerId;
      else s.audioProducerId = p.producerId;
      by.set(p.participantId, s);
    }
    return [...by.values()];
  }

  private async rebuild(): Promise<void> {
    if (this.closed) return;
    this.run?.kill();
    this.run = null;
    const size = this.o.rtp.video ? FEED_SIZE : SOUND_ONLY;
    const o = { workDir: this.o.workDir, runId: ++this.runId, startNumber: 0, size, rtp: this.o.rtp };
    const waiting = this.o.waiting?.now() ?? false;
    const sources = waiting ? [] : this.sources();
    // What the run will take: every microphone, and the cameras unless the terminal has no picture.
    this.taken = sources
      .flatMap((x) => [x.audioProducerId, ...(this.o.rtp.video ? [x.videoProducerId] : [])])
      .filter((id): id is string => !!id);
    const run = await ProgramRun.program(this.o.room, sources, {
      ...o,
      ports: this.o.ports,
      words: waiting ? { ...this.o.words, waiting: this.o.waiting!.card } : this.o.words,
      peerId: `sip-feed:${this.o.participantId}`,
    }).catch((error: Error) => {
      this.o.onTrouble(`the terminal's feed could not be built: ${error.message.slice(0, 200)}`);
      this.schedule(2000);
      return null;
    });
    if (!run) return;
    if (this.closed) return run.kill();
    this.run = run;
    void run.exited().then((code) => {
      if (run.exitedOnPurpose || this.closed || this.run !== run) return;
      this.o.onTrouble(`the terminal's feed encoder exited (${run.exitSignal ?? `code ${code}`}): ${run.errorOutput.slice(-200)}`);
      this.schedule(2000);
    });
  }
}

/** A work directory for a call's feed (its SDP files). */
export const feedDir = (dataDir: string, participantId: string): string => path.join(dataDir, 'sip-feed', participantId);
