// Public livestream policy and lifecycle: a hearing is streamed only if the court platform marked it
// streamable and the judge approved; the judge or clerk start, pause (slate), stop and cut; protected
// participants are replaced inside the program; captions come from the final transcript. Every action
// is logged (audit, webhook, record).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../http/errors.ts';
import type { HearingService } from '../hearing/hearings.ts';
import type { Protection, Store } from '../store/store.ts';
import { isInSession } from '../hearing/state.ts';
import { LivePublisher, type Caption } from '../../workers/livestream/publisher.ts';
import {
  EncoderExited,
  ladder,
  LIVE_PEER,
  ProgramRun,
  programWords,
  type ProgramSource,
  type ProgramWords,
} from '../../workers/livestream/program.ts';
import type { TFunction } from 'i18next';
import { translator, type Language } from '../i18n/i18n.ts';
import type { MediaPlane } from '../../workers/media/plane.ts';
import { followMainRooms } from '../../workers/taps/tap.ts';
import type { MediaRoom } from '../../workers/media/room.ts';
import { PortPairs } from '../../workers/taps/udp-ports.ts';
import { SilentInputs } from '../../workers/livestream/inputs.ts';
import { Lag, standsStill, verdict } from '../../workers/livestream/verdict.ts';
import type { StreamState } from '../../workers/livestream/state.ts';

export const STREAM_ACTIONS = ['approve', 'start', 'pause', 'stop', 'cut'] as const;
export type StreamAction = (typeof STREAM_ACTIONS)[number];

export interface LiveConfig {
  delaySeconds: number;
  size: '720p' | '480p';
  captionSpeaker: 'role' | 'name';
  /** `never`: a starved stream keeps a (small) picture rather than stepping down to sound only. */
  soundOnly: 'allowed' | 'never';
  portMin: number;
  portMax: number;
}

interface HearingStream {
  state: StreamState;
  publisher: LivePublisher;
  run: ProgramRun | null;
  /** Runs replaced by `run` that still publish until it has its first segment (make-before-break). */
  retiring: Set<ProgramRun>;
  runId: number;
  /** Paused by the hearing's adjournment (resumes with it), not by a person. */
  autoPaused: boolean;
  restartTimer?: NodeJS.Timeout;
  /** Rebuilds a run that has stopped making frames (see workers/livestream/verdict.ts). */
  watchdog?: NodeJS.Timeout;
  /** Cameras and microphones that deliver nothing, left out of the program until they do again. */
  silent: SilentInputs;
  /** Serializes run changes. */
  ops: Promise<void>;
  /** The step of the quality ladder (0: as configured). */
  level: number;
  /** How the current run keeps up: see StreamHealth. */
  condition: StreamHealth['condition'];
  /** Output time over wall time in the last seconds (1: real time). */
  rate: number | null;
  lagMs: number;
  degradations: number;
  stalls: number;
  /** How long the stream must keep up, with the machine idle enough, before it steps back up. */
  restoreAfterMs: number;
  /** The watchdog's last readings, one line each (for diagnosis: `readings()`). */
  readings: string[];
}

/** A hearing's stream as /metrics reports it. */
export interface StreamHealth {
  hearingId: string;
  state: StreamState;
  level: number;
  /**
   * `starting` (no output yet), `ok`, `slow` (advancing, falling behind real time, short of CPU), `stuck`
   * (not advancing).
   */
  condition: 'starting' | 'ok' | 'slow' | 'stuck';
  rate: number | null;
  lagMs: number;
  segmentAgeMs: number;
  degradations: number;
  stalls: number;
}

/**
 * A run that advances but has fallen this far behind real time from its best pace since it settled is short of CPU:
 * the stream steps down the ladder (a rebuild at the same quality would only fall behind again).
 */
const SLOW_LAG_MS = 3000;
/** ...and is still falling behind: output time over wall time in the last seconds below this. */
const SLOW_RATE = 0.75;
/** From a run's first frame, how long before its pace is judged. */
const SETTLE_MS = 4000;
/** Keeping up for this long (doubling after each step down, up to RESTORE_MAX_MS) with the CPU at least
 * half idle, the stream steps back up. */
