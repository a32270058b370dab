import fs from 'node:fs';
import path from 'node:path';
import { readManifest } from '../../recordings/manifest.ts';
import { MANIFEST, SIGNATURE, recordDir } from '../../recordings/layout.ts';
import type { RecordKey } from '../../recordings/signing.ts';
import { HearingRecording, listedFiles, unlistedFiles, type Checkpoint, type RecordLoss } from './hearing-recording.ts';
import type { MediaPlane } from '../media/plane.ts';
import { followMainRooms } from '../taps/tap.ts';
import { RecorderProcessClient } from './process-client.ts';

export interface RecorderOptions {
  /** Where records are kept (`<dataDir>/hearings/<id>`): the data folder, or a cluster's shared folder. */
  dataDir: string;
  /** Storage shared by a cluster's nodes: whether a hearing is this node's (only its records are recovered here). */
  owns?: (hearingId: string) => boolean;
  key: RecordKey;
  plane: MediaPlane;
  roleOf: (hearingId: string, participantId: string) => string;
  /** Whether the hearing is in session (recorded) right now. */
  inSession: (hearingId: string) => boolean;
  portRange: { min: number; max: number };
  /** How tracks are written: muxed in the recorder process (default), or one ffmpeg per track. */
  writer?: 'mux' | 'ffmpeg';
  /** How long a hole in a track's RTP waits for its repair before it is a gap (ms; 2,000 by default). */
  holdMs?: number;
  /** Signed checkpoints of the chain head (see HearingRecording), and who receives each. */
  checkpoint: { seconds: number; lines: number };
  onCheckpoint: (c: Checkpoint) => void;
  /** What a recorded track lost, summed (see HearingRecording). */
  onLoss?: (l: RecordLoss) => void;
  /**
   * Another node took over a record this node was writing (the hearing moved while this node was frozen
   * or cut off): the server gives the hearing up here (`relinquish`).
   */
  onTakenOver?: (hearingId: string) => void;
  /** The hearing's log so far, so what happened before the record began (waiting room) is in it too. */
  hearingLog?: (hearingId: string) => { seq: number; at: string; actor: string; action: string; detail: Record<string, unknown> }[];
}

/** Hearing-log actions that are also written into the record. */
const MIRRORED = new Set([
  'hearing.state_changed',
  'participant.joined',
  'participant.left',
  'media.worker_died',
  'record.pause_requested',
  'record.resume_requested',
  'transcript.edited',
  'transcript.annotated',
  'transcript.engine_fallback',
  'transcript.engine_exit',
  'transcript.tap_failed',
  'hearing.step_failed',
  'evidence.added',
  'evidence.placed',
  'transcript.frozen',
  'transcript.signed',
  'signing_key.registered',
  'identity.enrolled',
  'identity.checked',
  'identity.alert',
  'identity.decided',
  'identity.check_failed',
  'identity.face_back',
  'identity.references_deleted',
  'stream.streamable',
  'stream.approved',
  'stream.started',
  'stream.paused',
  'stream.stopped',
  'stream.cut',
  'stream.protection',
  'stream.encoder_exit',
  'stream.stalled',
  'stream.input_back',
  'stream.rebuild_failed',
  'stream.segment_skipped',
  'consultation.opened',
  'consultation.closed',
]);

/**
 * Records every main-room track of hearings in session, following the hearing state:
 * in session → recording, adjourned → paused, closed → finalized and signed.
 */
export class Recorder {
  private readonly recordings = new Map<string, HearingRecording>();
  private readonly client: RecorderProcessClient;

