import type { Server } from 'socket.io';
import { AppError } from '../http/errors.ts';
import type { AuthFailureLimiter } from '../http/auth-limit.ts';
import { Allowances, TokenBucket } from '../http/allowance.ts';
import { AuthError, type TokenClaims, type TokenIssuer } from '../http/auth.ts';
import type { HearingService } from '../hearing/hearings.ts';
import { may, waitsToBeCalled, type Action, type Role } from '../hearing/roles.ts';
import { allowedTransitions, type HearingState } from '../hearing/state.ts';
import { validate } from '../http/validate.ts';
import { signalingSchemas, type SignalingEvent } from './schemas.ts';
import { MediaError } from '../../workers/media/error.ts';
import { consultationRoomKey, isConsultationRoom, type MediaPlane } from '../../workers/media/plane.ts';
import type { MediaRoom } from '../../workers/media/room.ts';
import type { Recorder } from '../../workers/record/recorder.ts';
import type { TranscriptService } from '../transcript/transcripts.ts';
import type { EvidenceService } from '../evidence/evidence.ts';
import type { TranscriptSigning } from '../transcript/signing.ts';
import type { IdentityService, IdentityUpdate } from '../identity/identity.ts';
import type { LivestreamService } from '../livestream/livestream.ts';
import type { ConsultationService } from '../hearing/consultations.ts';
import type { Handler, HearingSocket } from './types.ts';
import { transcriptHandlers } from './transcript.ts';
import { recordingHandlers } from './recording.ts';
import type { IncomingMessage } from 'node:http';
import type { IceConfig, TurnService } from '../app/turn.ts';
import type { types } from 'mediasoup';
import { LossPolicy, SOUND_SENT } from './loss-policy.ts';
import type { GalleryHost, ViewerMedia } from '../cluster/gallery.ts';

type Ack = (response: unknown) => void;

const REQUIRES: Partial<Record<SignalingEvent, Action>> = {
  produce: 'publish',
  pauseProducer: 'publish',
  resumeProducer: 'publish',
  closeProducer: 'publish',
  consume: 'subscribe',
  transition: 'changeState',
  editTranscript: 'editTranscript',
  placeEvidence: 'editTranscript',
  freezeTranscript: 'editTranscript',
  registerSigningKey: 'annotateTranscript',
  signTranscript: 'annotateTranscript',
  annotateTranscript: 'annotateTranscript',
  pauseRecording: 'controlRecord',
  resumeRecording: 'controlRecord',
  identityDecision: 'decideIdentity',
  stream: 'controlStream',
  setProtection: 'controlStream',
  muteParticipant: 'moderate',
  callWitness: 'moderate',
  hangUpTerminal: 'moderate',
  openConsultation: 'consult',
  answerConsultation: 'consult',
  joinConsultation: 'consult',
  closeConsultation: 'consult',
};

/** The transcript lines a join carries (the latest; the whole transcript is in the record and the 笔录). */
const JOIN_TRANSCRIPT_LINES = 2000;

/**
 * What one participant may hold in one room: a send and a receive transport with room to replace one
 * (a viewer only receives), and a consumer of every producer of a large hearing (20 publishers with a
 * microphone, a camera and a screen) twice over. Beyond: `limit_reached`.
 */
export const LIMITS = { transports: 4, viewerTransports: 2, consumers: 120, recordBurst: 60, recordPerSecond: 1 };

/**
 * Messages that write to the hearing's record (or start taps that do): one participant gets a burst of
 * `LIMITS.recordBurst`, refilled at `recordPerSecond`; beyond, they are refused (`record_rate_limited`,
 * the action is not done) and the limit is logged once per episode.
 */
const RECORDED: ReadonlySet<SignalingEvent> = new Set<SignalingEvent>([
  'join',
  'produce',
  'registerSigningKey',
  'editTranscript',
  'annotateTranscript',
  'placeEvidence',
  'freezeTranscript',
  'signTranscript',
  'transition',
  'stream',
  'setProtection',
  'identityDecision',
  'muteParticipant',
  'callWitness',
  'hangUpTerminal',
  'openConsultation',
  'answerConsultation',
  'closeConsultation',
  'pauseRecording',
  'resumeRecording',
]);

const channel = (hearingId: string): string => `hearing:${hearingId}`;
/** Witnesses not (yet) called in: nothing said to the courtroom reaches them. */
const waitingChannel = (hearingId: string): string => `waiting:${hearingId}`;
/**
 * What the bench is alerted to as it happens (judge and clerk): people dropping out, media and record
 * faults, the stream stalling, identity alerts, transcription failing.
 */
const ALERTS: ReadonlySet<string> = new Set([
  'participant.left',
  'participant.disconnected',
  'participant.reconnected',
  'participant.rate_limited',
  'media.worker_died',
  'media.uplink_reduced',
  'identity.alert',
  'identity.check_failed',
  'stream.stalled',
  'stream.encoder_exit',
  'stream.rebuild_failed',
  'record.suspended',
  'record.gap',
  'transcript.engine_exit',
  'transcript.tap_failed',
  'hearing.step_failed',
]);

/** How often the server reads what it lost of each microphone (sound first on a thin uplink). */
const SOUND_READ_MS = 2000;

/** mediasoup's priority (1–255) of a consumer of the judge's camera: served before the others' (1). */
const JUDGE_VIDEO_PRIORITY = 4;

/** A producer's health (mediasoup's 0–10 score of what arrives) as the bench reads it. */
export type Quality = 'good' | 'fair' | 'poor';
const qualityOf = (score: number): Quality => (score >= 7 ? 'good' : score >= 4 ? 'fair' : 'poor');

/** What a witness in the waiting area may send: nothing that reaches the courtroom's media or record. */
const WHILE_WAITING: ReadonlySet<SignalingEvent> = new Set<SignalingEvent>(['join', 'ping', 'leave']);

function errorAck(error: unknown): { error: { code: string; message: string } } {
  if (error instanceof AppError || error instanceof MediaError || error instanceof AuthError) {
    return { error: { code: error.code, message: error.message } };
  }
  // The media server's own messages (e.g. "MID already exists in RTP listener") describe its internals:
  // logged here, and the caller gets a code.
  const message = error instanceof Error ? error.message : String(error);
  console.warn('[signaling] request failed:', message);
  if (error instanceof TypeError) return { error: { code: 'bad_request', message: 'the media server did not accept these parameters' } };
  return { error: { code: 'failed', message: 'the request failed on the server' } };
}

