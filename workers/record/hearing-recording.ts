import fs from 'node:fs';
import path from 'node:path';
import {
  ManifestWriter,
  RecordTakenOver,
  readManifest,
  sha256Hex,
  type EventLine,
  type ManifestBody,
  type ManifestLine,
} from '../../recordings/manifest.ts';
import { MANIFEST, SIGNATURE, TRACKS } from '../../recordings/layout.ts';
import type { RecordKey } from '../../recordings/signing.ts';
import type { MediaRoom, ProducerInfo } from '../media/room.ts';
import { MediaError } from '../media/error.ts';
import { openTap, type Tap } from '../taps/tap.ts';
import type { RecorderProcessClient } from './process-client.ts';
import type { FromRecorder } from './messages.ts';

export const RECORDER_PEER = 'recorder';
const SEGMENT_SECONDS = 2;

/** The record's event for a track's writer failing, by what failed. */
const WRITER_ERROR = { ffmpeg: 'ffmpeg.exit', muxer: 'recorder.muxer_error', recorder: 'recorder.track_error' } as const;

/** How long a track may take to close its last segment (a start-up burst can hold ffmpeg back for seconds). */
const STOP_TIMEOUT_MS = 30_000;

interface TrackState {
  trackId: string;
  producerId: string;
  participantId: string;
  kind: 'audio' | 'video';
  codec: string;
  nextNumber: number;
  running: boolean;
  tap?: Tap;
  /** Waiting for the recorder process to say where to send this track's RTP. */
  ready?: { resolve: (port: number) => void; reject: (error: Error) => void };
  stopped?: () => void;
  /** This run (start → stop): when it began, and whether it produced a segment or reported a stall. */
  runStartedAt?: string;
  runAccounted?: boolean;
  /** What the recorder process reported when the run stopped. */
  lastStop?: { received: number; forwarded: number; writer: 'mux' | 'ffmpeg'; runs: number; framesDropped?: number; stderrTail: string };
}

/**
 * The hearing's losses (packets never received, backlog dropped) reach the bench at most this often,
 * summed over its tracks since the last report; the record's manifest has every one (and every
 * silence) as it happens.
 */
const LOSS_REPORT_MS = 30_000;

/** A summary of what the hearing's recorded tracks lost since the last one, for its log (the bench's 提醒). */
export interface RecordLoss {
  hearingId: string;
  /** Packets that never arrived (sequence gaps) or were dropped from a full backlog, summed. */
  missing: number;
  /** The tracks that lost some, the most first (at most 8). */
  tracks: { participantId: string; kind: 'audio' | 'video'; missing: number }[];
}

export interface Checkpoint {
  hearingId: string;
  /** The chain head as it was `lines` lines in, signed with the record key. */
  lines: number;
  headHash: string;
  signature: string;
  keyFingerprint: string;
  at: string;
}

export interface RecordingContext {
  roleOf: (participantId: string) => string;
  client: RecorderProcessClient;
  key: RecordKey;
  /** Sign the head at least this often while lines are added (seconds), or once this many lines came. */
  checkpoint: { seconds: number; lines: number };
  /** Each checkpoint written, for the court platform to keep (`record.checkpoint` webhook). */
  onCheckpoint: (c: Checkpoint) => void;
  /** What a track lost, summed (at most once per LOSS_REPORT_MS a track). */
  onLoss?: (l: RecordLoss) => void;
  /** Carry on a record another node wrote (see ManifestWriter): that node can no longer add to it. */
  takeOver?: boolean;
  /** Another node took this record over (this node lost the hearing): nothing more is written here. */
  onTakenOver?: () => void;
}

/**
 * The record of one hearing: its manifest, and one recorded track per main-room producer while the
 * hearing is in session. Operations are serialized, so lines land in the order things happened.
 */
export class HearingRecording {
  readonly manifest: ManifestWriter;
  private readonly tracks = new Map<string, TrackState>();
  private ops: Promise<unknown> = Promise.resolve();
  private recording = false;
  private finalized = false;
  private started: boolean;
  private room?: MediaRoom;
  private lastCheckpoint = { lines: 0, at: Date.now() };
  /** Another node carries this record on (it took the hearing over): this one writes nothing more to it. */
  private takenOver = false;
  /** Losses by track not yet reported to the bench, and when they last were (see LOSS_REPORT_MS). */
  private losses = new Map<TrackState, number>();
  private lossReportedAt = 0;
  private readonly checkpointTimer: NodeJS.Timeout;

