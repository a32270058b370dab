import { Device, type types } from 'mediasoup-client';
import { reachServer, type SignalingClient } from './signaling.ts';
import * as ui from './ui.ts';
import { Consultation, type TransportReply } from './consultation.ts';
import { inboundStats, selectedPair, sentLayers, type LayerSent, shouldAskServer, videoReceived, type InboundStats } from './stats.ts';
import { LossPolicy, RECEIVED_CAMERA, type LossLevel } from '../../server/signaling/loss-policy.ts';
import { encodingsAt } from './uplink.ts';
import * as transcript from './transcript.ts';
import { update, type CourtMedia, type Evidence, type Frozen, type Signed } from './store.ts';

interface Self {
  participantId: string;
  name: string;
  role: string;
}
interface RemoteProducer {
  producerId: string;
  participantId: string;
  kind: 'audio' | 'video';
  /** `interpretation`: an interpreter's voice (each listener chooses original or interpretation). */
  source?: string;
}
interface JoinReply {
  self: Self;
  /** A witness not called in: no media, nobody, nothing of the courtroom. */
  waiting?: boolean;
  /** The server kept this page's transports through a dropped connection: media carry on. */
  resumed?: boolean;
  /** Cluster mode: every node's address (asked where the hearing went if this node is gone). */
  doors?: string[];
  hearing: { id: string; caseNumber: string; title: string; state: string; allowedTransitions: string[] };
  participants: { participantId: string; name: string; role: string; represents?: string[]; waiting?: boolean; terminal?: boolean }[];
  routerRtpCapabilities: types.RtpCapabilities;
  producers: RemoteProducer[];
  transcript?: transcript.Line[];
  annotations?: transcript.Note[];
  evidence?: Evidence[];
  frozen?: Frozen | null;
  signatures?: Signed[];
  courtMuted?: string[];
  courtMedia?: CourtMedia | null;
  quality?: Record<string, string>;
}

export interface RemoteTrackStats extends InboundStats {
  participantId: string;
  kind: 'audio' | 'video';
}

/** How one transport reaches the server (see Session.paths). */
export interface TransportPath {
  direction: 'send' | 'recv';
  local: string;
  protocol: string;
  relayProtocol: string | null;
  /** The server's address and port this transport reaches (`ip:port`). */
  remote: string | null;
  /** What went over the selected candidate pair so far. */
  bytesSent: number;
  bytesReceived: number;
}

/** The camera asked for (the device check's choice adds its deviceId). */
export const CAMERA = { width: 640, height: 480, frameRate: 24 } as const;
const PUBLISHING_ROLES = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness']);
/** Nothing received on a transport for this long: the banner says the media are interrupted. */
const STALL_MS = 2500;
/**
 * The camera's simulcast layers: two, because Chromium sends at most two for a 640x480 camera (libwebrtc
 * limits layers by resolution); with three it dropped the full picture and everybody saw 320x240 at best.
 */
const CAMERA_LAYERS = [
  { rid: 'r0', scaleResolutionDownBy: 2, maxBitrate: 200_000, scalabilityMode: 'L1T3' },
  { rid: 'r1', scaleResolutionDownBy: 1, maxBitrate: 900_000, scalabilityMode: 'L1T3' },
] as const;
/** Media silent and the signaling connection unanswered for this long: the connection is made again. */
const PROBE_MS = 3000;
/**
 * Nothing received on every transport for this long: the page asks whether its signaling connection is
 * alive (sooner than the banner: a phone that changed networks finds out within about 1.5 s).
 */
const QUIET_MS = 1000;
/** How often the page looks at its transports' statistics for silence (the downlink's losses: every other time). */
const NETWORK_POLL_MS = 500;
const SIGNING_ROLES = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter']);
const SIGNING = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/**
 * One participant's media session. `start()` runs on every (re)connect and after a media reset:
 * it drops whatever transports it had, joins, publishes when the role may, and consumes everybody.
 */