const RESTORE_MS = 60_000;
const RESTORE_MAX_MS = 600_000;
/** A replaced run publishes at most this long while the new one starts (make-before-break). */
const HANDOVER_MAX_MS = 30_000;
/** The numbers a replaced run may still use (1 s segments: far more than HANDOVER_MAX_MS gives it). */
const HANDOVER_NUMBERS = 100;

export class LivestreamService {
  private readonly streams = new Map<string, HearingStream>();
  private readonly captions = new Map<string, Caption[]>();
  private readonly ports: PortPairs;

  private readonly t: TFunction;

  constructor(
    private readonly o: { store: Store; hearings: HearingService; plane: MediaPlane; config: LiveConfig; dataDir: string; lang: Language },
  ) {
    this.ports = new PortPairs(o.config.portMin, o.config.portMax);
    this.t = translator(o.lang);
    followMainRooms(o.plane, (room) => {
      const changed = (info: { participantId: string }): void => {
        if (info.participantId !== LIVE_PEER) this.scheduleRestart(room.hearingId);
      };
      room.on('producerAdded', changed);
      room.on('producerClosed', changed);
      // A paused camera sends nothing: the program is rebuilt without it (a stalled input would hold up
      // the whole composition) and with it again when it resumes.
      room.on('producerPaused', changed);
      room.on('activeSpeaker', ({ participantId }) => participantId && this.streams.get(room.hearingId)?.run?.setSpeaker(participantId));
    });
  }

  /** What the program shows in the server's language. */
  private words(): ProgramWords {
    return programWords(this.t);
  }

  /** The steps this server's streams may take (see `ladder`). */
  private ladder(): ReturnType<typeof ladder> {
    const steps = ladder(this.o.config.size);
    return this.o.config.soundOnly === 'never' ? steps.filter((s) => !s.audioOnly) : steps;
  }

  /** The stream watchdog's last readings of a hearing's program (newest last), to explain a stream that faltered. */
  readings(hearingId: string): string[] {
    return [...(this.streams.get(hearingId)?.readings ?? [])];
  }

  publicDir(hearingId: string): string {
    return path.join(this.o.dataDir, 'live', hearingId);
  }

  /** Whether viewers may see this hearing's stream (flagged, approved, and started at least once). */
  isPublic(hearingId: string): boolean {
    const s = this.o.store.streamSettings(hearingId);
    return s.streamable && s.approvedBy !== null && fs.existsSync(path.join(this.publicDir(hearingId), 'index.m3u8'));
  }

  status(hearingId: string): {
    streamable: boolean;
    approved: boolean;
    state: StreamState;
    delaySeconds: number;
    playlist: string;
    watch: string;
  } {
    this.o.hearings.row(hearingId);
    const s = this.o.store.streamSettings(hearingId);
    return {
      streamable: s.streamable,
      approved: s.approvedBy !== null,
      state: this.streams.get(hearingId)?.state ?? 'idle',
      delaySeconds: this.o.config.delaySeconds,
      playlist: `/live/${hearingId}/index.m3u8`,
      watch: `/watch/${hearingId}`,
    };
  }

  setStreamable(hearingId: string, streamable: boolean, actor: string): void {
    this.o.hearings.assertOpen(hearingId); // 404 for a hearing that does not exist, 409 once closed
    const s = this.o.store.streamSettings(hearingId);
    this.o.store.saveStreamSettings(hearingId, { ...s, streamable, ...(streamable ? {} : { approvedBy: null, approvedAt: null }) });
    this.o.hearings.log(hearingId, actor, 'stream.streamable', { streamable });
    if (!streamable) void this.act(hearingId, 'cut', actor).catch(() => undefined);
  }