  constructor(
    readonly hearingId: string,
    readonly dir: string,
    private readonly ctx: RecordingContext,
  ) {
    this.manifest = new ManifestWriter(path.join(dir, MANIFEST), hearingId, { takeOver: ctx.takeOver ?? false });
    this.finalized = fs.existsSync(path.join(dir, SIGNATURE));
    this.started = this.manifest.head.seq > 0 && fs.readFileSync(this.manifest.file, 'utf8').includes('"event":"record.started"');
    this.lastCheckpoint.lines = this.manifest.head.seq;
    this.checkpointTimer = setInterval(() => this.maybeCheckpoint(), Math.min(1000, ctx.checkpoint.seconds * 1000));
    this.checkpointTimer.unref();
  }

  /**
   * Signs the chain head as a manifest line (when lines were added since the last one, and it is time
   * or enough lines came): a record cut back to before a checkpoint the court platform holds no longer
   * verifies against it, even though what is left of the chain is consistent.
   */
  private maybeCheckpoint(): void {
    const { seq } = this.manifest.head;
    if (this.finalized || seq === this.lastCheckpoint.lines) return;
    const due =
      Date.now() - this.lastCheckpoint.at >= this.ctx.checkpoint.seconds * 1000 ||
      seq - this.lastCheckpoint.lines >= this.ctx.checkpoint.lines;
    if (!due) return;
    this.lastCheckpoint = { lines: seq, at: Date.now() };
    void this.serial(async () => {
      if (this.finalized) return;
      const { seq: lines, hash: headHash } = this.manifest.head;
      const sig = this.ctx.key.sign(this.hearingId, lines, headHash);
      const line = this.write({
        type: 'event',
        event: 'record.checkpoint',
        lines,
        headHash,
        signature: sig.signature,
        keyFingerprint: sig.keyFingerprint,
        publicKeyPem: sig.publicKeyPem,
      });
      if (!line) return;
      this.lastCheckpoint.lines = line.seq;
      this.ctx.onCheckpoint({
        hearingId: this.hearingId,
        lines,
        headHash,
        signature: sig.signature,
        keyFingerprint: sig.keyFingerprint,
        at: line.at,
      });
    });
  }

  /** Resolves when every operation queued so far (e.g. finalizing) has finished. */
  settled(): Promise<void> {
    return this.ops.then(() => undefined);
  }

  get isRecording(): boolean {
    return this.recording;
  }

  /** Finalized and signed: nothing more is written. */
  get isFinalized(): boolean {
    return this.finalized;
  }

  /** Appends an event line (in order with everything else this recording writes). */
  event(event: string, detail: Record<string, unknown> = {}, at?: string): Promise<void> {
    return this.serial(async () => {
      if (!this.finalized) this.write({ type: 'event', event, ...detail } as EventLine, at);
    });
  }

  /** Start or resume: record every producer of the room, and every producer that appears later. */
  start(room: MediaRoom | undefined, reason: string, actor: string): Promise<void> {
    return this.serial(async () => {
      if (this.finalized) return;
      this.write({ type: 'event', event: this.started ? 'record.resumed' : 'record.started', reason, actor });
      this.started = true;
      this.recording = true;
      if (room) await this.attach(room);
    });
  }

  /** A (new) room for this hearing: after a worker death the old consumers are gone with the old router. */
  attachRoom(room: MediaRoom): Promise<void> {
    return this.serial(async () => {
      for (const t of this.tracks.values()) if (t.running) await this.stopTrack(t);
      if (this.recording) await this.attach(room);
      else this.room = room;
    });
  }

  pause(reason: string, actor: string): Promise<void> {
    return this.serial(async () => {
      if (!this.recording || this.finalized) return;
      this.recording = false;
      const requestedAt = new Date().toISOString();
      await Promise.all([...this.tracks.values()].filter((t) => t.running).map((t) => this.stopTrack(t)));
      // Written once every track's last segment is closed; `requestedAt` is when media stopped being kept.
      this.write({ type: 'event', event: 'record.paused', reason, actor, requestedAt });
    });
  }

  /** Closes every segment, writes the final line and signs the head hash. */
  finalize(actor: string): Promise<void> {
    return this.serial(async () => {
      if (this.finalized) return;
      this.recording = false;
      await Promise.all([...this.tracks.values()].filter((t) => t.running).map((t) => this.stopTrack(t)));
      if (!this.write({ type: 'event', event: 'record.finalized', actor, tracks: this.tracks.size })) return;
      const { seq, hash } = this.manifest.head;
      const signature = this.ctx.key.sign(this.hearingId, seq, hash);
      const tmp = path.join(this.dir, `${SIGNATURE}.tmp`);
      fs.writeFileSync(tmp, JSON.stringify(signature, null, 2));
      fs.renameSync(tmp, path.join(this.dir, SIGNATURE));
      this.finalized = true;
      clearInterval(this.checkpointTimer);
      this.manifest.close();
    });
  }

