// Face identity of participants, checked on the server from their own live video: enrollment from a
// reference photo, a check when their camera appears (waiting room), re-checks during the hearing, alerts
// to the judge, and manual admit/refuse. Every check is an audit event mirrored into the record
// (participant, time, result, distance, model) and never carries a descriptor.
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { photoAsFrame } from '../../workers/identity/face-frame.ts';
import { AppError } from '../http/errors.ts';
import type { HearingService } from '../hearing/hearings.ts';
import type { IdentityRow, IdentityStatus, Store } from '../store/store.ts';
import type { Role } from '../hearing/roles.ts';
import type { ImageDecoder } from '../evidence/images.ts';
import { decide, frameQuality, looksStatic, type IdentityThresholds } from './rule.ts';
import type { FaceChecker, FaceWatch, FrameResult } from '../../workers/identity/face-checker.ts';
import type { MediaPlane } from '../../workers/media/plane.ts';
import { followMainRooms } from '../../workers/taps/tap.ts';
import type { MediaRoom, ProducerInfo } from '../../workers/media/room.ts';

/**
 * The sizes a reference photo is fitted into, on a 640x480 frame, to find its face (see enroll): the
 * usual two, then for a photo where neither finds one, smaller ones in turn. Measured on the 15 fixture
 * photos cut to their central 80 % (a tight crop): 320 or 480 found 7; with these, all 15. Cut to 70 %:
 * 5, and 14.
 */
export const ENROLL_FITS = { usual: [320, 480], tight: [200, 240, 120, 280, 160] };

export const MAX_REFERENCE_BYTES = 5 * 1024 * 1024;

export interface IdentityConfig extends IdentityThresholds {
  /** Roles whose enrolled participants must be verified (or admitted) before the hearing opens. */
  requiredRoles: Role[];
  timeoutSeconds: number;
  recheckSeconds: number;
  absentSeconds: number;
  /** Key frame requests: how often while a check runs, and between checks (face presence). */
  checkSampleMs: number;
  watchSampleMs: number;
}

export interface IdentityView {
  status: IdentityStatus;
  distance: number | null;
  checkedAt: string | null;
}

/** What the judge and clerk see next to a participant. */
export interface IdentityUpdate extends IdentityView {
  hearingId: string;
  participantId: string;
  decidedBy: string | null;
  reason: string | null;
  staticImage?: boolean;
  alert?: string;
  /** The captured frame the result rests on (JPEG, 320x240). */
  frame?: Buffer;
}

interface Check {
  trigger: string;
  startedAt: number;
  distances: number[];
  shapes: { keypoints: number[]; box: FrameResult['faces'][number]['box'] }[];
  refused: Record<string, number>;
  bestFrame?: { distance: number; jpeg: Buffer };
}

interface Monitor {
  hearingId: string;
  participantId: string;
  watch: FaceWatch;
  check: Check | null;
  lastFaceAt: number;
  absentAlerted: boolean;
  mismatches: number;
  lastCheckAt: number;
  timer: NodeJS.Timeout;
  lastSampleAt: number;
}

const key = (hearingId: string, participantId: string): string => `${hearingId}/${participantId}`;

export class IdentityService extends EventEmitter<{ update: [IdentityUpdate] }> {
  private readonly monitors = new Map<string, Monitor>();
  private readonly byWatch = new Map<string, Monitor>();
  private readonly frames = new Map<string, Buffer>();
  private model = 'not loaded';