  async act(hearingId: string, action: StreamAction, actor: string): Promise<ReturnType<LivestreamService['status']>> {
    const hearing = this.o.hearings.row(hearingId);
    const settings = this.o.store.streamSettings(hearingId);
    const stream = this.streams.get(hearingId);
    if (action === 'approve') {
      if (!settings.streamable) throw new AppError(409, 'not_streamable', 'the court platform has not marked this hearing as streamable');
      this.o.store.saveStreamSettings(hearingId, { ...settings, approvedBy: actor, approvedAt: new Date().toISOString() });
    } else if (action === 'start') {
      if (!settings.streamable) throw new AppError(409, 'not_streamable', 'the court platform has not marked this hearing as streamable');
      if (!settings.approvedBy) throw new AppError(409, 'not_approved', 'the judge has not approved streaming this hearing');
      if (!isInSession(hearing.state))
        throw new AppError(409, 'not_in_session', `the hearing is ${hearing.state}: streams start while it is in session`);
      if (stream?.state === 'live') return this.status(hearingId);
      // The slate goes on until the program has its first segment.
      if (stream?.state === 'paused') await this.serial(stream, () => this.switchTo(hearingId, stream, 'program', 'handover'));
      else await this.begin(hearingId);
    } else if (!stream || stream.state === 'ended' || stream.state === 'cut') {
      throw new AppError(409, 'not_streaming', 'the hearing is not being streamed');
    } else if (action === 'pause') {
      stream.autoPaused = false;
      if (stream.state === 'live') await this.serial(stream, () => this.switchTo(hearingId, stream, 'slate'));
    } else if (action === 'stop') {
      // The answer does not wait for the held-back segments to go out (up to the legal delay).
      void this.end(hearingId, stream, false).catch((error: Error) => console.warn(`[live] ${error.message}`));
    } else {
      await this.end(hearingId, stream, true);
    }
    this.o.hearings.log(
      hearingId,
      actor,
      `stream.${action === 'stop' ? 'stopped' : action === 'cut' ? 'cut' : action === 'approve' ? 'approved' : action === 'pause' ? 'paused' : 'started'}`,
      {
        delaySeconds: this.o.config.delaySeconds,
        segmentsPublished: this.streams.get(hearingId)?.publisher.segmentsPublished ?? 0,
      },
    );
    return this.status(hearingId);
  }

  /** Who is protected from the public, and how. */
  protections(hearingId: string): { participantId: string; hidden: boolean; voice: string }[] {
    return [...this.o.store.protections(hearingId)].map(([participantId, p]) => ({ participantId, hidden: p.hidden, voice: p.voice }));
  }

  /** A protected participant's picture is never shown to the public: not in the program, not to a viewer. */
  isHidden(hearingId: string, participantId: string): boolean {
    return this.o.store.protections(hearingId).get(participantId)?.hidden === true;
  }

  setProtection(hearingId: string, participantId: string, protection: Protection, actor: string): Protection {
    this.o.hearings.participant(hearingId, participantId);
    this.o.hearings.assertOpen(hearingId);
    this.o.store.saveProtection(hearingId, participantId, protection);
    this.o.hearings.log(hearingId, actor, 'stream.protection', { participantId, ...protection });
    // Applied at once: the program is rebuilt without this participant's picture (or voice as it is).
    const stream = this.streams.get(hearingId);
    if (stream?.state === 'live') void this.serial(stream, () => this.switchTo(hearingId, stream, 'program'));
    return protection;
  }

  /** A final transcript segment, shown as a caption (by role unless the court chose names). */
  addCaption(
    hearingId: string,
    c: { participantId: string; speakerName: string; role: string; start: string; end: string; text: string },
  ): void {
    const list = this.captions.get(hearingId) ?? [];
    list.push({
      startMs: Date.parse(c.start),
      endMs: Date.parse(c.end),
      speaker: this.o.config.captionSpeaker === 'name' ? c.speakerName : this.t(`role.${c.role}`),
      text: c.text,
    });
    this.captions.set(hearingId, list.slice(-500));
  }

  async close(): Promise<void> {
    for (const [hearingId, stream] of this.streams)
      if (stream.state === 'live' || stream.state === 'paused') await this.end(hearingId, stream, true);
  }

