import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { MediaError } from './error.ts';
import type { PoolSlot } from './pool.ts';
import { ACTIVE_SPEAKER_INTERVAL_MS } from './config.ts';

export type Direction = 'send' | 'recv';
/** `interpretation`: an interpreter's voice on the interpretation channel (listeners choose it; the public stream never carries it). */
export type MediaSource = 'mic' | 'camera' | 'screen' | 'ingest' | 'interpretation';

export interface RoomConfig {
  listenIp: string;
  announcedIp?: string;
  /**
   * Retransmission of lost microphone packets (RTCP NACK for Opus, beside in-band FEC): a participant's
   * browser resends what the server asks for, and the server resends what a listener's browser asks for.
   * Off (`HEARING_OPUS_NACK=0`): audio is only repaired by FEC, as before (the loss benchmark's baseline).
   */
  opusNack?: boolean;
}

interface TransportEntry {
  transport: types.WebRtcTransport | types.PlainTransport;
  direction: Direction;
  kind: 'webrtc' | 'plain';
}

interface Peer {
  transports: Map<string, TransportEntry>;
  producers: Map<string, types.Producer>;
  consumers: Map<string, types.Consumer>;
}

export interface ProducerInfo {
  producerId: string;
  participantId: string;
  kind: types.MediaKind;
  source: MediaSource;
  paused: boolean;
}

interface RoomEvents {
  producerAdded: [info: ProducerInfo, producer: types.Producer];
  producerClosed: [info: { producerId: string; participantId: string }];
  /** A producer paused or resumed (a muted camera or microphone). */
  producerPaused: [info: { producerId: string; participantId: string; paused: boolean }];
  consumerClosed: [info: { consumerId: string; participantId: string; producerId: string }];
  activeSpeaker: [info: { participantId: string | null }];
  /** The room closed (hearing closed, or its worker died): every transport, producer and consumer is gone. */
  close: [];
}

/**
 * The media side of one hearing: a Router on one pool worker, the participants' transports,
 * producers and consumers, and an active-speaker observer. Every method takes the acting
 * participant and only ever touches that participant's own objects; consuming is limited to
 * producers of this room, so nothing crosses hearings.
 */
export class MediaRoom extends EventEmitter<RoomEvents> {
  private readonly peers = new Map<string, Peer>();
  private isClosed = false;
  /**
   * The room's lifetime, in the mediasoup style: `observer.on('close')` outlives the room's own
   * listeners (which are removed when it closes), so an owner can follow the room without being
   * called by hand.
   */
  readonly observer = new EventEmitter<{ close: [] }>();
  /** The worker process this room's router lives in (the slot may later hold a replacement). */
  readonly workerPid: number;

  constructor(
    readonly hearingId: string,
    readonly router: types.Router,
    readonly slot: PoolSlot,
    private readonly speakerObserver: types.ActiveSpeakerObserver,
    private readonly config: RoomConfig,
  ) {
    super();
    this.workerPid = slot.worker.pid;
    speakerObserver.on('dominantspeaker', ({ producer }) => {
      this.emit('activeSpeaker', { participantId: (producer.appData.participantId as string | undefined) ?? null });
    });
  }

  static async open(hearingId: string, router: types.Router, slot: PoolSlot, config: RoomConfig): Promise<MediaRoom> {
    const observer = await router.createActiveSpeakerObserver({ interval: ACTIVE_SPEAKER_INTERVAL_MS });
    return new MediaRoom(hearingId, router, slot, observer, config);
  }

  /**
   * What pages load their device with (and taps consume with). mediasoup always offers NACK for Opus; the
   * page asks its microphone for it only when these capabilities announce it, so without `opusNack` it is
   * taken out here.
   */
  get rtpCapabilities(): types.RtpCapabilities {
    const caps = this.router.rtpCapabilities;
    if (this.config.opusNack) return caps;
    return {
      ...caps,
      codecs: caps.codecs?.map((c) =>
        c.kind === 'audio' ? { ...c, rtcpFeedback: c.rtcpFeedback?.filter((f) => !(f.type === 'nack' && !f.parameter)) } : c,
      ),
    };
  }