export class Session {
  private madeDevice?: Device;
  /**
   * Made when first needed: on an insecure page (plain HTTP at a network address) mediasoup-client cannot
   * tell the browser and throws, and the page must still load to say why there is no camera.
   */
  private get device(): Device {
    return (this.madeDevice ??= new Device());
  }
  private sendTransport?: types.Transport;
  private videoProducer?: types.Producer;
  private audioProducer?: types.Producer;
  consultation?: Consultation;
  private recvTransport?: types.Transport;
  private readonly consumers = new Map<string, { consumer: types.Consumer; participantId: string }>();
  private readonly names = new Map<string, { name: string; role: string; represents?: string[] }>();
  /** A consultation asked for and not yet answered: by this participant (`asked`) or of them (`invited`). */
  private invitation?: { consultationId: string; withId: string; direction: 'asked' | 'invited' };
  private localStream?: MediaStream;
  private generation = 0;
  private pending: RemoteProducer[] = [];
  /** Cluster mode: the nodes' addresses as of the last join. */
  doors: string[] = [];
  /** This device's transcript-signing key: the private half never leaves the browser. */
  private signingKey?: CryptoKeyPair;
  signingKeyId?: string;
  frozen?: { version: number; message: string };
  self?: Self;
  hearingState = 'unknown';
  joined = false;
  joins = 0;
  /** Connections that dropped and came back to the same transports (no rejoin), and ICE restarts done. */
  resumes = 0;
  iceRestarts = 0;
  /** The connection dropped without a goodbye: the transports stay up for the server to resume them. */
  private suspended = false;

  constructor(private readonly signaling: SignalingClient) {}

  async start(): Promise<void> {
    const generation = ++this.generation;
    // Back after a dropped connection with the transports still up: the server may have kept them.
    const kept = this.keptTransports();
    if (!kept) this.teardown();
    const reply = await this.signaling.request<JoinReply>('join', kept ? { resume: { transports: kept } } : {});
    if (generation !== this.generation) return;
    // Not resumed (it waited too long, or the server restarted): the server joined the page afresh.
    if (kept && !reply.resumed) this.teardown();
    this.self = reply.self;
    this.doors = reply.doors ?? [];
    for (const p of reply.participants) this.names.set(p.participantId, { name: p.name, role: p.role, represents: p.represents });
    ui.setPeople(reply.participants, reply.self);
    ui.setHearing(reply.hearing);
    this.hearingState = reply.hearing.state;
    transcript.load(reply.transcript ?? [], reply.annotations ?? []);
    update({
      hearingId: reply.hearing.id,
      evidence: reply.evidence ?? [],
      frozen: reply.frozen ? { version: reply.frozen.version, message: reply.frozen.message } : null,
      signatures: reply.signatures ?? [],
      courtMuted: reply.courtMuted ?? [],
      courtMedia: reply.courtMedia ?? null,
      quality: reply.quality ?? {},
    });
    if (reply.frozen) this.frozen = { version: reply.frozen.version, message: reply.frozen.message };
    // A witness waiting apart: no transports, no camera sent, nothing received until the judge calls them in.
    update((s) => ({
      waitingApart: reply.waiting ? (s.waitingApart === false && this.joins > 0 ? 'sentBack' : s.waitingApart || 'waiting') : false,
    }));
    if (reply.waiting) {
      this.joined = true;
      this.joins++;
      ui.setStatus('status.waitingToBeCalled');
      return;
    }
    if (reply.resumed) return this.resumeMedia(reply.producers);
    if (!this.device.loaded) await this.device.load({ routerRtpCapabilities: reply.routerRtpCapabilities });
    this.recvTransport = this.device.createRecvTransport(
      await this.signaling.request<TransportReply>('createTransport', { direction: 'recv' }),
    );
    this.wireTransport(this.recvTransport);
    // Those who sign the 笔录 hold a signing key on this device (a witness testifies, and does not sign it).
    if (SIGNING_ROLES.has(reply.self.role)) await this.registerSigningKey();
    if (PUBLISHING_ROLES.has(reply.self.role)) await this.publish();
    const toConsume = [...reply.producers, ...this.pending];
    this.pending = [];
    this.joined = true;
    this.joins++;
    this.consultControls();
    ui.setStatus('status.connected');
    this.watchNetwork();
    await Promise.all(toConsume.map((p) => this.consume(p)));
  }