  constructor(private readonly o: RecorderOptions) {
    this.client = new RecorderProcessClient(o.portRange, { writer: o.writer ?? 'mux', holdMs: o.holdMs ?? 2000 });
    this.client.on('message', (m) => {
      for (const r of this.recordings.values()) r.onRecorderMessage(m);
    });
    this.client.on('crashed', (info) => {
      for (const r of this.recordings.values()) void r.onRecorderCrash(info);
    });
    this.recoverUnfinished();
    followMainRooms(o.plane, (room) => {
      room.on('producerAdded', (info) => void this.recordings.get(room.hearingId)?.onProducer(room, info));
      room.on('producerClosed', ({ producerId }) => void this.recordings.get(room.hearingId)?.onProducerClosed(producerId));
      const rec = this.recordings.get(room.hearingId);
      if (rec?.isRecording) void rec.attachRoom(room);
      // Paused by the court while in session: a room made now (the first to join, or rebuilt after a worker
      // died) is kept for the resume, and nothing is recorded until the court resumes.
      else if (rec && this.pausedByCourt.has(room.hearingId)) void rec.attachRoom(room);
      else if (o.inSession(room.hearingId)) void this.recording(room.hearingId).start(room, 'hearing in session', 'system');
    });
  }

  /** Hearings whose recording a judge or clerk paused while in session (until resumed or the next transition). */
  private readonly pausedByCourt = new Set<string>();

  get processPid(): number | undefined {
    return this.client.pid;
  }

  get(hearingId: string): HearingRecording | undefined {
    return this.recordings.get(hearingId);
  }

  dirOf(hearingId: string): string {
    return recordDir(this.o.dataDir, hearingId);
  }

  /** Resolves once the hearing's record has finished what it was asked (used before closing its room). */
  async settled(hearingId: string): Promise<void> {
    await this.recordings.get(hearingId)?.settled();
  }

  /** A hearing-log entry, mirrored into the record (a transition into session opens the record). */
  async hearingEvent(hearingId: string, action: string, actor: string, detail: Record<string, unknown>, seq = Infinity): Promise<void> {
    const inSession = this.o.inSession(hearingId);
    let rec = this.recordings.get(hearingId);
    if (!rec && !(action === 'hearing.state_changed' && inSession)) return;
    if (!rec) {
      rec = this.recording(hearingId);
      // A new record opens with what was logged before it (identity checks and joins in the waiting
      // room, evidence), each at its own time and marked as before the record began.
      // Every line is queued at once, in order, before anything the transition then does to the record
      // (a failed line is logged by the queue).
      if (rec.manifest.head.seq === 0) {
        for (const e of this.o.hearingLog?.(hearingId) ?? []) {
          if (e.seq < seq && MIRRORED.has(e.action))
            void rec.event(e.action, { actor: e.actor, ...e.detail, beforeRecord: true }, e.at).catch(() => undefined);
        }
      }
    }
    if (MIRRORED.has(action)) await rec.event(action, { actor, ...detail });
  }

  /**
   * The hearing's record step of a transition: in session → recording, out of session → paused,
   * closed → finalized and signed (resolves once the signature is written).
   */
  async stateChanged(hearingId: string, to: string, actor: string): Promise<void> {
    const rec = this.recordings.get(hearingId);
    if (to === 'closed') {
      this.pausedByCourt.delete(hearingId);
      await rec?.finalize(actor);
    } else if (this.o.inSession(hearingId)) {
      const r = rec ?? this.recording(hearingId);
      this.pausedByCourt.delete(hearingId);
      if (!r.isRecording) await r.start(this.o.plane.get(hearingId), `hearing ${to}`, actor);
    } else if (rec?.isRecording) await rec.pause(`hearing ${to}`, actor);
  }

  /** A judge or clerk pauses the recording with a reason (logged); resume only while in session. */
  async pause(hearingId: string, actor: string, reason: string): Promise<boolean> {
    const rec = this.recordings.get(hearingId);
    if (!rec?.isRecording) return false;
    this.pausedByCourt.add(hearingId);
    await rec.pause(reason, actor);
    return true;
  }

  async resume(hearingId: string, actor: string, reason: string): Promise<boolean> {
    if (!this.o.inSession(hearingId)) return false;
    const rec = this.recording(hearingId);
    if (rec.isRecording) return false;
    this.pausedByCourt.delete(hearingId);
    await rec.start(this.o.plane.get(hearingId), reason, actor);
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([...this.recordings.values()].map((r) => r.suspend()));
    await this.client.close();
  }