  constructor(
    private readonly o: {
      store: Store;
      hearings: HearingService;
      plane: MediaPlane;
      checker: FaceChecker;
      images: ImageDecoder;
      config: IdentityConfig;
      roleOf: (hearingId: string, participantId: string) => Role;
    },
  ) {
    super();
    o.checker.on('frame', (f) => this.onFrame(f));
    o.checker.on('watchEnded', ({ watchId, error }) => {
      const m = this.byWatch.get(watchId);
      if (m && error)
        o.hearings.log(m.hearingId, 'system', 'identity.check_failed', { participantId: m.participantId, error: error.slice(0, 300) });
      if (!m) return;
      this.stopMonitor(m);
      // The face process died under it (it is started again on demand): the camera is watched again.
      const room = this.o.plane.get(m.hearingId);
      const camera = room?.producers().find((p) => p.producerId === m.watch.producerId);
      if (error?.startsWith('face process exited') && room && camera) void this.startMonitor(room, camera, 'recovered');
    });
    followMainRooms(o.plane, (room) => {
      room.on('producerAdded', (info) => void this.onProducer(room, info));
      room.on('producerClosed', ({ producerId }) => {
        for (const m of this.monitors.values()) if (m.watch.producerId === producerId) this.stopMonitor(m);
      });
      // Its cameras went with it (a worker death): a camera produced in the rebuilt room starts a new check.
      room.observer.once('close', () => {
        for (const m of [...this.monitors.values()]) if (m.hearingId === room.hearingId) this.stopMonitor(m);
      });
    });
  }

  view(hearingId: string, participantId: string): IdentityView {
    this.o.hearings.participant(hearingId, participantId);
    const row = this.row(hearingId, participantId);
    return row
      ? { status: row.status, distance: row.distance, checkedAt: row.checkedAt }
      : { status: 'unenrolled', distance: null, checkedAt: null };
  }

  views(hearingId: string): Map<string, IdentityView> {
    return new Map(
      this.o.store.identities(hearingId).map((r) => [r.participantId, { status: r.status, distance: r.distance, checkedAt: r.checkedAt }]),
    );
  }

  /** The captured frame of the latest check (JPEG), kept in memory only while the server runs. */
  frame(hearingId: string, participantId: string): Buffer | undefined {
    return this.frames.get(key(hearingId, participantId));
  }

  /**
   * Enrolls a reference photo: validated and normalized by sharp, exactly one face, its descriptor kept.
   * The photo itself is not stored (only its SHA-256): the court platform already holds it.
   */
  async enroll(
    hearingId: string,
    participantId: string,
    input: Buffer,
    actor: string,
  ): Promise<IdentityView & { photoSha256: string; model: string }> {
    const hearing = this.o.hearings.row(hearingId);
    if (hearing.state === 'closed') throw new AppError(409, 'hearing_closed', 'hearing is closed');
    this.o.hearings.participant(hearingId, participantId);
    const photo = await this.o.images.reencode(input, MAX_REFERENCE_BYTES, 'jpeg');
    this.model = await this.o.checker.start();
    // Two framings (see photoAsFrame): one face must be found, and no framing may find more. A tight
    // crop (a face filling the photo, as a cropped ID photo) is found in neither, often: then smaller
    // framings, in turn, until one finds it (ENROLL_FITS).
    const found = [];
    for (const fit of ENROLL_FITS.usual) {
      const frame = await photoAsFrame(photo.data, fit);
      found.push(await this.o.checker.describe(frame.rgb, frame.width, frame.height));
    }
    for (const fit of ENROLL_FITS.tight) {
      if (found.some((f) => f.length > 0)) break;
      const frame = await photoAsFrame(photo.data, fit);
      found.push(await this.o.checker.describe(frame.rgb, frame.width, frame.height));
    }
    const most = Math.max(...found.map((f) => f.length));
    if (most === 0) throw new AppError(422, 'no_face', 'no face found in the reference photo');
    if (most > 1) throw new AppError(422, 'several_faces', `the reference photo shows ${most} faces; it must show exactly one`);
    const faces = found.find((f) => f.length === 1)!;
    const photoSha256 = createHash('sha256').update(input).digest('hex');
    const row: IdentityRow = {
      hearingId,
      participantId,
      descriptor: Buffer.from(new Float32Array(faces[0]!.descriptor).buffer),
      photoSha256,
      model: this.model,
      enrolledAt: new Date().toISOString(),
      status: 'pending',
      distance: null,
      checkedAt: null,
      decidedBy: null,
      reason: null,
    };
    this.o.store.saveIdentity(row);
    this.o.hearings.log(hearingId, actor, 'identity.enrolled', {
      participantId,
      photoSha256,
      faceScore: Number(faces[0]!.score.toFixed(3)),
      model: this.model,
    });
    const existing = this.monitors.get(key(hearingId, participantId));
    if (existing) this.stopMonitor(existing);
    const room = this.o.plane.get(hearingId);
    const camera = room?.producers().find((p) => p.participantId === participantId && p.kind === 'video' && p.source !== 'screen');
    if (room && camera) void this.startMonitor(room, camera, 'enrolled');
    return { ...this.view(hearingId, participantId), photoSha256, model: this.model };
  }