  counts(): { transports: number; producers: number; consumers: number } {
    let transports = 0;
    let producers = 0;
    let consumers = 0;
    for (const peer of this.peers.values()) {
      transports += peer.transports.size;
      producers += peer.producers.size;
      consumers += peer.consumers.size;
    }
    return { transports, producers, consumers };
  }

  /** What one participant holds in this room (their resources are bounded by role in signaling). */
  peerCounts(participantId: string): { transports: number; producers: number; consumers: number } {
    const peer = this.peers.get(participantId);
    return { transports: peer?.transports.size ?? 0, producers: peer?.producers.size ?? 0, consumers: peer?.consumers.size ?? 0 };
  }

  producers(): ProducerInfo[] {
    const list: ProducerInfo[] = [];
    for (const [participantId, peer] of this.peers) {
      for (const producer of peer.producers.values()) {
        list.push({
          producerId: producer.id,
          participantId,
          kind: producer.kind,
          source: producer.appData.source as MediaSource,
          paused: producer.paused,
        });
      }
    }
    return list;
  }

  async createWebRtcTransport(participantId: string, direction: Direction): Promise<types.WebRtcTransport> {
    const transport = await this.router.createWebRtcTransport({
      listenIps: [{ ip: this.config.listenIp, announcedIp: this.config.announcedIp }],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { participantId, direction },
    });
    this.track(participantId, { transport, direction, kind: 'webrtc' });
    // The participant's media moved to another path (a phone on another network, after an ICE restart):
    // the pictures that crossed the gap are asked for whole at once, not when each decoder asks again.
    let selected = false;
    transport.on('iceselectedtuplechange', () => {
      if (selected) this.pathChanged(participantId, direction);
      selected = true;
    });
    return transport;
  }

  /**
   * Key frames after `participantId`'s `direction` transport changed path: of every camera they receive,
   * or of their own cameras for everybody (and every tap) that receives them.
   */
  private pathChanged(participantId: string, direction: Direction): void {
    const own = new Set([...(this.peers.get(participantId)?.producers.values() ?? [])].map((p) => p.id));
    const consumers =
      direction === 'recv'
        ? [...(this.peers.get(participantId)?.consumers.values() ?? [])]
        : [...this.peers.values()].flatMap((peer) => [...peer.consumers.values()].filter((c) => own.has(c.producerId)));
    for (const consumer of consumers) {
      if (consumer.kind === 'video' && !consumer.closed) consumer.requestKeyFrame().catch(() => undefined);
    }
  }

  /** RTP in or out without ICE/DTLS: ingest from a SIP gateway or a test, taps for recorder/ASR. */
  async createPlainTransport(
    participantId: string,
    direction: Direction,
    options: { comedia?: boolean; rtcpMux?: boolean } = {},
  ): Promise<types.PlainTransport> {
    const transport = await this.router.createPlainTransport({
      listenIp: { ip: this.config.listenIp, announcedIp: this.config.announcedIp },
      rtcpMux: options.rtcpMux ?? true,
      comedia: options.comedia ?? false,
      appData: { participantId, direction },
    });
    this.track(participantId, { transport, direction, kind: 'plain' });
    return transport;
  }

  async connectWebRtcTransport(participantId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const entry = this.transportOf(participantId, transportId);
    if (entry.kind !== 'webrtc') throw new MediaError('bad_request', 'not a WebRTC transport');
    await (entry.transport as types.WebRtcTransport).connect({ dtlsParameters });
  }

  async connectPlainTransport(
    participantId: string,
    transportId: string,
    remote: { ip: string; port: number; rtcpPort?: number },
  ): Promise<void> {
    const entry = this.transportOf(participantId, transportId);
    if (entry.kind !== 'plain') throw new MediaError('bad_request', 'not a plain transport');
    await (entry.transport as types.PlainTransport).connect(remote);
  }

  async restartIce(participantId: string, transportId: string): Promise<types.IceParameters> {
    const entry = this.transportOf(participantId, transportId);
    if (entry.kind !== 'webrtc') throw new MediaError('bad_request', 'not a WebRTC transport');
    return (entry.transport as types.WebRtcTransport).restartIce();
  }