  private async begin(hearingId: string): Promise<void> {
    // A stopped stream may still be publishing what it held back: a new stream replaces it entirely.
    const previous = this.streams.get(hearingId);
    if (previous && previous.publisher.state !== 'cut') previous.publisher.cut();
    const workDir = path.join(this.o.dataDir, 'live-work', hearingId);
    fs.rmSync(workDir, { recursive: true, force: true });
    const publisher = new LivePublisher({
      workDir,
      publicDir: this.publicDir(hearingId),
      delaySeconds: this.o.config.delaySeconds,
      onSkip: (segment, reason) => this.o.hearings.log(hearingId, 'system', 'stream.segment_skipped', { segment, reason }),
      // Cues in the segment's span, and cues that arrived too late for the segment they started in
      // (recognition finishes after the utterance): those are shown in the next one.
      captions: (from, to) =>
        (this.captions.get(hearingId) ?? []).filter((c) => {
          const show = c.startMs < to && (c.endMs > from || !c.shown);
          if (show) c.shown = true;
          return show;
        }),
    });
    const stream: HearingStream = {
      state: 'live',
      publisher,
      run: null,
      retiring: new Set(),
      runId: 0,
      autoPaused: false,
      ops: Promise.resolve(),
      silent: new SilentInputs(),
      level: 0,
      condition: 'starting',
      rate: null,
      lagMs: 0,
      degradations: 0,
      readings: [],
      stalls: 0,
      restoreAfterMs: RESTORE_MS,
    };
    this.streams.set(hearingId, stream);
    await this.serial(stream, () => this.switchTo(hearingId, stream, 'program'));
  }

  /**
   * Starts the next run (program or slate), numbering segments on, and ends the current one: first
   * (`break`: a pause, a protection, a stuck or dead run — nothing of the old picture may go out after
   * the change), or once the new run has its first segment (`handover`: a step down or up, someone joining
   * or leaving — the old run keeps the public served while the new one starts, which takes seconds on a
   * machine short of CPU).
   */
  private async switchTo(
    hearingId: string,
    stream: HearingStream,
    what: 'program' | 'slate',
    how: 'break' | 'handover' = 'break',
  ): Promise<void> {
    if (stream.state === 'ended' || stream.state === 'cut') return;
    const old = stream.run;
    const handover = how === 'handover' && old !== null && !old.ending && old.producing;
    // A change that must take effect at once ends every run still writing, the ones handing over too.
    if (!handover) await Promise.all([old?.stop(), ...[...stream.retiring].map((r) => r.stop())]);
    const workDir = path.join(this.o.dataDir, 'live-work', hearingId);
    // The old run writes on meanwhile: the new one numbers its segments after a gap it cannot reach (it
    // is stopped within HANDOVER_MAX_MS), so the two never clash and the publisher keeps their order.
    const startNumber = nextSegmentNumber(workDir, this.publicDir(hearingId)) + (handover ? HANDOVER_NUMBERS : 0);
    const o = { workDir, runId: ++stream.runId, startNumber, size: this.ladder()[stream.level]! };
    const room = this.o.plane.get(hearingId);
    const sources = what === 'program' && room ? this.sources(hearingId, room, stream.silent) : [];
    let run: ProgramRun;
    try {
      run =
        what === 'program' && room
          ? await ProgramRun.program(room, sources, { ...o, ports: this.ports, words: this.words() })
          : ProgramRun.slate(this.t('program.paused'), o);
    } catch (error) {
      // E.g. a producer closed while the run was being built, or ffmpeg too slow to open its ports: the
      // stream must not stay without a run. Logged, and tried again.
      if (error instanceof EncoderExited)
        this.o.hearings.log(hearingId, 'system', 'stream.encoder_exit', {
          code: error.code,
          signal: error.signal,
          error: error.output.slice(-300),
          run: o.runId,
          starting: true,
        });
      else
        this.o.hearings.log(hearingId, 'system', 'stream.rebuild_failed', { run: o.runId, error: (error as Error).message.slice(0, 300) });
      setTimeout(() => void this.serial(stream, () => this.switchTo(hearingId, stream, what, how)), 2000).unref();
      return;
    }
    // Stopped or cut while this run was starting: it never goes out.
    if ((stream.state as StreamState) === 'ended' || (stream.state as StreamState) === 'cut') return run.kill();
    // The publisher holds this run's segments back while an older run may still write some.
    stream.publisher.runStarted(run.runId);
    void run.exited().then(() => stream.publisher.runEnded(run.runId));
    stream.run = run;
    if (handover && old) this.retire(hearingId, stream, old, run);
    stream.state = what === 'program' ? 'live' : 'paused';
    // The encoder must not end on its own (e.g. a camera whose first key frame came too late for it):
    // that is logged, and the run is rebuilt after a moment.
    // An exit that was not ours is logged even while the run was being stopped (e.g. for a step down):
    // the record must show every loss. Only the current run is rebuilt.
    void run.exited().then((code) => {
      if (run.exitedOnPurpose) return;
      this.o.hearings.log(hearingId, 'system', 'stream.encoder_exit', {
        code,
        signal: run.exitSignal,
        error: run.errorOutput.slice(-300),
        run: run.runId,
        ...(run.ending ? { whileStopping: true } : {}),
      });
      if (run.ending || stream.run !== run || (stream.state !== 'live' && stream.state !== 'paused')) return;
      setTimeout(() => {
        if (stream.run === run)
          void this.serial(stream, () => this.switchTo(hearingId, stream, stream.state === 'paused' ? 'slate' : 'program'));
      }, 2000).unref();
    });
    stream.publisher.setState(stream.state);
    this.watch(hearingId, stream, run, sources);
  }