/**
 * Who may receive from a hearing's gallery on another node once its node serves HEARING_GALLERY_AFTER of
 * them (their receive transport there; what they send stays on the hosting node): the public gallery and
 * the lawyers beyond the bench's own.
 */
const GALLERY_ROLES: ReadonlySet<Role> = new Set(['viewer', 'lawyer']);

/**
 * socket.io signaling. A participant connects with its JWT (`auth: {token}`); every message is
 * validated, checked against the caller's role and hearing, and answered with an ack — either the
 * result or `{error: {code, message}}`.
 */
export class Signaling {
  /** Live socket per participant: a second connection replaces the first. */
  private readonly sockets = new Map<string, HearingSocket>();
  /** Participants in a hearing without a socket (SIP terminals), with their hearing. */
  private readonly terminals = new Map<string, string>();
  /** Record-line allowance per participant (see RECORDED). */
  private readonly budgets = new Allowances(LIMITS.recordBurst, LIMITS.recordPerSecond);

  private readonly io: Server;
  private readonly hearings: HearingService;
  private readonly plane: MediaPlane;
  private readonly tokens: TokenIssuer;
  private readonly recorder: Recorder;
  private readonly transcripts: TranscriptService;
  private readonly evidence: EvidenceService;
  private readonly signing: TranscriptSigning;
  /** Participants whose courtroom microphone the judge has muted (by whom). */
  private readonly mutedByCourt = new Map<string, string>();
  /** Witnesses the judge has called into the courtroom (the others wait apart). */
  private readonly calledIn = new Set<string>();
  /** Each participant's connection quality as last told to the bench. */
  private readonly quality = new Map<string, Quality>();
  private readonly identity: IdentityService;
  private readonly live: LivestreamService;
  private readonly consultations: ConsultationService;
  private readonly authLimiter: AuthFailureLimiter;
  /** The client's address (behind a trusted proxy, from its headers). */
  private readonly clientAddress: (req: IncomingMessage) => string;
  /** TURN servers and credentials for each participant's transports (none configured: direct only). */
  private readonly ice?: TurnService;
  /** How long a dropped participant's media wait for them (`HEARING_RECONNECT_GRACE_S`). */
  private readonly reconnectGraceMs: number;
  private readonly hostedHere: (hearingId: string) => boolean;
  private readonly doors: () => string[];
  /** Cluster mode: what viewers and lawyers beyond this node's share of a hearing receive is served by another node. */
  private readonly gallery?: GalleryHost;
  /** Participants whose connection dropped and whose media wait for them to come back. */
  private readonly away = new Map<string, { hearingId: string; since: number; timer: NodeJS.Timeout }>();

  constructor(o: {
    io: Server;
    hearings: HearingService;
    plane: MediaPlane;
    tokens: TokenIssuer;
    recorder: Recorder;
    transcripts: TranscriptService;
    evidence: EvidenceService;
    signing: TranscriptSigning;
    identity: IdentityService;
    live: LivestreamService;
    consultations: ConsultationService;
    authLimiter: AuthFailureLimiter;
    clientAddress?: (req: IncomingMessage) => string;
    ice?: TurnService | undefined;
    reconnectGraceMs?: number;
    /** Cluster mode on a shared store: whether this node hosts the hearing (only its node takes its participants). */
    hostedHere?: (hearingId: string) => boolean;
    /** Cluster mode: the nodes' public addresses, told to pages so they can find their hearing if its node goes. */
    doors?: () => string[];
    /** Cluster mode: a hearing's gallery on another node (server/cluster/gallery.ts). */
    gallery?: GalleryHost;
  }) {
    this.io = o.io;
    this.hearings = o.hearings;
    this.plane = o.plane;
    this.tokens = o.tokens;
    this.recorder = o.recorder;
    this.transcripts = o.transcripts;
    this.evidence = o.evidence;
    this.signing = o.signing;
    this.identity = o.identity;
    this.live = o.live;
    this.consultations = o.consultations;
    this.authLimiter = o.authLimiter;
    this.clientAddress = o.clientAddress ?? ((req) => req.socket.remoteAddress ?? 'unknown');
    this.ice = o.ice;
    this.reconnectGraceMs = o.reconnectGraceMs ?? 30_000;
    this.hostedHere = o.hostedHere ?? (() => true);
    this.doors = o.doors ?? (() => []);
    this.gallery = o.gallery;
    const { io, plane } = o;
    io.use((socket, next) => {
      const address = this.clientAddress(socket.request);
      Promise.resolve()
        .then(() => this.authLimiter.check(address))
        .then(() => this.authenticate(socket as HearingSocket))
        .then(
          () => next(),
          (error: unknown) => {
            // A token that is missing, forged, expired or names nobody counts against the address.
            if (error instanceof AuthError || (error instanceof AppError && error.code === 'not_found')) this.authLimiter.failed(address);
            const refused = new Error(error instanceof Error ? error.message : 'refused') as Error & { data?: unknown };
            refused.data = errorAck(error).error;
            next(refused);
          },
        );
    });
    io.on('connection', (socket) => this.onConnection(socket as HearingSocket));
    plane.on('roomOpened', (room) => this.watchRoom(room));
    plane.on('roomRecovered', ({ hearingId, deadPid, newPid, error }) =>
      this.workerDied(hearingId, { deadPid, newPid, error, recovered: true }),
    );
    plane.on('roomLost', ({ hearingId, deadPid, error }) => this.workerDied(hearingId, { deadPid, error, recovered: false }));
    this.hearings.on('event', (entry) => {
      if (entry.action !== 'stream.protection' || !entry.hearingId) return;
      // A gallery on another node receives only what someone there may see (a protected picture: a lawyer).
      this.gallery?.resync(entry.hearingId);
      // A participant protected from now on: viewers lose the picture they were already receiving.
      if (entry.detail.hidden !== true) return;
      const room = this.plane.get(entry.hearingId);
      const isViewer = (pid: string): boolean => this.hearings.participantRole(pid) === 'viewer';
      for (const p of room?.producers() ?? []) {
        if (p.participantId === entry.detail.participantId && p.kind === 'video') room!.closeConsumersOf(p.producerId, isViewer);
      }
    });
    this.hearings.on('event', (entry) => {
      if (entry.action !== 'hearing.state_changed' || !entry.hearingId) return;
      const { to, from } = entry.detail as { to: string; from: string };
      io.to(channel(entry.hearingId)).emit('stateChanged', {
        state: to,
        from,
        actor: entry.actor,
        at: entry.at,
        allowedTransitions: allowedTransitions(to as HearingState),
      });
    });
    this.identity.on('update', (u) => this.identityUpdate(u));
    this.hearings.on('event', (entry) => {
      if (!entry.hearingId || !ALERTS.has(entry.action)) return;
      const d = entry.detail as Record<string, unknown>;
      this.broadcastTo(entry.hearingId, 'decideIdentity', 'alert', {
        action: entry.action,
        at: entry.at,
        participantId: typeof d.participantId === 'string' ? d.participantId : entry.actor,
        ...(typeof d.reason === 'string' ? { reason: d.reason.slice(0, 200) } : {}),
        ...(typeof d.alert === 'string' ? { alert: d.alert } : {}),
        // The track that lost most names the alert; how many lost some, and how much in all.
        ...(entry.action === 'record.gap' && Array.isArray(d.tracks)
          ? {
              participantId: (d.tracks[0] as { participantId?: string } | undefined)?.participantId,
              kind: (d.tracks[0] as { kind?: string } | undefined)?.kind,
              missing: d.missing,
              tracks: d.tracks.length,
            }
          : {}),
      });
    });
    // An invitation nobody answered: the one who asked is told, and the one asked stops being asked.
    this.consultations.on('expired', (c) => {
      for (const m of c.members) this.sockets.get(m)?.emit('consultationClosed', { consultationId: c.id, reason: 'not answered' });
    });
  }