  async produce(
    participantId: string,
    transportId: string,
    kind: types.MediaKind,
    rtpParameters: types.RtpParameters,
    source: MediaSource,
  ): Promise<types.Producer> {
    const entry = this.transportOf(participantId, transportId);
    if (entry.direction !== 'send') throw new MediaError('bad_request', 'transport is not a send transport');
    const peer = this.peerOf(participantId);
    for (const existing of peer.producers.values()) {
      if (existing.appData.source === source && source !== 'ingest') {
        throw new MediaError('bad_request', `already producing ${source}`);
      }
    }
    const producer = await entry.transport.produce({ kind, rtpParameters, appData: { participantId, source } });
    return this.register(participantId, producer, source);
  }

  /**
   * A pipe between this router and another node's (a hearing's gallery served from a second node): RTP
   * with NACK both ways, on this room's address. Not any participant's; its owner closes it.
   */
  createPipeTransport(): Promise<types.PipeTransport> {
    return this.router.createPipeTransport({
      listenIp: { ip: this.config.listenIp, announcedIp: this.config.announcedIp },
      enableRtx: true,
    });
  }

  /**
   * A producer of another node's room arriving over `pipe` (same id, as the other node's consumer of it
   * describes it): here it is `participantId`'s, to be consumed like a producer of their own transports.
   */
  async pipeIn(
    pipe: types.PipeTransport,
    info: { producerId: string; participantId: string; kind: types.MediaKind; source: MediaSource; paused: boolean },
    rtpParameters: types.RtpParameters,
  ): Promise<types.Producer> {
    const producer = await pipe.produce({
      id: info.producerId,
      kind: info.kind,
      rtpParameters,
      paused: info.paused,
      appData: { participantId: info.participantId, source: info.source },
    });
    return this.register(info.participantId, producer, info.source);
  }

  private async register(participantId: string, producer: types.Producer, source: MediaSource): Promise<types.Producer> {
    const { kind } = producer;
    const peer = this.peerOf(participantId);
    peer.producers.set(producer.id, producer);
    producer.observer.once('close', () => {
      peer.producers.delete(producer.id);
      if (!this.isClosed) this.emit('producerClosed', { producerId: producer.id, participantId });
    });
    producer.observer.on('pause', () => this.emit('producerPaused', { producerId: producer.id, participantId, paused: true }));
    producer.observer.on('resume', () => this.emit('producerPaused', { producerId: producer.id, participantId, paused: false }));
    if (kind === 'audio') {
      await this.speakerObserver.addProducer({ producerId: producer.id }).catch(() => undefined);
    }
    this.emit('producerAdded', { producerId: producer.id, participantId, kind, source, paused: producer.paused }, producer);
    return producer;
  }