  /**
   * Ends `old` once `next` has finished its first segment (or has died, or after HANDOVER_MAX_MS): until
   * then both write segments, the old one for the public. A stop or cut of the stream ends it too.
   */
  private retire(hearingId: string, stream: HearingStream, old: ProgramRun, next: ProgramRun): void {
    stream.retiring.add(old);
    const since = Date.now();
    const timer = setInterval(() => {
      const over = next.producing || next.ending || Date.now() - since >= HANDOVER_MAX_MS;
      if (!over || !stream.retiring.has(old)) return;
      clearInterval(timer);
      if (!next.producing && !next.ending)
        this.o.hearings.log(hearingId, 'system', 'stream.handover_late', { run: next.runId, waitedMs: Date.now() - since });
      void old.stop().finally(() => stream.retiring.delete(old));
    }, 250);
    timer.unref();
  }

  /** Each stream's health, for /metrics. */
  health(): StreamHealth[] {
    return [...this.streams].map(([hearingId, s]) => ({
      hearingId,
      state: s.state,
      level: s.level,
      condition: s.condition,
      rate: s.rate,
      lagMs: s.lagMs,
      segmentAgeMs: s.run ? s.run.silentForMs() : 0,
      degradations: s.degradations,
      stalls: s.stalls,
    }));
  }