  /** Publishes microphone and camera (simulcast VP8, Opus with FEC/DTX). */
  async publish(): Promise<void> {
    const transport = this.device.createSendTransport(
      await this.signaling.request<TransportReply>('createTransport', { direction: 'send' }),
    );
    this.sendTransport = transport;
    this.wireTransport(transport);
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      this.signaling
        .request<{ id: string }>('produce', { transportId: transport.id, kind, rtpParameters, source: appData.source })
        .then(({ id }) => callback({ id }), errback);
    });
    this.localStream ??= await navigator.mediaDevices.getUserMedia({ audio: true, video: CAMERA });
    const [audio] = this.localStream.getAudioTracks();
    const [video] = this.localStream.getVideoTracks();
    if (audio) {
      this.audioProducer = await transport.produce({
        track: audio,
        stopTracks: false,
        // NACK: lost packets are asked for again, when the server's capabilities offer it (HEARING_OPUS_NACK).
        codecOptions: { opusFec: true, opusDtx: true, opusNack: true },
        // Sound first: on a thin uplink the browser gives the microphone its bitrate before the camera's
        // layers (which it drops from the top: 640x480 at up to 900 kbit/s, then 320x240 at 200 kbit/s).
        encodings: [{ priority: 'high', networkPriority: 'high' }],
        // An interpreter speaks on the interpretation channel: listeners choose to hear it.
        appData: { source: this.self?.role === 'interpreter' ? 'interpretation' : 'mic' },
      });
    }
    if (video) {
      if (this.self) ui.showTrack(this.self, video, true);
      // H.264 when the join link asked for it (a device with a hardware encoder) and the server offers it.
      const h264 =
        sessionStorage.getItem('hearingVideoCodec') === 'h264'
          ? this.device.rtpCapabilities.codecs?.find(
              (c) => c.mimeType.toLowerCase() === 'video/h264' && c.parameters?.['packetization-mode'] === 1,
            )
          : undefined;
      this.videoProducer = await transport.produce({
        track: video,
        stopTracks: false,
        ...(h264 ? { codec: h264 } : {}),
        encodings: CAMERA_LAYERS.map((l) => ({ ...l })),
        codecOptions: { videoGoogleStartBitrate: 1000 },
        appData: { source: 'camera' },
      });
    }
  }

  /** Asks for a consultation with `withId` (a party with their lawyer); it opens when they accept. */
  async startConsultation(withId: string): Promise<string> {
    const { consultationId } = await this.signaling.request<{ consultationId: string }>('openConsultation', { with: withId });
    this.invitation = { consultationId, withId, direction: 'asked' };
    ui.setStatus('status.consultWaiting', { name: this.names.get(withId)?.name ?? '' });
    this.consultControls();
    return consultationId;
  }

  /** Someone asked this participant for a consultation: they accept or decline. */
  invited(consultationId: string, fromId: string): void {
    this.invitation = { consultationId, withId: fromId, direction: 'invited' };
    this.consultControls();
  }

  async answer(accept: boolean): Promise<void> {
    const invitation = this.invitation;
    if (!invitation) return;
    this.invitation = undefined;
    this.consultControls();
    await this.signaling.request('answerConsultation', { consultationId: invitation.consultationId, accept });
  }

  /**
   * Steps out of the courtroom: the courtroom producers pause (the court hears and sees nothing of
   * the consultation) and the same camera and microphone go to the consultation room.
   */
  async enterConsultation(consultationId: string, withId: string): Promise<void> {
    if (this.consultation) return;
    this.invitation = undefined;
    this.consultation = new Consultation(consultationId, withId, this.signaling, this.device);
    for (const p of [this.audioProducer, this.videoProducer]) {
      if (!p || p.closed) continue;
      p.pause();
      await this.signaling.request('pauseProducer', { producerId: p.id });
    }
    await this.consultation.join(this.localStream);
    ui.setStatus('status.inConsultation');
    this.consultControls();
  }

  /** The consultation ended (by either member, or the server): back to the courtroom. */
  async leftConsultation(consultationId: string, reason?: string): Promise<void> {
    if (this.invitation?.consultationId === consultationId) {
      // Declined or not answered: nothing had opened.
      this.invitation = undefined;
      ui.setStatus('status.consultNotOpened', { reason: reason ?? '' });
      this.consultControls();
      return;
    }
    if (this.consultation?.id !== consultationId) return;
    this.consultation.close();
    this.consultation = undefined;
    for (const p of [this.audioProducer, this.videoProducer]) {
      if (!p || p.closed) continue;
      p.resume();
      await this.signaling.request('resumeProducer', { producerId: p.id });
    }
    ui.setStatus('status.connected');
    this.consultControls();
  }

  async switchCamera(track: MediaStreamTrack): Promise<string> {
    if (!this.videoProducer) return 'not publishing video';
    await this.videoProducer.replaceTrack({ track });
    if (this.self) ui.showTrack(this.self, track, true);
    return 'switched';
  }

  async consume(p: RemoteProducer): Promise<void> {
    const transport = this.recvTransport;
    if (!transport || !this.joined) {
      this.pending.push(p);
      return;
    }
    if ([...this.consumers.values()].some((c) => c.consumer.producerId === p.producerId)) return;
    const reply = await this.signaling.request<{
      id: string;
      producerId: string;
      kind: 'audio' | 'video';
      rtpParameters: types.RtpParameters;
    }>('consume', {
      transportId: transport.id,
      producerId: p.producerId,
      rtpCapabilities: this.device.rtpCapabilities,
    });
    if (transport !== this.recvTransport) return;
    const consumer = await transport.consume({
      id: reply.id,
      producerId: reply.producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters,
    });
    this.consumers.set(consumer.id, { consumer, participantId: p.participantId });
    if (p.source === 'interpretation')
      update((s) => (s.interpreters.includes(p.participantId) ? {} : { interpreters: [...s.interpreters, p.participantId] }));
    const who = this.names.get(p.participantId) ?? { name: '', role: '' };
    ui.showTrack({ participantId: p.participantId, ...who }, consumer.track);
    await this.signaling.request('resumeConsumer', { consumerId: consumer.id });
  }

  closeConsumer(consumerId: string): void {
    const entry = this.consumers.get(consumerId);
    if (!entry) return;
    entry.consumer.close();
    this.consumers.delete(consumerId);
    ui.removeTrack(entry.participantId, entry.consumer.track);
  }

  participantJoined(p: { participantId: string; name: string; role: string; waiting?: boolean; terminal?: boolean }): void {
    this.names.set(p.participantId, { ...this.names.get(p.participantId), name: p.name, role: p.role });
    ui.setOnline(p.participantId, true, {
      participantId: p.participantId,
      name: p.name,
      role: p.role,
      waiting: p.waiting || undefined,
      terminal: p.terminal || undefined,
    });
    this.consultControls();
  }

  /**
   * A lawyer may consult the parties they represent, a party their lawyers (buttons; the server
   * enforces it too); an invitation shows accept and decline, a pending request its withdrawal.
   */
  consultControls(): void {
    const self = this.self;
    const mine = self ? this.names.get(self.participantId) : undefined;
    const options = [...this.names]
      .filter(([participantId, n]) =>
        self?.role === 'lawyer'
          ? n.role === 'party' && (mine?.represents ?? []).includes(participantId)
          : self?.role === 'party' && n.role === 'lawyer' && (n.represents ?? []).includes(self.participantId),
      )
      .map(([participantId, n]) => ({ participantId, name: n.name }));
    const invitation = this.invitation;
    ui.setConsultations({
      options,
      active: Boolean(this.consultation),
      invitation: invitation && { direction: invitation.direction, name: this.names.get(invitation.withId)?.name ?? '' },
    });
  }

  /** Withdraws this participant's unanswered request, or ends the open consultation. */
  async endConsultation(): Promise<void> {
    const consultationId = this.consultation?.id ?? (this.invitation?.direction === 'asked' ? this.invitation.consultationId : undefined);
    if (consultationId) await this.signaling.request('closeConsultation', { consultationId });
  }

  participantLeft(participantId: string): void {
    for (const [id, entry] of this.consumers) if (entry.participantId === participantId) this.closeConsumer(id);
    ui.removeTile(participantId);
    ui.setOnline(participantId, false);
  }

  onState(state: string, allowed: readonly string[]): void {
    this.hearingState = state;
    ui.setHearing({ state, allowedTransitions: allowed });
  }

  /** The judge moves the hearing to another state or phase. */
  async transition(to: string): Promise<void> {
    const r = await this.signaling.request<{ state: string; allowedTransitions: string[] }>('transition', { to });
    this.onState(r.state, r.allowedTransitions);
  }

  /** The camera and microphone chosen at the device check (used for every join after). */
  useStream(stream: MediaStream): void {
    this.localStream = stream;
  }

  /**
   * Microphone or camera off and on: the producer is paused at the server too (nobody receives it,
   * the record shows the gap as the participant's choice).
   */
  async setSending(kind: 'audio' | 'video', on: boolean): Promise<void> {
    const producer = kind === 'audio' ? this.audioProducer : this.videoProducer;
    const track = kind === 'audio' ? this.localStream?.getAudioTracks()[0] : this.localStream?.getVideoTracks()[0];
    if (track) track.enabled = on;
    if (!producer || producer.closed || this.consultation) return;
    if (on) producer.resume();
    else producer.pause();
    await this.signaling.request(on ? 'resumeProducer' : 'pauseProducer', { producerId: producer.id });
  }

  /** The next camera of the device (a phone's front and back): the track is replaced, not re-published. */
  async nextCamera(): Promise<string> {
    const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    const current = this.localStream?.getVideoTracks()[0];
    const at = cameras.findIndex((c) => c.deviceId === current?.getSettings().deviceId);
    const next = cameras[(at + 1) % Math.max(cameras.length, 1)];
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { ...CAMERA, ...(next ? { deviceId: { exact: next.deviceId } } : {}) },
    });
    const [track] = stream.getVideoTracks();
    if (!track) return 'no camera';
    if (current && this.localStream) {
      this.localStream.removeTrack(current);
      current.stop();
      this.localStream.addTrack(track);
    }
    return this.switchCamera(track);
  }

  private async registerSigningKey(): Promise<void> {
    this.signingKey ??= await crypto.subtle.generateKey(SIGNING, false, ['sign', 'verify']);
    const publicKey = await crypto.subtle.exportKey('jwk', this.signingKey.publicKey);
    this.signingKeyId = (await this.signaling.request<{ keyId: string }>('registerSigningKey', { publicKey })).keyId;
  }

  /** Signs the frozen transcript version on this device and sends the signature (with the drawn one, if any). */
  async signTranscript(image?: string): Promise<{ valid: boolean; reason: string | null }> {
    if (!this.frozen || !this.signingKey || !this.signingKeyId) throw new Error('nothing to sign yet');
    const raw = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      this.signingKey.privateKey,
      new TextEncoder().encode(this.frozen.message),
    );
    const signature = btoa(String.fromCharCode(...new Uint8Array(raw)));
    const reply = await this.signaling.request<{ signature: { valid: boolean; reason: string | null } }>('signTranscript', {
      version: this.frozen.version,
      keyId: this.signingKeyId,
      signature,
      ...(image ? { image } : {}),
    });
    return reply.signature;
  }

  async stats(): Promise<RemoteTrackStats[]> {
    const out: RemoteTrackStats[] = [];
    for (const { consumer, participantId } of this.consumers.values()) {
      out.push({ participantId, kind: consumer.kind as 'audio' | 'video', ...(await inboundStats(consumer)) });
    }
    return out;
  }

  /** What the camera sends now, per simulcast layer (nothing when it does not send). */
  async sent(): Promise<LayerSent[]> {
    return this.videoProducer && !this.videoProducer.closed ? sentLayers(this.videoProducer) : [];
  }

  /**
   * How each transport reaches the server: the selected candidate pair's local candidate type
   * (`host`, `srflx`, `relay`), its protocol, and over which protocol a relay reaches the TURN server.
   */
  async paths(): Promise<TransportPath[]> {
    const out: TransportPath[] = [];
    for (const [direction, transport] of [
      ['send', this.sendTransport],
      ['recv', this.recvTransport],
    ] as const) {
      if (!transport || transport.closed) continue;
      const pair = selectedPair(await transport.getStats());
      const local = pair?.local;
      if (!local) continue;
      out.push({
        direction,
        local: String(local.candidateType),
        protocol: String(local.protocol),
        relayProtocol: typeof local.relayProtocol === 'string' ? local.relayProtocol : null,
        remote: pair.remote?.address && pair.remote.port ? `${pair.remote.address}:${pair.remote.port}` : null,
        bytesSent: Number(pair.bytesSent ?? 0),
        bytesReceived: Number(pair.bytesReceived ?? 0),
      });
    }
    return out;
  }

  /** The ids of this page's transports (receive, then send): the same ones after a resume. */
  transportIds(): string[] {
    return [this.recvTransport, this.sendTransport].filter((t) => t && !t.closed).map((t) => t!.id);
  }

  counts(): { consumers: number; publishing: boolean } {
    return { consumers: this.consumers.size, publishing: Boolean(this.sendTransport && !this.sendTransport.closed) };
  }

  /**
   * The connection dropped without a goodbye (a tunnel, a network change): everything stays as it is for
   * the next connect to resume; the server ends a consultation at once, so that is left here too.
   */
  suspend(): void {
    this.suspended = this.joined && !!this.recvTransport && !this.recvTransport.closed;
    if (!this.suspended) this.teardown();
  }

  /** The transports to resume (receive first), when the connection dropped and they are still up. */
  private keptTransports(): string[] | undefined {
    const kept = this.suspended && this.recvTransport && !this.recvTransport.closed;
    this.suspended = false;
    return kept ? this.transportIds() : undefined;
  }

  /**
   * Resumed on the same transports: consumers of what closed meanwhile go, what was added meanwhile is
   * consumed, a consultation the drop ended is left, and ICE restarts on both transports (the page may
   * be on another network now: new credentials, and the browser tries the addresses it has now).
   */
  private async resumeMedia(producers: RemoteProducer[]): Promise<void> {
    this.joined = true;
    this.resumes++;
    const live = new Set(producers.map((p) => p.producerId));
    for (const [id, entry] of this.consumers) if (!live.has(entry.consumer.producerId)) this.closeConsumer(id);
    if (this.consultation) await this.leftConsultation(this.consultation.id);
    await Promise.all([this.recvTransport, this.sendTransport].map((t) => (t && !t.closed ? this.restartIce(t) : undefined)));
    this.consultControls();
    ui.setStatus('status.connected');
    const toConsume = [...producers, ...this.pending];
    this.pending = [];
    await Promise.all(toConsume.map((p) => this.consume(p)));
  }

  private async restartIce(transport: types.Transport): Promise<void> {
    const { iceParameters } = await this.signaling.request<{ iceParameters: types.IceParameters }>('restartIce', {
      transportId: transport.id,
    });
    await transport.restartIce({ iceParameters });
    this.iceRestarts++;
  }

  /** Drops transports (and with them producers and consumers); keeps the camera/microphone. */
  teardown(): void {
    this.suspended = false;
    this.uplinkLevel = 0;
    this.downlink.clear();
    this.joined = false;
    clearInterval(this.networkWatch);
    this.interrupted.clear();
    this.silentMs.clear();
    update({ mediaInterrupted: false });
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.sendTransport = undefined;
    this.videoProducer = undefined;
    this.audioProducer = undefined;
    this.consultation?.close();
    this.consultation = undefined;
    this.recvTransport = undefined;
    this.consumers.clear();
    ui.clearRemoteTiles();
  }

  /** Transports whose connection is interrupted (ICE disconnected or failed) right now. */
  private readonly interrupted = new Set<string>();
  /** Per transport: how long nothing (media, RTCP, STUN) had arrived at its last reading (ms). */
  private readonly silentMs = new Map<string, number>();
  private networkWatch?: ReturnType<typeof setInterval>;
  /** Sound first: the camera's level as the server last asked for it (0 both layers, 1 the small one, 2 slowed). */
  uplinkLevel: LossLevel = 0;
  /** Per received camera (consumer id): the small layer asked for while this page loses the picture. */
  private readonly downlink = new Map<string, LossPolicy>();
  /** A look at the losses is under way (one at a time). */
  private watchingLosses = false;
  /** A probe of the signaling connection is under way. */
  private probing = false;
  /** When the server last answered a probe. */
  private answeredAt = 0;
  /** When the media last moved to another local address (a probe under way learns of it too). */
  private movedAt = 0;
  /** Per transport: the local address its selected candidate pair last used. */
  private readonly localAddress = new Map<string, string>();

  private networkChanged(transport: types.Transport, state: string): void {
    if (state === 'disconnected' || state === 'failed') this.interrupted.add(transport.id);
    else this.interrupted.delete(transport.id);
    this.showNetwork();
  }

  private showNetwork(): void {
    const stalled = [...this.silentMs.values()].some((ms) => ms > STALL_MS);
    update({ mediaInterrupted: this.interrupted.size > 0 || stalled });
  }

  /**
   * ICE takes 5 s or more to call a link that silently drops everything `disconnected`: twice a second
   * the page also looks when its transports last received anything (the server sends RTCP each second, and
   * answers STUN), and shows the banner after STALL_MS of nothing, until packets arrive again.
   */
  private watchNetwork(): void {
    clearInterval(this.networkWatch);
    let tick = 0;
    this.networkWatch = setInterval(() => {
      if (tick++ % 2 === 0 && !this.watchingLosses) {
        this.watchingLosses = true;
        void this.watchDownlink().finally(() => (this.watchingLosses = false));
      }
      for (const transport of [this.sendTransport, this.recvTransport]) {
        if (!transport || transport.closed || transport.connectionState === 'new' || transport.connectionState === 'connecting') continue;
        void transport
          .getStats()
          .then((report) => {
            const pair = selectedPair(report);
            if (!pair?.lastPacketReceivedTimestamp) return;
            // The browser moved its media to another local address by itself (Wi-Fi to mobile data) before
            // they were silent for long: the signaling connection, made from the old address, is likely
            // dead too, and socket.io would take 45 s to notice. Ask now.
            const local = pair.local;
            const before = this.localAddress.get(transport.id);
            if (local?.address) this.localAddress.set(transport.id, local.address);
            const moved = before !== undefined && local?.address !== undefined && local.address !== before;
            if (moved) this.movedAt = Date.now();
            const silentFor = pair.timestamp - pair.lastPacketReceivedTimestamp;
            this.silentMs.set(transport.id, silentFor);
            this.showNetwork();
            // The media went silent: is the signaling connection still alive? A phone that moved to another
            // network can hold a dead connection for the 45 s socket.io takes to notice; asked, it is found
            // dead in seconds and made again (resuming the same transports, with an ICE restart). Which
            // silences are asked about: `shouldAskServer`. After a move the media flow on the new address
            // whatever the state of the old connection: the server's answer alone decides.
            const watched = [this.sendTransport, this.recvTransport]
              .filter((t) => t && !t.closed && t.connectionState !== 'new' && t.connectionState !== 'connecting')
              .map((t) => ({ silent: (this.silentMs.get(t!.id) ?? 0) > QUIET_MS || this.interrupted.has(t!.id) }));
            // A quiet room (nothing published, nothing received) is asked about every PROBE_MS, not each second.
            const askedLately = !moved && Date.now() < this.answeredAt + PROBE_MS;
            if (shouldAskServer(watched, moved) && !this.probing && !askedLately) {
              this.probing = true;
              console.info(
                `[hearing] ${moved ? `the media moved from ${before} to ${local?.address}` : 'every transport is silent'}: asking the server`,
              );
              // Media heard again after a silence need not mean a busy device: if they came back from another
              // address, the connection (still on the old one) is as dead as the silence suggested.
              const since = Date.now();
              const alive = async () => this.movedAt < since && (await this.mediaHeard());
              const reachable = () => reachServer(this.signaling.origin, PROBE_MS);
              void this.signaling
                .probe(PROBE_MS, moved ? undefined : alive, reachable)
                .then((answered) => void (answered && (this.answeredAt = Date.now())))
                .finally(() => (this.probing = false));
            }
          })
          .catch(() => undefined);
      }
    }, NETWORK_POLL_MS);
  }

  /** The server could not get this page's sound whole: the camera steps down (or back up) to `level`. */
  async setUplink(level: LossLevel): Promise<void> {
    console.info(`[hearing] uplink: the camera to level ${level} (from ${this.uplinkLevel}), as the server asks`);
    this.uplinkLevel = level;
    await this.applyUplink();
  }

  /**
   * Each second: a received camera this page loses much of (its downlink cannot carry the layer the server
   * picked) is asked for in its small layer, and for the best again after a quiet while.
   */
  private async watchDownlink(): Promise<void> {
    const transport = this.recvTransport;
    if (!transport || transport.closed) return;
    const counts = videoReceived(await transport.getStats().catch(() => new Map() as RTCStatsReport));
    const at = Date.now();
    for (const id of this.downlink.keys()) if (!this.consumers.has(id)) this.downlink.delete(id);
    for (const { consumer, participantId } of this.consumers.values()) {
      const seen = consumer.kind === 'video' && !consumer.closed && !consumer.paused ? counts.get(consumer.localId) : undefined;
      if (!seen) continue;
      let policy = this.downlink.get(consumer.id);
      if (!policy) this.downlink.set(consumer.id, (policy = new LossPolicy(RECEIVED_CAMERA)));
      const change = policy.observe({ at, ...seen });
      if (!change) continue;
      const name = this.names.get(participantId)?.name ?? participantId;
      console.info(
        `[hearing] downlink: ${name}'s camera ${change.level ? 'in its small layer' : 'at its best'} (lost ${change.lossPct} %)`,
      );
      await this.signaling
        .request('setPreferredLayers', { consumerId: consumer.id, spatialLayer: change.level ? 0 : 2 })
        .catch(() => undefined);
    }
  }

  /** How many received cameras are held at their small layer for this page's downlink. */
  downlinkReduced(): number {
    return [...this.downlink.values()].filter((p) => p.level > 0).length;
  }

  /** The camera's encodings as the uplink level wants them (also after the camera is produced again). */
  private async applyUplink(): Promise<void> {
    const sender = this.videoProducer?.rtpSender;
    if (!sender || this.videoProducer?.closed) return;
    const parameters = sender.getParameters();
    if (!parameters.encodings?.length) return;
    parameters.encodings = encodingsAt(this.uplinkLevel, parameters.encodings, CAMERA_LAYERS, CAMERA.frameRate);
    await sender.setParameters(parameters).catch((error: Error) => console.warn(`[hearing] uplink: ${error.message}`));
  }

  /** Whether any transport's selected pair received something in the last second (its stats, fetched now). */
  private async mediaHeard(): Promise<boolean> {
    for (const transport of [this.sendTransport, this.recvTransport]) {
      if (!transport || transport.closed) continue;
      const report = await transport.getStats().catch(() => undefined);
      const pair = report && selectedPair(report);
      if (pair?.lastPacketReceivedTimestamp && pair.timestamp - pair.lastPacketReceivedTimestamp < 1000) return true;
    }
    return false;
  }

  private wireTransport(transport: types.Transport): void {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.signaling.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    transport.on('connectionstatechange', (state) => {
      // The network dropped (a phone between cells, a tunnel): a banner until the media are back.
      this.networkChanged(transport, transport.closed ? 'closed' : state);
      if (state !== 'failed' || transport.closed || !this.signaling.socket.connected) return;
      ui.setStatus('status.iceRestart');
      this.restartIce(transport).catch(() => undefined);
    });
  }
}