  async consume(
    participantId: string,
    transportId: string,
    producerId: string,
    rtpCapabilities: types.RtpCapabilities,
    /**
     * Start paused (WebRTC consumers always do: the client resumes once it is ready). A server-side tap
     * starts paused until its PlainTransport is connected: a video consumer asks for a key frame when it
     * starts sending, and one that arrives before the transport has a destination is wasted (the camera
     * then throttles the next request, and mediasoup re-asks only after a second).
     */
    options: { paused?: boolean } = {},
  ): Promise<types.Consumer> {
    const entry = this.transportOf(participantId, transportId);
    if (entry.direction !== 'recv') throw new MediaError('bad_request', 'transport is not a receive transport');
    const owner = this.ownerOfProducer(producerId);
    if (!owner) throw new MediaError('not_found', 'no such producer in this hearing');
    if (owner === participantId) throw new MediaError('bad_request', 'cannot consume your own producer');
    if (!this.router.canConsume({ producerId, rtpCapabilities })) {
      throw new MediaError('bad_request', 'rtpCapabilities cannot consume this producer');
    }
    const consumer = await entry.transport.consume({
      producerId,
      rtpCapabilities,
      paused: options.paused ?? entry.kind === 'webrtc',
      // A listener's browser that asks again for a lost microphone packet gets it (video always does).
      ...(entry.kind === 'webrtc' && this.config.opusNack ? { enableRtx: true } : {}),
      appData: { participantId },
    });
    const peer = this.peerOf(participantId);
    peer.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => peer.consumers.delete(consumer.id));
    consumer.on('producerclose', () => {
      consumer.close();
      if (!this.isClosed) this.emit('consumerClosed', { consumerId: consumer.id, participantId, producerId });
    });
    return consumer;
  }

  producerOf(participantId: string, producerId: string): types.Producer {
    const producer = this.peerOf(participantId).producers.get(producerId);
    if (!producer) throw new MediaError('not_found', 'no such producer of yours');
    return producer;
  }

  consumerOf(participantId: string, consumerId: string): types.Consumer {
    const consumer = this.peerOf(participantId).consumers.get(consumerId);
    if (!consumer) throw new MediaError('not_found', 'no such consumer of yours');
    return consumer;
  }

  /**
   * Closes every consumer of `producerId` held by a participant `whose` answers true for (e.g. viewers
   * once the producer's owner is protected); each owner is told with `consumerClosed`.
   */
  closeConsumersOf(producerId: string, whose: (participantId: string) => boolean): number {
    let closed = 0;
    for (const [participantId, peer] of this.peers) {
      if (!whose(participantId)) continue;
      for (const consumer of [...peer.consumers.values()]) {
        if (consumer.producerId !== producerId) continue;
        consumer.close();
        closed++;
        this.emit('consumerClosed', { consumerId: consumer.id, participantId, producerId });
      }
    }
    return closed;
  }

  /** Any producer of the room, for server-side taps (recorder, transcriber, tests). */
  findProducer(producerId: string): types.Producer | undefined {
    for (const peer of this.peers.values()) {
      const producer = peer.producers.get(producerId);
      if (producer) return producer;
    }
    return undefined;
  }

  closeTransport(participantId: string, transportId: string): void {
    this.transportOf(participantId, transportId).transport.close();
  }

  /** Drops everything a participant has (leave, disconnect, or a fresh join replacing an old one). */
  removePeer(participantId: string): void {
    const peer = this.peers.get(participantId);
    if (!peer) return;
    for (const entry of peer.transports.values()) entry.transport.close();
    this.peers.delete(participantId);
  }

  /** The participant's consumers (what each receives, and at which simulcast layer). */
  consumersOf(participantId: string): types.Consumer[] {
    return [...(this.peers.get(participantId)?.consumers.values() ?? [])];
  }

  /** Whether the participant still holds every one of these transports (a page resuming after a drop). */
  holdsTransports(participantId: string, transportIds: readonly string[]): boolean {
    const peer = this.peers.get(participantId);
    return !!peer && transportIds.every((id) => peer.transports.get(id)?.transport.closed === false);
  }

  /** Whether the participant has a transport of this direction here. */
  hasTransport(participantId: string, direction: Direction): boolean {
    return [...(this.peers.get(participantId)?.transports.values() ?? [])].some((e) => e.direction === direction && !e.transport.closed);
  }

  hasPeer(participantId: string): boolean {
    return this.peers.has(participantId);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.peers.clear();
    this.router.close();
    this.emit('close');
    this.removeAllListeners();
    this.observer.emit('close');
    this.observer.removeAllListeners();
  }

  private ownerOfProducer(producerId: string): string | undefined {
    for (const [participantId, peer] of this.peers) if (peer.producers.has(producerId)) return participantId;
    return undefined;
  }

  private peerOf(participantId: string): Peer {
    let peer = this.peers.get(participantId);
    if (!peer) {
      peer = { transports: new Map(), producers: new Map(), consumers: new Map() };
      this.peers.set(participantId, peer);
    }
    return peer;
  }

  private track(participantId: string, entry: TransportEntry): void {
    const peer = this.peerOf(participantId);
    const { transport } = entry;
    peer.transports.set(transport.id, entry);
    (transport.observer as types.Transport['observer']).once('close', () => peer.transports.delete(transport.id));
  }

  private transportOf(participantId: string, transportId: string): TransportEntry {
    const entry = this.peers.get(participantId)?.transports.get(transportId);
    if (!entry) throw new MediaError('not_found', 'no such transport of yours');
    return entry;
  }
}
