import type { Device, types } from 'mediasoup-client';
import type { SignalingClient } from './signaling.ts';
import * as ui from './ui.ts';
import { inboundStats } from './stats.ts';

/** What `createTransport` answers (the ICE servers and policy included): passed whole to mediasoup-client. */
export interface TransportReply {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
  /** TURN servers with this participant's credentials, and whether to use them only (server config). */
  iceServers?: RTCIceServer[];
  iceTransportPolicy?: RTCIceTransportPolicy;
}

export interface ConsultationProducer {
  producerId: string;
  participantId: string;
  kind: 'audio' | 'video';
}

/**
 * A private consultation (a party with a lawyer) on its own server router: its own transports, the
 * same camera and microphone, and the other member's media. The courtroom never receives any of it.
 */
export class Consultation {
  private readonly consumers = new Map<string, { consumer: types.Consumer; participantId: string }>();
  private readonly producers: types.Producer[] = [];
  /** Producers asked for (once each), and those announced before the receive transport was made. */
  private readonly asked = new Set<string>();
  private readonly early: ConsultationProducer[] = [];
  private send?: types.Transport;
  private recv?: types.Transport;
  closed = false;

  constructor(
    readonly id: string,
    readonly withId: string,
    private readonly signaling: SignalingClient,
    private readonly device: Device,
  ) {}

  async join(stream: MediaStream | undefined): Promise<void> {
    const consultationId = this.id;
    const reply = await this.signaling.request<{ producers: ConsultationProducer[] }>('joinConsultation', { consultationId });
    this.recv = this.device.createRecvTransport(
      await this.signaling.request<TransportReply>('createTransport', { direction: 'recv', consultationId }),
    );
    this.wire(this.recv);
    if (stream) {
      this.send = this.device.createSendTransport(
        await this.signaling.request<TransportReply>('createTransport', { direction: 'send', consultationId }),
      );
      this.wire(this.send);
      this.send.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.signaling
          .request<{ id: string }>('produce', { transportId: this.send!.id, kind, rtpParameters, source: appData.source, consultationId })
          .then(({ id }) => callback({ id }), errback);
      });
      for (const track of stream.getTracks()) {
        this.producers.push(
          await this.send.produce({ track, stopTracks: false, appData: { source: track.kind === 'audio' ? 'mic' : 'camera' } }),
        );
      }
    }
    // The other member's producers: those there when this member joined, and those announced meanwhile
    // (the other member producing while this page was still making its transports).
    await Promise.all([...reply.producers, ...this.early.splice(0)].map((p) => this.consume(p)));
  }

  async consume(p: ConsultationProducer): Promise<void> {
    const transport = this.recv;
    if (this.closed || this.asked.has(p.producerId)) return;
    if (!transport) {
      this.early.push(p);
      return;
    }
    this.asked.add(p.producerId);
    const reply = await this.signaling.request<{
      id: string;
      producerId: string;
      kind: 'audio' | 'video';
      rtpParameters: types.RtpParameters;
    }>('consume', {
      transportId: transport.id,
      producerId: p.producerId,
      rtpCapabilities: this.device.rtpCapabilities,
      consultationId: this.id,
    });
    const consumer = await transport.consume({
      id: reply.id,
      producerId: reply.producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters,
    });
    this.consumers.set(consumer.id, { consumer, participantId: p.participantId });
    ui.showTrack({ participantId: `consultation-${p.participantId}`, name: 'consultation', role: 'private' }, consumer.track);
    await this.signaling.request('resumeConsumer', { consumerId: consumer.id, consultationId: this.id });
  }

  close(): void {
    this.closed = true;
    this.send?.close();
    this.recv?.close();
    ui.removeTile(`consultation-${this.withId}`);
  }

  async stats(): Promise<{ participantId: string; kind: string; packetsReceived: number; framesDecoded: number }[]> {
    const out = [];
    for (const { consumer, participantId } of this.consumers.values()) {
      out.push({ participantId, kind: consumer.kind, ...(await inboundStats(consumer)) });
    }
    return out;
  }

  private wire(transport: types.Transport): void {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.signaling
        .request('connectTransport', { transportId: transport.id, dtlsParameters, consultationId: this.id })
        .then(() => callback(), errback);
    });
  }
}