  /**
   * Every second, from the encoder's own progress (`-progress`) and its threads' schedule: a run that
   * makes no frame for STALL_MS (FIRST_FRAME_MS before its first) is stuck — an input
   * holds the composition up, or it hangs: logged and rebuilt without the inputs that deliver nothing.
   * A run that advances but has fallen SLOW_LAG_MS behind real time, is still falling behind, and whose
   * threads wait for a CPU is slow — the machine is short of CPU: the stream steps down the ladder (as
   * many steps as the shortfall asks for; at the last step it goes on as it can, since rebuilding would
   * only cost more — unless it has made no frame at all, or has stood still for STILL_MAX_MS: stuck).
   * One behind for want of input is neither. A stream that has kept up long enough,
   * on a machine with room again, steps back up. Every other second, inputs left out that deliver again
   * are taken back.
   */
  private watch(hearingId: string, stream: HearingStream, run: ProgramRun, sources: ProgramSource[]): void {
    clearInterval(stream.watchdog);
    let tick = 0;
    let busy = false;
    /** Progress samples of the last seconds (output time against wall time, and the encoder's CPU time and wait for one). */
    const samples: { at: number; outMs: number; runNs?: number; waitNs?: number }[] = [];
    const lag = new Lag();
    let firstFrameAt: number | undefined;
    let keptUpSince = Date.now();
    let cpu = cpuTimes();
    let slowLogged = false;
    stream.condition = 'starting';
    stream.rate = null;
    stream.lagMs = 0;
    const rebuild = (how: 'break' | 'handover'): Promise<void> =>
      this.serial(stream, () => this.switchTo(hearingId, stream, stream.state === 'paused' ? 'slate' : 'program', how));
    const levels = this.ladder().length;
    const fps = this.ladder()[stream.level]!.fps;
    /** The run's inputs (to find the silent ones when it stops advancing). */
    const taken = sources.flatMap((s) => [s.videoProducerId, s.audioProducerId]).filter((id): id is string => !!id);
    const check = async (): Promise<void> => {
      const room = this.o.plane.get(hearingId);
      const now = Date.now();
      const p = run.progress;
      // How far the picture got: frames over the run's frame rate. The encoder's output time runs on with
      // the sound while the picture falls behind (seen: 3.7 s behind by output time, 13 s by segments),
      // and a segment is finished only by a picture's key frame.
      const videoMs = Math.round((p.frame * 1000) / fps);
      // The baseline is taken once the run has settled (its start works off what arrived while it probed).
      if (p.frame > 0) firstFrameAt ??= p.advancedAt;
      if (firstFrameAt !== undefined && !lag.settled && now - firstFrameAt >= SETTLE_MS) lag.settle(now, videoMs);
      samples.push({ at: now, outMs: videoMs, ...run.schedule() });
      while (samples.length > 6) samples.shift();
      const oldest = samples[0]!;
      stream.rate = lag.settled && now - oldest.at >= 3000 ? Number(((videoMs - oldest.outMs) / (now - oldest.at)).toFixed(2)) : null;
      stream.lagMs = lag.update(now, videoMs);
      const stuckFor = now - p.advancedAt;
      const started = firstFrameAt !== undefined;
      const notAdvancing = standsStill({ stillMs: stuckFor, started });
      const short = starved(samples);
      const silent = notAdvancing && room ? await stream.silent.findSilent(room, taken) : [];
      const behind = lag.settled && stream.lagMs >= SLOW_LAG_MS && stream.rate !== null && stream.rate < SLOW_RATE;
      const judged = verdict({ stillMs: stuckFor, started, silentInputs: silent.length, short, behind, level: stream.level, levels });
      stream.readings.push(
        `${new Date(now).toISOString().slice(11, 23)} run ${run.runId} level ${stream.level}: still ${stuckFor} ms, lag ${stream.lagMs} ms, rate ${stream.rate}, short ${short}, behind ${behind} → ${judged}`,
      );
      if (stream.readings.length > 40) stream.readings.shift();
      if (judged === 'stuck') {
        stream.condition = 'stuck';
        stream.stalls++;
        clearInterval(stream.watchdog);
        const leftOut = sources.flatMap((s) => [
          ...(s.videoProducerId && silent.includes(s.videoProducerId) ? [{ participantId: s.participantId, kind: 'video' }] : []),
          ...(s.audioProducerId && silent.includes(s.audioProducerId) ? [{ participantId: s.participantId, kind: 'audio' }] : []),
        ]);
        this.o.hearings.log(hearingId, 'system', 'stream.stalled', {
          run: run.runId,
          condition: 'stuck',
          stuckMs: stuckFor,
          level: stream.level,
          leftOut,
          error: run.errorOutput.slice(-300),
        });
        if (stream.run === run) await rebuild('break');
        return;
      }
      if (judged === 'slow') {
        stream.condition = 'slow';
        keptUpSince = now;
        cpu = cpuTimes();
        if (stream.level < levels - 1) {
          clearInterval(stream.watchdog);
          const from = stream.level;
          // Each step halves the cost about: as many steps as the shortfall asks for (every rebuild on a
          // starved machine costs seconds of stream).
          const steps = Math.max(1, Math.ceil(Math.log2(1 / Math.max(stream.rate ?? 0.5, 0.05))));
          stream.level = Math.min(levels - 1, stream.level + steps);
          stream.degradations++;
          stream.restoreAfterMs = Math.min(RESTORE_MAX_MS, stream.restoreAfterMs * 2);
          console.warn(
            `[live] ${hearingId}: stepped down from ${from} to ${stream.level} (behind by ${stream.lagMs} ms, pace ${stream.rate}, still for ${stuckFor} ms)`,
          );
          this.o.hearings.log(hearingId, 'system', 'stream.degraded', {
            run: run.runId,
            from,
            to: stream.level,
            lagMs: stream.lagMs,
            rate: stream.rate,
            stillMs: stuckFor,
            ...this.ladder()[stream.level],
          });
          if (stream.run === run) await rebuild('handover');
        } else if (!slowLogged) {
          slowLogged = true;
          this.o.hearings.log(hearingId, 'system', 'stream.slow', {
            run: run.runId,
            level: stream.level,
            lagMs: stream.lagMs,
            rate: stream.rate,
          });
        }
        return;
      }
      if (!lag.settled) return;
      stream.condition = 'ok';
      if (stream.rate !== null && stream.rate < 0.95) keptUpSince = now;
      if (stream.level > 0 && now - keptUpSince >= stream.restoreAfterMs) {
        const cpuNow = cpuTimes();
        const idle = idleShare(cpu, cpuNow);
        keptUpSince = now;
        cpu = cpuNow;
        if (idle >= 0.5) {
          clearInterval(stream.watchdog);
          const from = stream.level;
          stream.level--;
          this.o.hearings.log(hearingId, 'system', 'stream.restored', {
            run: run.runId,
            from,
            to: stream.level,
            idle: Number(idle.toFixed(2)),
          });
          if (stream.run === run) await rebuild('handover');
          return;
        }
      }
      if (room && stream.silent.size && tick % 2 === 0 && (await stream.silent.returned(room)).length) {
        this.o.hearings.log(hearingId, 'system', 'stream.input_back', { run: run.runId });
        this.scheduleRestart(hearingId);
      }
    };
    stream.watchdog = setInterval(() => {
      tick++;
      if (stream.run !== run || run.ending || (stream.state !== 'live' && stream.state !== 'paused')) return clearInterval(stream.watchdog);
      if (busy) return;
      busy = true;
      void check()
        .catch((error: Error) => console.warn(`[live] ${error.message}`))
        .finally(() => (busy = false));
    }, 1000);
    stream.watchdog.unref();
  }