  /** A judge's or clerk's decision, which stands until the next mismatch. */
  /**
   * `actor` (a judge or clerk, or `api` for the court platform) admits or refuses a participant. Only an
   * enrolled participant of a gated role is decided on; never the judge, never oneself; a judge's
   * decision stands over a clerk's.
   */
  decide(hearingId: string, participantId: string, decision: 'admit' | 'refuse', reason: string, actor: string): IdentityView {
    const target = this.o.hearings.participant(hearingId, participantId);
    if (this.o.hearings.row(hearingId).state === 'closed') throw new AppError(409, 'hearing_closed', 'hearing is closed');
    if (actor === participantId) throw new AppError(403, 'forbidden', 'nobody decides on their own identity');
    if (target.role === 'judge' || !this.o.config.requiredRoles.includes(target.role)) {
      throw new AppError(
        403,
        'forbidden',
        `identity decisions apply to ${this.o.config.requiredRoles.join(' and ')}, not to a ${target.role}`,
      );
    }
    const row = this.row(hearingId, participantId);
    if (!row?.enrolledAt)
      throw new AppError(409, 'not_enrolled', 'this participant has no reference photo: there is no identity check to decide on');
    if (row.decidedBy && this.roleOfActor(hearingId, actor) === 'clerk' && this.roleOfActor(hearingId, row.decidedBy) === 'judge') {
      throw new AppError(403, 'judge_decided', 'the judge has decided on this participant; only the judge changes that');
    }
    const updated: IdentityRow = {
      ...row,
      status: decision === 'admit' ? 'verified' : 'rejected',
      decidedBy: actor,
      reason,
      checkedAt: new Date().toISOString(),
    };
    this.o.store.saveIdentity(updated);
    this.o.hearings.log(hearingId, actor, 'identity.decided', { participantId, decision, reason, previous: row.status });
    this.publish(updated, {});
    return this.view(hearingId, participantId);
  }

  private roleOfActor(hearingId: string, actor: string): string | undefined {
    const p = this.o.store.participant(actor);
    return p?.hearingId === hearingId ? p.role : undefined;
  }

  isRefused(hearingId: string, participantId: string): boolean {
    const row = this.row(hearingId, participantId);
    return row?.status === 'rejected' && row.decidedBy !== null && row.decidedBy !== 'system';
  }

  /** Who keeps the hearing from opening: present participants of a required role not (yet) verified. */
  blockers(hearingId: string): { participantId: string; status: IdentityStatus }[] {
    const room = this.o.plane.get(hearingId);
    return this.o.store
      .identities(hearingId)
      .filter(
        (r) =>
          r.status !== 'verified' &&
          this.o.config.requiredRoles.includes(this.o.roleOf(hearingId, r.participantId)) &&
          room?.hasPeer(r.participantId),
      )
      .map((r) => ({ participantId: r.participantId, status: r.status }));
  }

  close(): void {
    for (const m of [...this.monitors.values()]) this.stopMonitor(m);
  }

  private row(hearingId: string, participantId: string): IdentityRow | undefined {
    return this.o.store.identity(hearingId, participantId);
  }

  private async onProducer(room: MediaRoom, info: ProducerInfo): Promise<void> {
    if (info.kind !== 'video' || info.source === 'screen') return;
    const row = this.row(room.hearingId, info.participantId);
    if (!row?.descriptor) return;
    const existing = this.monitors.get(key(room.hearingId, info.participantId));
    if (existing) this.stopMonitor(existing);
    await this.startMonitor(room, info, existing ? 'camera_changed' : 'camera_started');
  }