  /** Clean server shutdown: close segments and say so in the record; a restart resumes. */
  suspend(): Promise<void> {
    return this.serial(async () => {
      if (this.finalized) return;
      const was = this.recording;
      this.recording = false;
      await Promise.all([...this.tracks.values()].filter((t) => t.running).map((t) => this.stopTrack(t)));
      this.write({ type: 'event', event: 'record.suspended', reason: 'server shutdown', wasRecording: was });
      clearInterval(this.checkpointTimer);
    });
  }

  onProducer(room: MediaRoom, info: ProducerInfo): Promise<void> {
    return this.serial(async () => {
      if (this.recording && room === this.room && info.participantId !== RECORDER_PEER) await this.startTrack(room, info);
    });
  }

  onProducerClosed(producerId: string): Promise<void> {
    return this.serial(async () => {
      const t = [...this.tracks.values()].find((x) => x.producerId === producerId && x.running);
      if (!t) return;
      await this.stopTrack(t);
      if (!this.finalized) this.write({ type: 'event', event: 'track.ended', track: t.trackId, participantId: t.participantId });
    });
  }

  /** Messages from the recorder process about this hearing's tracks. */
  onRecorderMessage(m: FromRecorder): void {
    const t = this.tracks.get(m.trackId);
    if (!t || this.finalized) return;
    const base = { track: t.trackId, participantId: t.participantId };
    switch (m.type) {
      case 'segment':
        t.runAccounted = true;
        this.write({
          type: 'segment',
          track: t.trackId,
          participantId: t.participantId,
          role: this.ctx.roleOf(t.participantId),
          kind: t.kind,
          codec: t.codec,
          file: `${TRACKS}/${t.trackId}/${m.file}`,
          bytes: m.bytes,
          sha256: m.sha256,
          start: m.wallStart,
          end: m.wallEnd,
          durationSeconds: m.durationSeconds,
          rtpFirst: m.rtpFirst,
          rtpLast: m.rtpLast,
        });
        return;
      case 'gap':
        this.write({ type: 'event', event: 'gap', ...base, missing: m.missing, afterSeq: m.afterSeq, nextSeq: m.nextSeq }, m.at);
        return this.lost(t, m.missing);
      case 'stall':
        t.runAccounted = true;
        // Not a loss for the bench: a silent microphone (Opus DTX) or a camera turned off stalls too.
        this.write({ type: 'event', event: 'stall', ...base, silentMs: m.silentMs, since: m.at });
        return;
      case 'dropped':
        this.write({ type: 'event', event: 'recorder.backlog_dropped', ...base, packets: m.packets }, m.at);
        return this.lost(t, m.packets);
      case 'flowing':
        this.write({ type: 'event', event: 'stall.ended', ...base, afterMs: m.afterMs }, m.at);
        return;
      case 'error':
        if (t.ready) {
          t.ready.reject(new Error(m.message));
          t.ready = undefined;
        }
        // The track's writer failed: its ffmpeg exited (the next packet starts another), or the muxer gave
        // up a segment (the next starts at a key frame): a gap in the track, written down here.
        this.write({ type: 'event', event: WRITER_ERROR[m.source], ...base, message: m.message });
        return;
      case 'stopped':
        t.nextNumber = m.nextNumber;
        t.lastStop = {
          received: m.received,
          forwarded: m.forwarded,
          writer: m.writer,
          runs: m.runs,
          ...(m.framesDropped !== undefined ? { framesDropped: m.framesDropped } : {}),
          stderrTail: m.stderrTail,
        };
        t.running = false;
        t.tap?.close();
        t.stopped?.();
        return;
      case 'keyframe':
        void t.tap?.consumer.requestKeyFrame().catch(() => undefined);
        return;
      case 'ready':
        t.ready?.resolve(m.port);
        t.ready = undefined;
        return;
    }
  }