  private async end(hearingId: string, stream: HearingStream, cut: boolean): Promise<void> {
    clearTimeout(stream.restartTimer);
    clearInterval(stream.watchdog);
    if (cut) {
      stream.state = 'cut';
      stream.run?.kill();
      for (const r of stream.retiring) r.kill();
      stream.publisher.cut();
      return;
    }
    stream.state = 'ended';
    await this.serial(stream, async () => {
      await Promise.all([stream.run?.stop(), ...[...stream.retiring].map((r) => r.stop())]);
      stream.run = null;
    });
    // The held-back segments go out in the background (up to the legal delay): nobody waits for them.
    void stream.publisher.finish().catch((error: Error) => console.warn(`[live] ${error.message}`));
  }

  /** Main-room participants with media, in join order; internal peers never appear. */
  private sources(hearingId: string, room: MediaRoom, silent: SilentInputs): ProgramSource[] {
    const protections = this.o.store.protections(hearingId);
    const byParticipant = new Map<string, ProgramSource>();
    for (const p of room.producers()) {
      // The public hears the original: never the interpretation channel.
      if (p.source === 'screen' || p.source === 'interpretation' || p.paused || silent.has(p.producerId)) continue;
      const participant = this.o.store.participant(p.participantId);
      if (!participant) continue; // recorder, transcriber, face checker and other internal peers
      const protection = protections.get(p.participantId);
      const s = byParticipant.get(p.participantId) ?? {
        participantId: p.participantId,
        label: this.o.config.captionSpeaker === 'name' ? participant.name : this.t(`role.${participant.role}`),
        hidden: protection?.hidden ?? false,
        disguised: protection?.voice === 'disguised',
      };
      if (p.kind === 'video') s.videoProducerId = p.producerId;
      else s.audioProducerId = p.producerId;
      byParticipant.set(p.participantId, s);
    }
    return [...byParticipant.values()];
  }