  private async startMonitor(room: MediaRoom, info: ProducerInfo, trigger: string): Promise<void> {
    const row = this.row(room.hearingId, info.participantId);
    if (!row?.descriptor || this.o.hearings.row(room.hearingId).state === 'closed') return;
    const reference = [...new Float32Array(row.descriptor.buffer, row.descriptor.byteOffset, row.descriptor.length / 4)];
    let watch: FaceWatch;
    try {
      watch = await this.o.checker.watch(room, info.producerId, reference);
    } catch (error) {
      this.o.hearings.log(room.hearingId, 'system', 'identity.check_failed', {
        participantId: info.participantId,
        error: (error as Error).message,
      });
      return;
    }
    const m: Monitor = {
      hearingId: room.hearingId,
      participantId: info.participantId,
      watch,
      check: null,
      lastFaceAt: Date.now(),
      absentAlerted: false,
      mismatches: 0,
      lastCheckAt: 0,
      lastSampleAt: 0,
      timer: setInterval(() => this.tick(m), 200),
    };
    this.monitors.set(key(m.hearingId, m.participantId), m);
    this.byWatch.set(watch.watchId, m);
    this.beginCheck(m, trigger);
  }

  private stopMonitor(m: Monitor): void {
    clearInterval(m.timer);
    m.watch.close();
    this.byWatch.delete(m.watch.watchId);
    if (this.monitors.get(key(m.hearingId, m.participantId)) === m) this.monitors.delete(key(m.hearingId, m.participantId));
  }

  private beginCheck(m: Monitor, trigger: string): void {
    m.check = { trigger, startedAt: Date.now(), distances: [], shapes: [], refused: {} };
    m.lastCheckAt = Date.now();
    m.lastSampleAt = 0;
  }

  /** Samples key frames (faster while a check runs), times checks out, starts periodic re-checks. */
  private tick(m: Monitor): void {
    const now = Date.now();
    const c = this.o.config;
    if (m.check && now - m.check.startedAt > c.timeoutSeconds * 1000) this.finishCheck(m, true);
    if (!m.check && now - m.lastCheckAt > c.recheckSeconds * 1000) this.beginCheck(m, 'periodic');
    if (now - m.lastSampleAt >= (m.check ? c.checkSampleMs : c.watchSampleMs)) {
      m.lastSampleAt = now;
      m.watch.sample();
    }
  }

  private onFrame(f: FrameResult): void {
    const m = this.byWatch.get(f.watchId);
    if (!m) return;
    const quality = frameQuality(f.faces);
    const now = Date.now();
    if (quality === 'ok') {
      m.lastFaceAt = now;
      if (m.absentAlerted) this.o.hearings.log(m.hearingId, 'system', 'identity.face_back', { participantId: m.participantId });
      m.absentAlerted = false;
    } else if (!m.absentAlerted && now - m.lastFaceAt > this.o.config.absentSeconds * 1000) {
      m.absentAlerted = true;
      this.alert(
        m,
        quality === 'several_faces' ? 'several_faces' : 'no_face',
        { seconds: Math.round((now - m.lastFaceAt) / 1000), quality },
        f.jpeg,
      );
    }
    const check = m.check;
    if (check) {
      if (quality !== 'ok' || f.distance === null) {
        check.refused[quality] = (check.refused[quality] ?? 0) + 1;
        return;
      }
      check.distances.push(f.distance);
      if (f.keypoints) check.shapes.push({ keypoints: f.keypoints, box: f.faces[0]!.box });
      if (!check.bestFrame || f.distance < check.bestFrame.distance) check.bestFrame = { distance: f.distance, jpeg: Buffer.from(f.jpeg) };
      // Close to a threshold on the first frames: more frames, then the median of them all (see decide).
      if (check.distances.length >= this.o.config.frames && decide(check.distances, this.o.config, false).status !== 'more')
        this.finishCheck(m, false);
      return;
    }
    // Between checks, for someone verified (or admitted): a clear mismatch on two frames in a row is an
    // alert and starts a check at once.
    const verified = this.row(m.hearingId, m.participantId)?.status === 'verified';
    if (verified && quality === 'ok' && f.distance !== null && f.distance >= this.o.config.reject) {
      if (++m.mismatches >= 2) {
        m.mismatches = 0;
        this.alert(m, 'mismatch', { distance: Number(f.distance.toFixed(3)) }, f.jpeg);
        this.beginCheck(m, 'mismatch');
      }
    } else m.mismatches = 0;
  }