  /** Adds to a track's losses; reports the hearing's (summed) when the last report is LOSS_REPORT_MS old. */
  private lost(t: TrackState, n: number): void {
    this.losses.set(t, (this.losses.get(t) ?? 0) + n);
    const now = Date.now();
    if (now - this.lossReportedAt < LOSS_REPORT_MS) return;
    const tracks = [...this.losses]
      .sort((a, b) => b[1] - a[1])
      .map(([track, missing]) => ({ participantId: track.participantId, kind: track.kind, missing }));
    this.losses = new Map();
    this.lossReportedAt = now;
    const missing = tracks.reduce((sum, x) => sum + x.missing, 0);
    this.ctx.onLoss?.({ hearingId: this.hearingId, missing, tracks: tracks.slice(0, 8) });
  }

  /** The recorder process died: its tracks are gone; start them again. */
  onRecorderCrash(info: { code: number | null; signal: string | null }): Promise<void> {
    // A track still waiting for the dead process would hold up every queued operation.
    for (const t of this.tracks.values()) {
      t.ready?.reject(new Error('recorder process died'));
      t.ready = undefined;
    }
    return this.serial(async () => {
      const lost = [...this.tracks.values()].filter((t) => t.running);
      for (const t of lost) {
        t.running = false;
        t.tap?.close();
        t.stopped?.();
      }
      if (this.finalized) return;
      // Its ffmpeg processes died with it (parent-death signal): what they had written is final. Files it
      // never reported are listed here with their size and hash, and each track goes on after its last file.
      const onDisk = unlistedFiles(this.dir, listedFiles(this.dir));
      for (const t of this.tracks.values())
        t.nextNumber = Math.max(t.nextNumber, lastFileNumber(path.join(this.dir, TRACKS, t.trackId)) + 1);
      this.write({
        type: 'event',
        event: 'recorder.crashed',
        code: info.code,
        signal: info.signal,
        tracks: lost.map((t) => t.trackId),
        unlistedFiles: onDisk,
      });
      if (this.recording && this.room) await this.attach(this.room);
    });
  }

  private async attach(room: MediaRoom): Promise<void> {
    this.room = room;
    // In parallel: media is already flowing, and every track waits for its consumer and its ffmpeg.
    const results = await Promise.allSettled(
      room
        .producers()
        .filter((p) => p.participantId !== RECORDER_PEER)
        .map((info) => this.startTrack(room, info)),
    );
    for (const r of results) {
      if (r.status === 'rejected') this.write({ type: 'event', event: 'recorder.error', message: String(r.reason) });
    }
  }

  private async startTrack(room: MediaRoom, info: ProducerInfo): Promise<void> {
    const trackId = `${info.participantId}-${info.kind}-${info.producerId}`;
    const existing = this.tracks.get(trackId);
    if (existing?.running) return;
    const tap = await openTap(room, RECORDER_PEER, info.producerId, { rtcpMux: true });
    const { codec } = tap;
    const t: TrackState = existing ?? {
      trackId,
      producerId: info.producerId,
      participantId: info.participantId,
      kind: info.kind,
      codec: codec.mimeType,
      nextNumber: 1,
      running: false,
    };
    Object.assign(t, { tap, running: true, runStartedAt: new Date().toISOString(), runAccounted: false });
    this.tracks.set(trackId, t);
    const ready = new Promise<number>((resolve, reject) => (t.ready = { resolve, reject }));
    this.ctx.client.send({
      type: 'start',
      trackId,
      dir: path.join(this.dir, TRACKS, trackId),
      kind: info.kind,
      codec: tap.codecMessage,
      ssrc: tap.ssrc,
      ext: codec.mimeType.toLowerCase() === 'video/h264' ? 'mkv' : 'webm',
      segmentSeconds: SEGMENT_SECONDS,
      startNumber: t.nextNumber,
      stallMs: 1000,
    });
    const port = await ready;
    // Resuming asks for the key frame the recording starts with, now that it has somewhere to go.
    await tap.connect(port);
  }

  /** The consumer is closed only once ffmpeg has closed its last segment ('stopped'). */
  private async stopTrack(t: TrackState): Promise<void> {
    if (!t.running) return;
    await this.stopRun(t);
    // The last guard against silence: a run that neither closed a segment nor reported a stall (e.g. it
    // was stopped before its ffmpeg ever got media) is still written down.
    if (!t.runAccounted && !this.finalized) {
      this.write({
        type: 'event',
        event: 'track.no_media',
        track: t.trackId,
        participantId: t.participantId,
        since: t.runStartedAt,
        recorder: t.lastStop ?? null,
      });
    }
  }