  private scheduleRestart(hearingId: string): void {
    const stream = this.streams.get(hearingId);
    if (stream?.state !== 'live') return;
    clearTimeout(stream.restartTimer);
    stream.restartTimer = setTimeout(() => void this.serial(stream, () => this.switchTo(hearingId, stream, 'program', 'handover')), 1500);
  }

  /**
   * The hearing moved to another node (cluster): this node's encoder for it stops (its held-back
   * segments still go out) and the stream is forgotten here.
   */
  async relinquish(hearingId: string): Promise<boolean> {
    const stream = this.streams.get(hearingId);
    if (!stream) return false;
    this.streams.delete(hearingId);
    if (stream.state !== 'ended' && stream.state !== 'cut') await this.end(hearingId, stream, false);
    return true;
  }

  /**
   * The hearing's stream step of a transition: closed → the encoder stops (its held-back segments still
   * go out after the legal delay), adjourned → the slate, back in session → the program again.
   */
  async stateChanged(hearingId: string, to: string): Promise<void> {
    const stream = this.streams.get(hearingId);
    if (!stream || stream.state === 'ended' || stream.state === 'cut') return;
    if (to === 'closed') {
      await this.end(hearingId, stream, false);
      this.o.hearings.log(hearingId, 'system', 'stream.stopped', { reason: 'hearing closed' });
    } else if (to === 'adjourned' && stream.state === 'live') {
      stream.autoPaused = true;
      await this.serial(stream, () => this.switchTo(hearingId, stream, 'slate'));
      this.o.hearings.log(hearingId, 'system', 'stream.paused', { reason: 'hearing adjourned' });
    } else if (isInSession(to as never) && stream.state === 'paused' && stream.autoPaused) {
      stream.autoPaused = false;
      await this.serial(stream, () => this.switchTo(hearingId, stream, 'program', 'handover'));
      this.o.hearings.log(hearingId, 'system', 'stream.started', { reason: `hearing ${to}` });
    }
  }

  private serial(stream: HearingStream, fn: () => Promise<void>): Promise<void> {
    const next = stream.ops.then(fn, fn);
    stream.ops = next.catch((error: Error) => console.warn(`[live] ${error.message}`));
    return next;
  }
}

/** The next segment number after every segment written so far (work or public), so runs never clash. */
function nextSegmentNumber(...dirs: string[]): number {
  let max = -1;
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) {
      const m = /^seg_(\d+)\.ts/.exec(f);
      if (m) max = Math.max(max, Number(m[1]));
    }
  }
  return max + 1;
}

/**
 * Whether the encoder spent the last seconds short of CPU: its threads waited for one at least a quarter
 * as long as they ran and a fifth of the time (an encoder idle for want of input waits for nothing), or
 * they kept every core busy. Without schedstat (a kernel without it) a run that
 * falls behind is taken as short of CPU.
 */
function starved(samples: { at: number; runNs?: number; waitNs?: number }[]): boolean {
  const a = samples[0];
  const b = samples.at(-1);
  if (!a || !b || a === b || a.runNs === undefined || b.runNs === undefined) return true;
  const ran = b.runNs - a.runNs;
  const waited = (b.waitNs ?? 0) - (a.waitNs ?? 0);
  const wallNs = (b.at - a.at) * 1e6;
  return (waited >= ran * 0.25 && waited >= wallNs * 0.2) || ran >= wallNs * os.availableParallelism() * 0.9;
}

/** Total and idle CPU time of the machine so far (all cores). */
function cpuTimes(): { total: number; idle: number } {
  let total = 0;
  let idle = 0;
  for (const c of os.cpus()) {
    total += c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
    idle += c.times.idle;
  }
  return { total, idle };
}

/** The share of CPU time left idle between two readings. */
function idleShare(a: { total: number; idle: number }, b: { total: number; idle: number }): number {
  return b.total > a.total ? (b.idle - a.idle) / (b.total - a.total) : 0;
}