  /** Hearings with a record open here (not finalized, not taken over by another node). */
  hearingIds(): string[] {
    return [...this.recordings].filter(([, r]) => !r.isFinalized && !r.isTakenOver).map(([id]) => id);
  }

  /**
   * The hearing is another node's now (it took it over while this node was frozen or cut off): this
   * node writes nothing more to its record, stops its tracks, and moves the segment files it closed
   * after the takeover (which the record does not list) to `<records>/set-aside/<hearing>/<label>-<time>/`.
   * Resolves with where they went and which they were.
   */
  async relinquish(hearingId: string, label: string): Promise<{ dir: string; files: string[] } | undefined> {
    const rec = this.recordings.get(hearingId);
    if (!rec) return undefined;
    this.pausedByCourt.delete(hearingId);
    const dir = path.join(this.o.dataDir, 'set-aside', hearingId, `${label}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    try {
      return { dir, files: await rec.relinquish(dir) };
    } finally {
      if (this.recordings.get(hearingId) === rec) this.recordings.delete(hearingId);
    }
  }

  private recording(hearingId: string, takeOver = false): HearingRecording {
    let rec = this.recordings.get(hearingId);
    if (!rec) {
      rec = new HearingRecording(hearingId, this.dirOf(hearingId), {
        roleOf: (pid) => this.o.roleOf(hearingId, pid),
        client: this.client,
        key: this.o.key,
        checkpoint: this.o.checkpoint,
        onCheckpoint: this.o.onCheckpoint,
        ...(this.o.onLoss ? { onLoss: this.o.onLoss } : {}),
        takeOver,
        onTakenOver: () => this.o.onTakenOver?.(hearingId),
      });
      this.recordings.set(hearingId, rec);
    }
    return rec;
  }

  /**
   * At start: every record that was not finalized gets an interruption line — a crash if the server
   * did not write its clean-shutdown line — listing segment files that were closed after the last line.
   */
  private recoverUnfinished(): void {
    const root = path.join(this.o.dataDir, 'hearings');
    if (!fs.existsSync(root)) return;
    for (const hearingId of fs.readdirSync(root)) {
      // Records on storage shared by a cluster's nodes: only this node's hearings are its to recover.
      if (this.o.owns && !this.o.owns(hearingId)) continue;
      void this.recover(hearingId);
    }
  }

  /**
   * An unfinished record taken up here: its interruption line (a crash if its last writer did not write
   * its clean-shutdown line, `detail` saying more, e.g. the cluster node it was on) with the segment files
   * closed after the last line. Nothing for a record that does not exist or is finalized.
   * A record of another cluster node (`detail.node`) is taken over (see ManifestWriter): that node, if it
   * was only frozen or cut off, cannot add to it any more; its cause is then `node lost` (this node cannot
   * tell a crash from a freeze or a cut).
   */
  recover(hearingId: string, detail: Record<string, unknown> = {}): Promise<void> {
    const dir = this.dirOf(hearingId);
    if (!fs.existsSync(path.join(dir, MANIFEST)) || fs.existsSync(path.join(dir, SIGNATURE))) return Promise.resolve();
    const fromNode = typeof detail.node === 'string';
    const rec = this.recording(hearingId, fromNode);
    const { lines } = readManifest(dir);
    const last = lines.at(-1);
    const clean = last?.type === 'event' && last.event === 'record.suspended';
    return rec.event('interruption', {
      cause: clean ? 'server restart' : fromNode ? 'node lost' : 'server crash',
      lastLineAt: last?.at ?? null,
      truncatedTailBytes: rec.manifest.truncatedTail?.length ?? 0,
      unlistedFiles: unlistedFiles(dir, listedFiles(dir)),
      ...detail,
    });
  }
}