  private stopRun(t: TrackState): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // Segments closed after this would be outside the record (verify reports them as unlisted).
        if (!this.finalized)
          this.write({
            type: 'event',
            event: 'recorder.stop_timeout',
            track: t.trackId,
            participantId: t.participantId,
            waitedMs: STOP_TIMEOUT_MS,
          });
        t.running = false;
        t.tap?.close();
        resolve();
      }, STOP_TIMEOUT_MS);
      t.stopped = () => {
        clearTimeout(timer);
        resolve();
      };
      this.ctx.client.send({ type: 'stop', trackId: t.trackId });
    });
  }

  /**
   * Appends a line, unless another node took the record over: then nothing (the first refused line
   * tells the recorder, which gives the hearing up here).
   */
  private write(body: ManifestBody, at?: string): ManifestLine | undefined {
    if (this.takenOver) return undefined;
    try {
      return this.manifest.append(body, at);
    } catch (error) {
      if (!(error instanceof RecordTakenOver)) throw error;
      this.stopWriting();
      this.ctx.onTakenOver?.();
      return undefined;
    }
  }

  private stopWriting(): void {
    this.takenOver = true;
    this.recording = false;
    clearInterval(this.checkpointTimer);
  }

  get isTakenOver(): boolean {
    return this.takenOver;
  }

  /**
   * The hearing went to another node while this one was frozen or cut off: nothing more is written to
   * the record, every track stops, and the segment files this node wrote that the record does not list
   * (closed after the other node took over) are moved out of the record's folder into `setAside`, so
   * the record holds only what its chain lists. Resolves with the files moved.
   */
  relinquish(setAside: string): Promise<string[]> {
    this.stopWriting();
    return this.serial(async () => {
      await Promise.all([...this.tracks.values()].filter((t) => t.running).map((t) => this.stopRun(t)));
      const listed = listedFiles(this.dir);
      const moved: string[] = [];
      for (const t of this.tracks.values()) {
        const trackDir = path.join(this.dir, TRACKS, t.trackId);
        if (!fs.existsSync(trackDir)) continue;
        for (const name of fs.readdirSync(trackDir)) {
          const file = `${TRACKS}/${t.trackId}/${name}`;
          if (listed.has(file)) continue;
          const to = path.join(setAside, file);
          fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
          fs.renameSync(path.join(this.dir, file), to);
          moved.push(file);
        }
        if (fs.readdirSync(trackDir).length === 0) fs.rmdirSync(trackDir);
      }
      this.manifest.close();
      return moved;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.ops.then(fn, fn);
    this.ops = next.catch((error: unknown) => {
      // A producer that closed while its tap was starting (a page closed then) is gone, nothing of it is
      // lost: one line. Anything else with its stack.
      if (error instanceof MediaError && error.code === 'not_found') console.warn(`[record ${this.hearingId}] ${error.message}`);
      else console.warn(`[record ${this.hearingId}]`, error);
    });
    return next;
  }
}

/** Files under tracks/ that the manifest does not list (segments closed after a crash), with hashes. */
export function unlistedFiles(dir: string, listed: Set<string>): { file: string; bytes: number; sha256: string }[] {
  const out: { file: string; bytes: number; sha256: string }[] = [];
  const tracksDir = path.join(dir, TRACKS);
  if (!fs.existsSync(tracksDir)) return out;
  for (const track of fs.readdirSync(tracksDir)) {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(tracksDir, track));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const name of names) {
      const file = `${TRACKS}/${track}/${name}`;
      if (listed.has(file)) continue;
      let data: Buffer;
      try {
        data = fs.readFileSync(path.join(dir, file));
      } catch (error) {
        // Moved away meanwhile (a node giving the hearing up sets its late files aside): not in the record.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      out.push({ file, bytes: data.length, sha256: sha256Hex(data) });
    }
  }
  return out;
}

/** Files the record's manifest accounts for: its segments, and files listed by crash and interruption lines. */
export function listedFiles(dir: string): Set<string> {
  const { lines } = readManifest(dir);
  return new Set(
    lines.flatMap((l) =>
      l.type === 'segment' ? [l.file] : Array.isArray(l.unlistedFiles) ? (l.unlistedFiles as { file: string }[]).map((f) => f.file) : [],
    ),
  );
}

/** The highest segment number among a track's files (0 when it has none). */
function lastFileNumber(trackDir: string): number {
  if (!fs.existsSync(trackDir)) return 0;
  return Math.max(
    0,
    ...fs
      .readdirSync(trackDir)
      .map((f) => Number.parseInt(f, 10))
      .filter(Number.isFinite),
  );
}