  private finishCheck(m: Monitor, timedOut: boolean): void {
    const check = m.check!;
    m.check = null;
    const row = this.row(m.hearingId, m.participantId);
    if (!row) return;
    // Out of time with enough frames (it was taking more of them, close to a threshold): decided on them.
    const enough = check.distances.length >= this.o.config.frames;
    const result = check.distances.length ? decide(check.distances, this.o.config) : null;
    const status = !enough || !result || result.status === 'more' ? 'needs_review' : result.status;
    const staticImage = looksStatic(check.shapes);
    const reason = !enough
      ? `no usable face in ${this.o.config.timeoutSeconds} s (${
          Object.entries(check.refused)
            .map(([k, n]) => `${k} x${n}`)
            .join(', ') || 'no frames'
        })`
      : `median of ${check.distances.length} frames`;
    const manual = row.decidedBy !== null && row.decidedBy !== 'system';
    // A manual decision stands unless the face now clearly does not match.
    const keep = manual && status !== 'rejected';
    const updated: IdentityRow = {
      ...row,
      status: keep ? row.status : status,
      distance: result ? Number(result.distance.toFixed(4)) : row.distance,
      checkedAt: new Date().toISOString(),
      decidedBy: keep ? row.decidedBy : 'system',
      reason: keep ? row.reason : reason,
    };
    this.o.store.saveIdentity(updated);
    if (check.bestFrame) this.frames.set(key(m.hearingId, m.participantId), check.bestFrame.jpeg);
    this.o.hearings.log(m.hearingId, 'system', 'identity.checked', {
      participantId: m.participantId,
      result: status,
      status: updated.status,
      distance: result ? Number(result.distance.toFixed(4)) : null,
      frames: check.distances.length,
      timedOut,
      trigger: check.trigger,
      reason,
      staticImage,
      model: row.model,
    });
    const alert = status === 'rejected' && row.status === 'verified' ? 'mismatch' : undefined;
    if (alert)
      this.o.hearings.log(m.hearingId, 'system', 'identity.alert', {
        participantId: m.participantId,
        kind: alert,
        distance: updated.distance,
      });
    this.publish(updated, { staticImage, alert, frame: check.bestFrame?.jpeg });
  }

  private alert(m: Monitor, kind: string, detail: Record<string, unknown>, jpeg: Uint8Array): void {
    this.o.hearings.log(m.hearingId, 'system', 'identity.alert', { participantId: m.participantId, kind, ...detail });
    const row = this.row(m.hearingId, m.participantId);
    if (row) this.publish(row, { alert: kind, frame: Buffer.from(jpeg) });
  }

  private publish(row: IdentityRow, extra: Pick<IdentityUpdate, 'staticImage' | 'alert' | 'frame'>): void {
    this.emit('update', {
      hearingId: row.hearingId,
      participantId: row.participantId,
      status: row.status,
      distance: row.distance,
      checkedAt: row.checkedAt,
      decidedBy: row.decidedBy,
      reason: row.reason,
      ...extra,
    });
  }

  /**
   * The hearing moved to another node (cluster): checks stop here and captured frames go; its references
   * stay (the other node checks with them).
   */
  relinquish(hearingId: string): void {
    for (const m of [...this.monitors.values()]) if (m.hearingId === hearingId) this.stopMonitor(m);
    for (const k of [...this.frames.keys()]) if (k.startsWith(`${hearingId}/`)) this.frames.delete(k);
  }

  /** The hearing's identity step at close: checks stop, captured frames and face descriptors are deleted. */
  closeHearing(hearingId: string): void {
    this.relinquish(hearingId);
    const deleted = this.o.store.forgetDescriptors(hearingId);
    if (deleted) this.o.hearings.log(hearingId, 'system', 'identity.references_deleted', { participants: deleted });
  }
}
