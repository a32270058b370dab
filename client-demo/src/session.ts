import { Device, type types } from 'mediasoup-client';
import type { SignalingClient } from './signaling.ts';
import * as ui from './ui.ts';
import { Consultation } from './consultation.ts';
import { inboundStats, type InboundStats } from './stats.ts';

interface Self {
  participantId: string;
  name: string;
  role: string;
}
interface RemoteProducer {
  producerId: string;
  participantId: string;
  kind: 'audio' | 'video';
}
interface JoinReply {
  self: Self;
  hearing: { id: string; caseNumber: string; title: string; state: string; allowedTransitions: string[] };
  participants: { participantId: string; name: string; role: string; represents?: string[] }[];
  routerRtpCapabilities: types.RtpCapabilities;
  producers: RemoteProducer[];
}
interface TransportReply {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
}

export interface RemoteTrackStats extends InboundStats {
  participantId: string;
  kind: 'audio' | 'video';
}

const PUBLISHING_ROLES = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter']);
const SIGNING = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/**
 * One participant's media session. `start()` runs on every (re)connect and after a media reset:
 * it drops whatever transports it had, joins, publishes when the role may, and consumes everybody.
 */
export class Session {
  private readonly device = new Device();
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
  /** This device's transcript-signing key: the private half never leaves the browser. */
  private signingKey?: CryptoKeyPair;
  signingKeyId?: string;
  frozen?: { version: number; message: string };
  self?: Self;
  hearingState = 'unknown';
  joined = false;
  joins = 0;

  constructor(private readonly signaling: SignalingClient) {}

  async start(): Promise<void> {
    const generation = ++this.generation;
    this.teardown();
    const reply = await this.signaling.request<JoinReply>('join');
    if (generation !== this.generation) return;
    this.self = reply.self;
    for (const p of reply.participants) this.names.set(p.participantId, { name: p.name, role: p.role, represents: p.represents });
    this.onState(reply.hearing.state, reply.hearing.allowedTransitions, reply.hearing.title);
    if (!this.device.loaded) await this.device.load({ routerRtpCapabilities: reply.routerRtpCapabilities });
    this.recvTransport = this.device.createRecvTransport(
      await this.signaling.request<TransportReply>('createTransport', { direction: 'recv' }),
    );
    this.wireTransport(this.recvTransport);
    if (PUBLISHING_ROLES.has(reply.self.role)) {
      await this.registerSigningKey();
      await this.publish();
    }
    const toConsume = [...reply.producers, ...this.pending];
    this.pending = [];
    this.joined = true;
    this.joins++;
    this.consultControls();
    ui.setStatus('connected');
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
    this.localStream ??= await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480, frameRate: 24 } });
    const [audio] = this.localStream.getAudioTracks();
    const [video] = this.localStream.getVideoTracks();
    if (audio) {
      this.audioProducer = await transport.produce({
        track: audio,
        stopTracks: false,
        codecOptions: { opusFec: true, opusDtx: true },
        appData: { source: 'mic' },
      });
    }
    if (video) {
      if (this.self) ui.showTrack(this.self, video, true);
      this.videoProducer = await transport.produce({
        track: video,
        stopTracks: false,
        encodings: [
          { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
          { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 400_000, scalabilityMode: 'L1T3' },
          { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_000_000, scalabilityMode: 'L1T3' },
        ],
        codecOptions: { videoGoogleStartBitrate: 1000 },
        appData: { source: 'camera' },
      });
    }
  }

  /** Asks for a consultation with `withId` (a party with their lawyer); it opens when they accept. */
  async startConsultation(withId: string): Promise<string> {
    const { consultationId } = await this.signaling.request<{ consultationId: string }>('openConsultation', { with: withId });
    this.invitation = { consultationId, withId, direction: 'asked' };
    ui.setStatus(`waiting for ${this.names.get(withId)?.name ?? 'them'} to accept`);
    this.consultControls();
    return consultationId;
  }

  /** Someone asked this participant for a consultation: they accept or decline. */
  invited(consultationId: string, fromId: string): void {
    this.invitation = { consultationId, withId: fromId, direction: 'invited' };
    this.consultControls();
  }

  private async answer(accept: boolean): Promise<void> {
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
    ui.setStatus('in a private consultation');
    this.consultControls();
  }

  /** The consultation ended (by either member, or the server): back to the courtroom. */
  async leftConsultation(consultationId: string, reason?: string): Promise<void> {
    if (this.invitation?.consultationId === consultationId) {
      // Declined or not answered: nothing had opened.
      this.invitation = undefined;
      ui.setStatus(`consultation not opened: ${reason ?? 'closed'}`);
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
    ui.setStatus('connected');
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
    const who = this.names.get(p.participantId) ?? { name: 'participant', role: '' };
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

  participantJoined(p: { participantId: string; name: string; role: string }): void {
    this.names.set(p.participantId, { ...this.names.get(p.participantId), name: p.name, role: p.role });
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
    const end = (consultationId: string) => void this.signaling.request('closeConsultation', { consultationId });
    const failed = (e: Error) => ui.setStatus(e.message);
    ui.setConsultations({
      options,
      active: Boolean(this.consultation),
      invitation: invitation && { ...invitation, name: this.names.get(invitation.withId)?.name ?? 'participant' },
      onConsult: (pid) => void this.startConsultation(pid).catch(failed),
      onAnswer: (accept) => void this.answer(accept).catch(failed),
      onWithdraw: () => invitation && end(invitation.consultationId),
      onEnd: () => this.consultation && end(this.consultation.id),
    });
  }

  participantLeft(participantId: string): void {
    for (const [id, entry] of this.consumers) if (entry.participantId === participantId) this.closeConsumer(id);
    ui.removeTile(participantId);
  }

  onState(state: string, allowed: readonly string[], title?: string): void {
    this.hearingState = state;
    ui.setHearing(title ?? document.title, state);
    if (this.self?.role === 'judge') {
      ui.setControls(allowed, (to) => {
        this.signaling.request<{ state: string; allowedTransitions: string[] }>('transition', { to }).then(
          (r) => this.onState(r.state, r.allowedTransitions),
          (e: Error) => ui.setStatus(e.message),
        );
      });
    }
  }

  private async registerSigningKey(): Promise<void> {
    this.signingKey ??= await crypto.subtle.generateKey(SIGNING, false, ['sign', 'verify']);
    const publicKey = await crypto.subtle.exportKey('jwk', this.signingKey.publicKey);
    this.signingKeyId = (await this.signaling.request<{ keyId: string }>('registerSigningKey', { publicKey })).keyId;
  }

  /** Signs the frozen transcript version on this device and sends the signature. */
  async signTranscript(): Promise<{ valid: boolean; reason: string | null }> {
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

  counts(): { consumers: number; publishing: boolean } {
    return { consumers: this.consumers.size, publishing: Boolean(this.sendTransport && !this.sendTransport.closed) };
  }

  /** Drops transports (and with them producers and consumers); keeps the camera/microphone. */
  teardown(): void {
    this.joined = false;
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

  private wireTransport(transport: types.Transport): void {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.signaling.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    transport.on('connectionstatechange', (state) => {
      if (state !== 'failed' || transport.closed) return;
      ui.setStatus('media connection failed: restarting ICE');
      this.signaling
        .request<{ iceParameters: types.IceParameters }>('restartIce', { transportId: transport.id })
        .then(({ iceParameters }) => transport.restartIce({ iceParameters }))
        .catch(() => undefined);
    });
  }
}