  /**
   * Identity results go to the judge and clerk only (with the captured frame); a participant refused
   * by them is removed from the hearing.
   */
  /** The participant's TURN servers and ICE policy (nothing when no TURN is configured). */
  private iceFor(claims: TokenClaims): Partial<IceConfig> {
    if (!this.ice) return {};
    return this.ice.iceFor(claims.participantId, claims.expiresAt ?? Date.now() / 1000 + 3600);
  }

  private identityUpdate(u: IdentityUpdate): void {
    const { frame, ...rest } = u;
    const message = { ...rest, frame: frame ? `data:image/jpeg;base64,${frame.toString('base64')}` : undefined };
    for (const socket of this.sockets.values()) {
      const c = socket.data.claims;
      if (c.hearingId === u.hearingId && may(c.role, 'decideIdentity')) socket.emit('identity', message);
    }
    if (this.identity.isRefused(u.hearingId, u.participantId)) {
      const refused = this.sockets.get(u.participantId);
      refused?.emit('removed', { reason: 'identity_refused', message: u.reason });
      refused?.disconnect(true);
      this.dropMedia(u.hearingId, u.participantId);
    }
  }

  private async authenticate(socket: HearingSocket): Promise<void> {
    const token: unknown = socket.handshake.auth?.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
      throw new AuthError('token_missing', 'a participant token is required');
    }
    const claims = await this.tokens.verify(token);
    // Another node's hearing (the store is shared, its media are not): the join link leads there.
    if (!this.hostedHere(claims.hearingId))
      throw new AppError(409, 'elsewhere', 'this hearing is held on another node of the cluster: open the join link again');
    const participant = this.hearings.participant(claims.hearingId, claims.participantId);
    if (participant.role !== claims.role) throw new AuthError('token_invalid', 'token role does not match the participant');
    const hearing = this.hearings.row(claims.hearingId);
    if (hearing.state === 'closed') throw new AppError(409, 'hearing_closed', 'hearing is closed');
    if (this.identity.isRefused(claims.hearingId, claims.participantId))
      throw new AppError(403, 'identity_refused', 'the court refused this participant after the identity check');
    // One way in at a time: a page joining would take the media of the participant's SIP call away.
    if (this.terminals.get(claims.participantId) === claims.hearingId) {
      this.hearings.log(claims.hearingId, claims.participantId, 'participant.refused', { reason: 'in a SIP call', endpoint: 'browser' });
      throw new AppError(409, 'in_a_call', 'this participant is in the hearing from a SIP terminal: hang up there first');
    }
    socket.data = { claims, name: participant.name };
  }

  private onConnection(socket: HearingSocket): void {
    const { claims } = socket.data;
    const previous = this.sockets.get(claims.participantId);
    // The new connection is the participant's before the old one goes: the old one's disconnect is then
    // not a leave (a page back from a network change resumes the media the old one had).
    this.sockets.set(claims.participantId, socket);
    if (previous) {
      previous.emit('replaced');
      previous.disconnect(true);
    }
    void socket.join(this.waiting(claims) ? waitingChannel(claims.hearingId) : channel(claims.hearingId));
    // Per-socket flood guard: a burst of 1,000 messages, refilled at 200 per second.
    const bucket = new TokenBucket(1000, 200);
    /** The room this connection joined (a second join into the same room is not logged again). */
    let joined: MediaRoom | undefined;
    /** Transports and consumers of this connection being created right now (they count toward its limits). */
    const creating = { transports: 0, consumers: 0 };
    const room = (): Promise<MediaRoom> => this.plane.room(claims.hearingId);
    /**
     * Where a transport or a consumer of this participant is: the room, or (a viewer's or a lawyer's
     * receive transport) the hearing's gallery on another node.
     */
    const transportAt = async (transportId: string): Promise<ViewerMedia> =>
      this.gallery?.forTransport(claims.hearingId, claims.participantId, transportId) ?? room();
    const consumerAt = async (consumerId: string): Promise<ViewerMedia> =>
      this.gallery?.forConsumer(claims.hearingId, claims.participantId, consumerId) ?? room();
    /** Where a new transport goes: a gallery participant's receive transport beyond this node's share goes to another node. */
    const place = async (direction: 'send' | 'recv'): Promise<ViewerMedia> => {
      const r = await room();
      if (direction !== 'recv' || !GALLERY_ROLES.has(claims.role) || !this.gallery) return r;
      return this.gallery.place(claims.hearingId, claims.participantId, r, this.galleryHere(claims.hearingId, r));
    };

    const on = <E extends SignalingEvent>(event: E, handler: Handler<E>): void => {
      socket.on(event as string, async (...args: unknown[]) => {
        // emit(event, data, ack) or, for messages without data, emit(event, ack).
        const ack = args.at(-1);
        const reply: Ack = typeof ack === 'function' ? (ack as Ack) : () => undefined;
        const payload = typeof args[0] === 'function' ? undefined : args[0];
        try {
          if (!bucket.take()) throw new AppError(429, 'rate_limited', 'too many messages');
          const action = REQUIRES[event];
          if (action && !may(claims.role, action)) throw new AppError(403, 'forbidden', `role ${claims.role} may not ${event}`);
          if (this.waiting(claims) && !WHILE_WAITING.has(event))
            throw new AppError(403, 'not_called_in', 'a witness waits apart until the judge calls them in');
          const data = validate(signalingSchemas[event], payload === undefined ? {} : payload, 'message');
          if (RECORDED.has(event)) this.spendRecordLine(claims.hearingId, claims.participantId, event);
          reply((await handler(data as Parameters<Handler<E>>[0], { socket, claims, room })) ?? {});
        } catch (error) {
          reply(errorAck(error));
        }
      });
    };

    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && Object.hasOwn(signalingSchemas, event)) return;
      const ack = args.at(-1);
      if (typeof ack === 'function') ack({ error: { code: 'unknown_event', message: `unknown message ${String(event).slice(0, 64)}` } });
    });

    on('join', async ({ resume }) => {
      const r = await room();
      const away = this.back(claims.participantId);
      const waiting = this.waiting(claims);
      // Back after a dropped connection, with the transports the server kept for them: their media
      // carry on (the page restarts ICE on them); the record has the reconnect, not a leave and a join.
      const resumed =
        !!resume &&
        !waiting &&
        joined === undefined &&
        (await Promise.all(resume.transports.map(async (t) => (await transportAt(t)).holdsTransports(claims.participantId, [t])))).every(
          Boolean,
        );
      if (resumed) {
        this.hearings.log(claims.hearingId, claims.participantId, 'participant.reconnected', {
          // Unknown when the server had not yet noticed the old connection was dead (the new one replaced it).
          ...(away ? { offlineMs: Date.now() - away.since } : { noticed: false }),
          workerPid: r.workerPid,
        });
        socket.to(channel(claims.hearingId)).emit('participantJoined', { ...this.describe(socket), waiting: false });
        joined = r;
      }
      const rejoin = this.hearings.joinedBefore(claims.hearingId, claims.participantId);
      // Joining starts the participant's media afresh (the client joins again after `mediaReset`).
      if (!resumed) this.dropMedia(claims.hearingId, claims.participantId);
      // Announced and logged once per connection and room: joining again into the same room only resets media.
      if (joined !== r) {
        this.hearings.log(claims.hearingId, claims.participantId, 'participant.joined', {
          role: claims.role,
          rejoin,
          workerPid: r.workerPid,
          ...(joined ? { mediaReset: true } : {}),
          // The page asked to resume, but its media were gone (waited too long, or a worker died meanwhile).
          ...(resume && !resumed ? { resumed: false } : {}),
          ...(waiting ? { waiting: true } : {}),
        });
        // The court sees a witness waiting (to call them in); the witness sees nobody.
        if (!joined) socket.to(channel(claims.hearingId)).emit('participantJoined', { ...this.describe(socket), waiting });
        joined = r;
      }
      const hearing = this.hearings.get(claims.hearingId);
      const about = {
        id: hearing.id,
        caseNumber: hearing.caseNumber,
        title: hearing.title,
        state: hearing.state,
        allowedTransitions: waiting ? [] : hearing.allowedTransitions,
      };
      if (waiting)
        return {
          self: this.describe(socket),
          waiting: true,
          doors: this.doors(),
          hearing: about,
          participants: [],
          routerRtpCapabilities: r.rtpCapabilities,
          ...this.iceFor(claims),
          producers: [],
          transcript: [],
          annotations: [],
          frozen: null,
          signatures: [],
          evidence: [],
          courtMuted: [],
        };
      return {
        self: this.describe(socket),
        waiting: false,
        resumed,
        doors: this.doors(),
        hearing: about,
        participants: hearing.participants.map((p) => ({
          participantId: p.id,
          name: p.name,
          role: p.role,
          online: this.sockets.has(p.id) || this.terminals.has(p.id),
          ...(this.terminals.has(p.id) && p.role !== 'courtroom' ? { terminal: true } : {}),
          ...(waitsToBeCalled(p.role) ? { waiting: !this.calledIn.has(p.id) } : {}),
          ...(p.represents ? { represents: p.represents } : {}),
        })),
        routerRtpCapabilities: r.rtpCapabilities,
        // TURN servers with this participant's credentials (they expire with the token), and the ICE policy.
        ...this.iceFor(claims),
        producers: r.producers().filter((p) => p.participantId !== claims.participantId),
        // The transcript so far (the latest lines) and its notes: a page that joins or rejoins shows it whole.
        // A witness called in hears from then on: what was said before they came in is not theirs to read.
        transcript: waitsToBeCalled(claims.role) ? [] : this.transcripts.list(claims.hearingId).slice(-JOIN_TRANSCRIPT_LINES),
        annotations: waitsToBeCalled(claims.role) ? [] : this.transcripts.annotations(claims.hearingId),
        // What there is to sign, who has signed; the evidence for those who may see it.
        frozen: this.signing.latest(claims.hearingId) ?? null,
        signatures: this.signing
          .statuses(claims.hearingId)
          .map((s) => ({ participantId: s.participantId, version: s.version, valid: s.valid, reason: s.reason })),
        evidence: may(claims.role, 'viewEvidence') ? this.evidence.list(claims.hearingId) : [],
        courtMuted: hearing.participants.filter((p) => this.mutedByCourt.has(p.id)).map((p) => p.id),
        // The bench's recording and stream controls start from where things stand.
        courtMedia: may(claims.role, 'controlRecord') ? this.courtMedia(claims.hearingId) : null,
        // Connection quality of those who send media (the bench's participant list).
        quality: may(claims.role, 'decideIdentity')
          ? Object.fromEntries(hearing.participants.filter((p) => this.quality.has(p.id)).map((p) => [p.id, this.quality.get(p.id)]))
          : {},
      };
    });
    /** The courtroom, or the caller's consultation room when the message names one. */
    const roomOf = (consultationId?: string): Promise<MediaRoom> =>
      consultationId ? this.consultations.roomFor(claims.hearingId, claims.participantId, consultationId) : room();
    /** The same, by transport or consumer (a gallery participant's receive side may be on another node). */
    const transportOf = (transportId: string, consultationId?: string): Promise<ViewerMedia> =>
      consultationId ? roomOf(consultationId) : transportAt(transportId);
    const consumerOf = (consumerId: string, consultationId?: string): Promise<ViewerMedia> =>
      consultationId ? roomOf(consultationId) : consumerAt(consumerId);
    on('ping', () => ({ at: Date.now() }));
    on('createTransport', async ({ direction, consultationId }) => {
      if (direction === 'send' && !may(claims.role, 'publish')) throw new AppError(403, 'forbidden', `role ${claims.role} may not publish`);
      const target = consultationId ? await roomOf(consultationId) : await place(direction);
      const limit = claims.role === 'viewer' ? LIMITS.viewerTransports : LIMITS.transports;
      // Counted with those still being created: fifty requests at once must not all pass the check.
      if (target.peerCounts(claims.participantId).transports + creating.transports >= limit) {
        throw new AppError(429, 'limit_reached', `at most ${limit} transports per ${claims.role} in a room: close one first`);
      }
      creating.transports++;
      const transport = await target
        .createWebRtcTransport(claims.participantId, direction, claims.expiresAt)
        .finally(() => creating.transports--);
      return {
        id: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
        // A transport on a gallery node is reached through that node's TURN servers.
        ...((transport as { ice?: Record<string, unknown> }).ice ?? this.iceFor(claims)),
      };
    });
    on('connectTransport', async ({ transportId, dtlsParameters, consultationId }) => {
      await (await transportOf(transportId, consultationId)).connectWebRtcTransport(claims.participantId, transportId, dtlsParameters);
    });
    on('restartIce', async ({ transportId, consultationId }) => {
      return { iceParameters: await (await transportOf(transportId, consultationId)).restartIce(claims.participantId, transportId) };
    });
    on('produce', async ({ transportId, kind, rtpParameters, source, consultationId }) => {
      // The interpretation channel: an interpreter's voice, in the courtroom, sound only.
      if (source === 'interpretation' && claims.role !== 'interpreter')
        throw new AppError(403, 'forbidden', 'only an interpreter speaks on the interpretation channel');
      if (source === 'interpretation' && (kind !== 'audio' || consultationId))
        throw new AppError(400, 'bad_request', 'the interpretation channel carries the courtroom interpreter’s voice only');
      const r = await roomOf(consultationId);
      const producer = await r.produce(claims.participantId, transportId, kind, rtpParameters as never, source);
      // Muted by the judge: a new courtroom microphone (a rejoin, a new device) starts paused too.
      if (!consultationId && kind === 'audio' && this.mutedByCourt.has(claims.participantId)) await producer.pause();
      const announcement = { producerId: producer.id, participantId: claims.participantId, kind, source };
      if (!consultationId) socket.to(channel(claims.hearingId)).emit('newProducer', announcement);
      else {
        // Only the other member of the consultation ever learns of its producers.
        const other = this.consultations.get(consultationId)?.members.find((m) => m !== claims.participantId);
        if (other) this.sockets.get(other)?.emit('newProducer', { ...announcement, consultationId });
      }
      return { id: producer.id };
    });
    on('consume', async ({ transportId, producerId, rtpCapabilities, consultationId }) => {
      const target = await transportOf(transportId, consultationId);
      if (claims.role === 'viewer') {
        const owner = (await roomOf(consultationId)).producers().find((p) => p.producerId === producerId);
        if (owner?.kind === 'video' && this.live.isHidden(claims.hearingId, owner.participantId)) {
          throw new AppError(403, 'protected', 'this participant is protected: their picture is not shown to viewers');
        }
      }
      if (target.peerCounts(claims.participantId).consumers + creating.consumers >= LIMITS.consumers) {
        throw new AppError(429, 'limit_reached', `at most ${LIMITS.consumers} consumers per participant in a room`);
      }
      creating.consumers++;
      const consumer = await target
        .consume(claims.participantId, transportId, producerId, rtpCapabilities as never)
        .finally(() => creating.consumers--);
      // On a thin downlink mediasoup shares out the bandwidth by priority: the judge's picture goes first.
      if (consumer.kind === 'video' && this.hearings.participantRole(String(consumer.appData.participantId)) === 'judge')
        await consumer.setPriority(JUDGE_VIDEO_PRIORITY);
      return {
        id: consumer.id,
        producerId,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters,
        participantId: consumer.appData.participantId,
      };
    });
    on('resumeConsumer', async ({ consumerId, consultationId }) => {
      await (await consumerOf(consumerId, consultationId)).consumerOf(claims.participantId, consumerId).resume();
    });
    on('setPreferredLayers', async ({ consumerId, spatialLayer, temporalLayer, consultationId }) => {
      await (
        await consumerOf(consumerId, consultationId)
      )
        .consumerOf(claims.participantId, consumerId)
        .setPreferredLayers({ spatialLayer, ...(temporalLayer === undefined ? {} : { temporalLayer }) });
    });
    on('pauseProducer', async ({ producerId, consultationId }) => {
      await (await roomOf(consultationId)).producerOf(claims.participantId, producerId).pause();
    });
    on('resumeProducer', async ({ producerId, consultationId }) => {
      const producer = (await roomOf(consultationId)).producerOf(claims.participantId, producerId);
      if (!consultationId && producer.kind === 'audio' && this.mutedByCourt.has(claims.participantId))
        throw new AppError(403, 'muted_by_court', 'the judge has muted your microphone in the courtroom');
      await producer.resume();
    });
    on('muteParticipant', async ({ participantId, muted }) => {
      const target = this.hearings.participant(claims.hearingId, participantId); // 404 outside this hearing
      if (target.role === 'judge') throw new AppError(403, 'forbidden', 'a judge is not muted by another');
      if (muted) this.mutedByCourt.set(participantId, claims.participantId);
      else this.mutedByCourt.delete(participantId);
      // The courtroom microphone(s) paused or resumed at the server: nobody receives it, whatever the page does.
      const r = await room();
      for (const p of r.producers().filter((x) => x.participantId === participantId && x.kind === 'audio')) {
        const producer = r.producerOf(participantId, p.producerId);
        await (muted ? producer.pause() : producer.resume());
      }
      this.hearings.log(claims.hearingId, claims.participantId, muted ? 'participant.muted' : 'participant.unmuted', { participantId });
      this.broadcast(claims.hearingId, 'courtMute', { participantId, muted, by: claims.participantId });
      return { participantId, muted };
    });
    on('callWitness', async ({ participantId, called }) => {
      const target = this.hearings.participant(claims.hearingId, participantId); // 404 outside this hearing
      if (!waitsToBeCalled(target.role)) throw new AppError(400, 'not_a_witness', 'only a witness is called in and sent back to wait');
      this.hearings.assertOpen(claims.hearingId);
      if (called === this.calledIn.has(participantId)) return { participantId, called };
      if (called) this.calledIn.add(participantId);
      else this.calledIn.delete(participantId);
      const witness = this.sockets.get(participantId);
      // A witness on a SIP terminal: the gateway takes or drops its media and changes what it receives.
      const terminal = this.terminals.get(participantId) === claims.hearingId;
      if (terminal) await this.witnessCalled?.(participantId, called);
      if (!called && !terminal) {
        // Back to waiting: their camera and microphone leave the courtroom, and nothing more reaches them.
        (await room()).removePeer(participantId);
        for (const c of this.consultations.of(participantId)) this.endConsultation(c.id, 'system', 'witness sent back to wait');
      }
      if (witness) {
        void witness.leave(called ? waitingChannel(claims.hearingId) : channel(claims.hearingId));
        void witness.join(called ? channel(claims.hearingId) : waitingChannel(claims.hearingId));
        // The witness's page joins again: into the courtroom, or into the waiting area.
        witness.emit(called ? 'calledIn' : 'sentToWait', { by: claims.participantId });
      }
      this.hearings.log(claims.hearingId, claims.participantId, called ? 'witness.called_in' : 'witness.sent_to_wait', { participantId });
      this.broadcast(claims.hearingId, 'witness', { participantId, waiting: !called, by: claims.participantId });
      return { participantId, called };
    });
    on('hangUpTerminal', ({ participantId }) => {
      // 404 outside this hearing (below). Only a terminal in a call in this hearing: a page is not hung up on.
      const target = this.hearings.participant(claims.hearingId, participantId);
      if (this.terminals.get(participantId) !== claims.hearingId || !this.hangUp || target.role === 'courtroom')
        throw new AppError(409, 'not_in_a_call', 'this participant is not a terminal in a call');
      this.hangUp(participantId, claims.participantId);
      return { participantId };
    });
    on('closeProducer', async ({ producerId, consultationId }) => {
      (await roomOf(consultationId)).producerOf(claims.participantId, producerId).close();
    });
    on('openConsultation', ({ with: withId }) => {
      // An invitation: nothing opens, and no media flows, until the one asked accepts.
      const c = this.consultations.invite(claims.hearingId, claims.participantId, withId);
      this.sockets.get(withId)?.emit('consultationInvited', { consultationId: c.id, from: claims.participantId, name: socket.data.name });
      return { consultationId: c.id, with: withId, state: c.state };
    });
    on('answerConsultation', async ({ consultationId, accept }) => {
      const c = await this.consultations.answer(claims.hearingId, claims.participantId, consultationId, accept);
      const [asker] = c.members;
      if (!accept) this.sockets.get(asker)?.emit('consultationClosed', { consultationId, reason: 'declined' });
      else
        for (const [m, other] of [c.members, [c.members[1], c.members[0]]] as const)
          this.sockets.get(m)?.emit('consultationOpened', { consultationId, with: other });
      return { consultationId, state: accept ? 'open' : 'declined' };
    });
    on('joinConsultation', async ({ consultationId }) => {
      const r = await roomOf(consultationId);
      return {
        routerRtpCapabilities: r.rtpCapabilities,
        producers: r
          .producers()
          .filter((p) => p.participantId !== claims.participantId)
          .map((p) => ({ ...p, consultationId })),
      };
    });
    on('closeConsultation', ({ consultationId }) => {
      const c = this.consultations.get(consultationId);
      if (!c || c.hearingId !== claims.hearingId || !c.members.includes(claims.participantId))
        throw new AppError(404, 'not_found', 'consultation not found');
      this.endConsultation(consultationId, claims.participantId, 'ended by a participant');
      return {};
    });
    on('transition', ({ to }) => {
      const hearing = this.hearings.transition(claims.hearingId, to, claims.participantId);
      return { state: hearing.state, allowedTransitions: hearing.allowedTransitions };
    });
    on('stream', async ({ action }) => {
      // Only the judge approves; the clerk may start, pause, stop and cut an approved stream.
      if (action === 'approve' && !may(claims.role, 'approveStream'))
        throw new AppError(403, 'forbidden', `role ${claims.role} may not approve streaming`);
      const status = await this.live.act(claims.hearingId, action, claims.participantId);
      this.sendCourtMedia(claims.hearingId);
      return status;
    });

    on('setProtection', ({ participantId, hidden, voice }) => {
      const protection = this.live.setProtection(claims.hearingId, participantId, { hidden, voice }, claims.participantId);
      this.sendCourtMedia(claims.hearingId);
      return protection;
    });

    on('identityDecision', ({ participantId, decision, reason }) => {
      return this.identity.decide(claims.hearingId, participantId, decision, reason, claims.participantId);
    });

    transcriptHandlers(on, {
      hearings: this.hearings,
      transcripts: this.transcripts,
      evidence: this.evidence,
      signing: this.signing,
      broadcast: (h, e, d) => this.broadcast(h, e, d),
      broadcastTo: (h, a, e, d) => this.broadcastTo(h, a, e, d),
    });
    recordingHandlers(on, { hearings: this.hearings, recorder: this.recorder, changed: (h) => this.sendCourtMedia(h) });
    on('leave', () => {
      this.dropMedia(claims.hearingId, claims.participantId);
      return {};
    });

    socket.on('disconnect', (reason) => {
      if (this.sockets.get(claims.participantId) !== socket) return;
      this.sockets.delete(claims.participantId);
      for (const c of this.consultations.of(claims.participantId)) this.endConsultation(c.id, claims.participantId, 'a participant left');
      const { hearingId, participantId } = claims;
      // A goodbye (the page closed, the server ended it) leaves at once. A connection that just dropped
      // keeps the participant's media for the grace period: a phone changing networks comes back to them.
      const goodbye =
        reason === 'client namespace disconnect' || reason === 'server namespace disconnect' || reason === 'server shutting down';
      const holds = this.plane.get(hearingId)?.hasPeer(participantId) || this.gallery?.of(hearingId, participantId) !== undefined;
      if (goodbye || !joined || this.reconnectGraceMs === 0 || !holds) {
        this.leave(hearingId, participantId, { reason });
        return;
      }
      this.hearings.log(hearingId, participantId, 'participant.disconnected', { reason, graceMs: this.reconnectGraceMs });
      this.io.to(channel(hearingId)).emit('participantOffline', { participantId });
      const since = Date.now();
      const timer = setTimeout(() => {
        if (this.away.get(participantId)?.timer !== timer) return;
        this.away.delete(participantId);
        this.leave(hearingId, participantId, { reason, offlineMs: Date.now() - since, cameBack: false });
      }, this.reconnectGraceMs);
      timer.unref();
      this.away.set(participantId, { hearingId, since, timer });
    });
  }

  /** A terminal (a SIP call, server/sip/) is in the hearing: logged as a join and announced like a page's. */
  terminalJoined(hearingId: string, participantId: string, detail: Record<string, unknown>): void {
    const p = this.hearings.participant(hearingId, participantId);
    this.terminals.set(participantId, hearingId);
    this.hearings.log(hearingId, participantId, 'participant.joined', {
      role: p.role,
      rejoin: this.hearings.joinedBefore(hearingId, participantId),
      ...detail,
    });
    // A courtroom camera is in the hearing the same way, but is not a terminal to hang up on. A witness's
    // terminal waits to be called in, as a page does (the court sees it waiting).
    const terminal = p.role !== 'courtroom';
    const waiting = this.waiting({ role: p.role, participantId });
    this.io.to(channel(hearingId)).emit('participantJoined', { participantId, name: p.name, role: p.role, waiting, terminal });
  }

  /** Whether a witness waits to be called in (their terminal's media are then held back by the gateway). */
  waitsToBeCalled(participantId: string, role: Role): boolean {
    return this.waiting({ role, participantId });
  }

  /** A witness on a SIP terminal called in or sent back to wait (set by the SIP gateway). */
  witnessCalled?: (participantId: string, called: boolean) => Promise<void>;

  /** Whether the participant is connected from a page (a SIP call from the same account is then refused). */
  hasPage(participantId: string): boolean {
    return this.sockets.has(participantId);
  }

  /** Ends a terminal's call for the court (set by the SIP gateway): `by` is who did it. */
  hangUp?: (participantId: string, by: string) => void;

  /**
   * A terminal's (or a courtroom camera's) camera or microphone: announced to the hearing as a page's are.
   * A microphone the judge has muted stays muted when it comes again (a terminal that dials again, a
   * camera back after a loss), paused before anyone is told of it, as a page's is in `produce`.
   */
  async terminalProduced(
    hearingId: string,
    announcement: { producerId: string; participantId: string; kind: string; source: string },
  ): Promise<void> {
    if (announcement.kind === 'audio' && this.mutedByCourt.has(announcement.participantId))
      await this.plane
        .get(hearingId)
        ?.producerOf(announcement.participantId, announcement.producerId)
        .pause()
        .catch(() => undefined);
    this.io.to(channel(hearingId)).emit('newProducer', announcement);
  }

  /** A terminal's call ended (hung up, timed out, refused later): it leaves the hearing. */
  terminalLeft(hearingId: string, participantId: string, detail: Record<string, unknown>): void {
    if (this.terminals.get(participantId) !== hearingId) return;
    this.terminals.delete(participantId);
    this.leave(hearingId, participantId, detail);
  }

  /** A participant leaves the hearing: their media go, the record and the others are told. */
  private leave(hearingId: string, participantId: string, detail: Record<string, unknown>): void {
    this.dropMedia(hearingId, participantId);
    this.hearings.log(hearingId, participantId, 'participant.left', detail);
    this.io.to(channel(hearingId)).emit('participantLeft', { participantId });
  }

  /** A participant's courtroom media go, here and in the hearing's gallery on another node. */
  private dropMedia(hearingId: string, participantId: string): void {
    this.plane.get(hearingId)?.removePeer(participantId);
    this.gallery?.drop(hearingId, participantId);
  }

  /** Gallery participants (viewers, lawyers) of a hearing whose receive transport this node's room serves itself. */
  private galleryHere(hearingId: string, room: MediaRoom): number {
    let n = 0;
    for (const socket of this.sockets.values()) {
      const c = socket.data.claims;
      if (c.hearingId === hearingId && GALLERY_ROLES.has(c.role) && room.hasTransport(c.participantId, 'recv')) n++;
    }
    return n;
  }

  /** The gallery serving these participants is gone: their pages join again (their media then go where there is room). */
  galleryLost(hearingId: string, viewers: readonly string[]): void {
    for (const v of viewers) {
      const socket = this.sockets.get(v);
      if (socket?.data.claims.hearingId === hearingId) socket.emit('mediaReset', { reason: 'gallery_lost' });
    }
  }

  /** A consumer in the gallery ended: its participant's page drops it. */
  galleryConsumerClosed(info: { consumerId: string; participantId: string; producerId: string }): void {
    this.sockets.get(info.participantId)?.emit('consumerClosed', info);
  }

  /**
   * The hearing moved to another node (cluster) while this one was frozen or cut off: its pages are told
   * (`moved`: they ask the other nodes where it is held now and join there) and let go. Nobody is logged
   * as leaving (they are joining it on the other node); the caller closes the room once the record here
   * has stopped. Returns how many pages were told.
   */
  relinquish(hearingId: string): number {
    let told = 0;
    // Who was here, from this node's own connections (the store may be out of reach too).
    const participants = new Set<string>();
    for (const [participantId, socket] of [...this.sockets]) {
      if (socket.data.claims.hearingId !== hearingId) continue;
      participants.add(participantId);
      this.sockets.delete(participantId);
      socket.emit('moved', {});
      socket.disconnect(true);
      told++;
    }
    for (const [participantId, away] of [...this.away]) {
      if (away.hearingId !== hearingId) continue;
      participants.add(participantId);
      clearTimeout(away.timer);
      this.away.delete(participantId);
    }
    this.forget(participants);
    return told;
  }

  /** What this node keeps per participant (resource budget, a SIP call-in, link quality), let go. */
  private forget(participantIds: Iterable<string>): void {
    for (const participantId of participantIds) {
      this.budgets.delete(participantId);
      this.calledIn.delete(participantId);
      this.quality.delete(participantId);
    }
  }

  /** The server stops: those still waited for are out of their hearings (logged before the store closes). */
  close(): void {
    for (const [participantId, away] of this.away) {
      clearTimeout(away.timer);
      this.hearings.log(away.hearingId, participantId, 'participant.left', { reason: 'server shutting down', cameBack: false });
    }
    this.away.clear();
  }

  /** A participant connected again: no longer waited for (returns when they dropped, if they had). */
  private back(participantId: string): { since: number } | undefined {
    const away = this.away.get(participantId);
    if (!away) return undefined;
    clearTimeout(away.timer);
    this.away.delete(participantId);
    return away;
  }

  /** A witness the judge has not called in (or has sent back): kept apart from the courtroom. */
  private waiting(claims: { role: Role; participantId: string }): boolean {
    return waitsToBeCalled(claims.role) && !this.calledIn.has(claims.participantId);
  }

  /** Takes one record line from the participant's allowance, or refuses the message (logging the limit once). */
  private spendRecordLine(hearingId: string, participantId: string, event: string): void {
    this.budgets.spend(
      participantId,
      () =>
        this.hearings.log(hearingId, participantId, 'participant.rate_limited', {
          event,
          burst: LIMITS.recordBurst,
          perSecond: LIMITS.recordPerSecond,
        }),
      () =>
        new AppError(
          429,
          'record_rate_limited',
          `too many recorded actions: at most ${LIMITS.recordPerSecond} per second after a burst of ${LIMITS.recordBurst}`,
        ),
    );
  }

  /**
   * A media worker died under a room. The courtroom was rebuilt (or lost): its participants reconnect
   * on `mediaReset`. A consultation is ended instead (its two members go back to the courtroom and may
   * open another); either way the death is in the hearing's log and record.
   */
  private workerDied(roomKey: string, detail: Record<string, unknown>): void {
    if (isConsultationRoom({ hearingId: roomKey })) {
      const consultationId = roomKey.slice(consultationRoomKey('').length);
      const c = this.consultations.get(consultationId);
      if (!c) return void this.plane.closeRoom(roomKey);
      this.hearings.log(c.hearingId, 'system', 'media.worker_died', { ...detail, consultationId });
      return this.endConsultation(consultationId, 'system', 'media worker died');
    }
    this.hearings.log(roomKey, 'system', 'media.worker_died', detail);
    this.io.to(channel(roomKey)).emit('mediaReset', { reason: 'worker_died' });
  }

  private endConsultation(consultationId: string, by: string, reason: string): void {
    const c = this.consultations.close(consultationId, by, reason);
    for (const m of c?.members ?? []) this.sockets.get(m)?.emit('consultationClosed', { consultationId, reason });
  }

  /** What the bench shows of the recording and the public stream (and who is protected from the public). */
  courtMedia(hearingId: string): {
    recording: boolean;
    stream: ReturnType<LivestreamService['status']>;
    protections: { participantId: string; hidden: boolean; voice: string }[];
  } {
    return {
      recording: this.recorder.get(hearingId)?.isRecording ?? false,
      stream: this.live.status(hearingId),
      protections: this.live.protections(hearingId),
    };
  }

  /** Tells the judge and clerk where the recording and the stream stand (after each change of either). */
  sendCourtMedia(hearingId: string): void {
    if (this.hearings.row(hearingId).state === 'closed') return;
    this.broadcastTo(hearingId, 'controlRecord', 'courtMedia', this.courtMedia(hearingId));
  }

  /** Sends an event to those in a hearing whose role may `action` (e.g. evidence: not the public). */
  broadcastTo(hearingId: string, action: Action, event: string, data: unknown): void {
    for (const socket of this.sockets.values()) {
      const c = socket.data.claims;
      if (c.hearingId === hearingId && may(c.role, action)) socket.emit(event, data);
    }
  }

  /**
   * Sound first: every two seconds, what the server could not get of a participant's microphone (after
   * its NACKs were answered) decides how much camera their page sends (`loss-policy.ts`). A change is told
   * to the page, written to the record, and a step down is an alert on the bench.
   */
  private watchSound(hearingId: string, participantId: string, producer: types.Producer): void {
    const policy = new LossPolicy(SOUND_SENT);
    let reading = false;
    const timer = setInterval(() => {
      if (reading || producer.closed || producer.paused) return;
      reading = true;
      void producer
        .getStats()
        .then((stats) => {
          const lost = stats.reduce((a, s) => a + Math.max(0, s.packetsLost), 0);
          const sent = stats.reduce((a, s) => a + s.packetCount, 0) + lost;
          const change = policy.observe({ at: Date.now(), sent, lost });
          if (!change || producer.closed) return;
          this.hearings.log(hearingId, participantId, change.level > change.from ? 'media.uplink_reduced' : 'media.uplink_restored', {
            level: change.level,
            from: change.from,
            soundLostPct: change.lossPct,
          });
          this.sockets.get(participantId)?.emit('uplink', { level: change.level });
        })
        .catch(() => undefined) // closed meanwhile
        .finally(() => (reading = false));
    }, SOUND_READ_MS);
    timer.unref();
    producer.observer.once('close', () => clearInterval(timer));
  }

  /** Sends an event to everybody in a hearing. */
  broadcast(hearingId: string, event: string, data: unknown): void {
    this.io.to(channel(hearingId)).emit(event, data);
  }

  private describe(socket: HearingSocket): { participantId: string; name: string; role: string } {
    return { participantId: socket.data.claims.participantId, name: socket.data.name, role: socket.data.claims.role };
  }

  private watchRoom(room: MediaRoom): void {
    const to = this.io.to(channel(room.hearingId));
    room.on('producerClosed', (info) => to.emit('producerClosed', info));
    room.on('activeSpeaker', (info) => to.emit('activeSpeaker', info));
    room.on('consumerClosed', (info) => this.sockets.get(info.participantId)?.emit('consumerClosed', info));
    // Connection quality: mediasoup scores what arrives from each producer (0–10, per simulcast layer);
    // a participant is as good as their worst unpaused producer's best layer. The bench hears of changes.
    room.on('producerAdded', (info, producer) => {
      if (!this.hearings.participantRole(info.participantId)) return; // internal peers and ingest terminals
      if (producer.kind === 'audio') this.watchSound(room.hearingId, info.participantId, producer);
      producer.on('score', () => {
        const scores = room
          .producers()
          .filter((p) => p.participantId === info.participantId && !p.paused)
          .map((p) => {
            try {
              return Math.max(0, ...room.producerOf(info.participantId, p.producerId).score.map((s) => s.score));
            } catch {
              return 10; // closed meanwhile
            }
          });
        if (!scores.length) return;
        const level = qualityOf(Math.min(...scores));
        if (this.quality.get(info.participantId) === level) return;
        this.quality.set(info.participantId, level);
        this.broadcastTo(room.hearingId, 'decideIdentity', 'quality', { participantId: info.participantId, quality: level });
      });
    });
  }

  /**
   * The hearing's last step at close (after the record is sealed): its room closes and everyone is
   * disconnected, after the current acks are sent, so the judge who closed the hearing gets the reply.
   */
  async closeHearing(hearingId: string): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const participants = this.hearings.participants(hearingId);
    this.plane.closeRoom(hearingId);
    // After the room's close, whose events may still touch them.
    this.forget(participants.map((p) => p.id));
    for (const p of participants) {
      // Waited for in vain: the hearing closed before they came back.
      if (this.back(p.id)) this.hearings.log(hearingId, p.id, 'participant.left', { reason: 'hearing closed', cameBack: false });
    }
    this.io.in(channel(hearingId)).disconnectSockets(true);
    this.io.in(waitingChannel(hearingId)).disconnectSockets(true);
  }
}
