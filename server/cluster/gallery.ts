// A hearing larger than a node (cluster mode): once the hosting node serves HEARING_GALLERY_AFTER viewers
// of a hearing, the next viewers' media are served by a second node. The hosting node pipes each
// producer a viewer may see to that node once (a mediasoup PipeTransport between the two routers, RTP with
// NACK), and the second node forwards it to every viewer placed there: the hosting node's media worker
// sends one copy per producer instead of one per viewer.
//
// Signaling stays on the hosting node (a socket costs little; the media are what fill a node): the
// viewer's page talks to it as to any participant, and only its WebRTC transport lives on the gallery
// node (its ICE candidates are that node's address). The hosting node asks the gallery node over HTTP
// (the cluster's API key, `POST /api/v1/internal/gallery`); the gallery node tells the host when it lost
// the gallery (its worker died), and the host watches that the gallery node is alive. Either way the
// gallery's viewers are told `mediaReset` and join again (here, or on another node), and the hearing's
// record has it.
import { z } from 'zod';
import type { types } from 'mediasoup';
import { AppError } from '../http/errors.ts';
import type { MediaPlane } from '../../workers/media/plane.ts';
import type { MediaRoom, MediaSource, ProducerInfo } from '../../workers/media/room.ts';

/** Where a viewer's courtroom media are handled: the hearing's room on this node, or its gallery on another. */
export interface ViewerMedia {
  peerCounts(participantId: string): { transports: number; consumers: number };
  createWebRtcTransport(
    participantId: string,
    direction: 'send' | 'recv',
    /** Until when the participant's TURN credentials for it are good (their token's expiry, unix seconds). */
    expiresAt?: number,
  ): Promise<{
    id: string;
    iceParameters: unknown;
    iceCandidates: unknown;
    dtlsParameters: unknown;
    /** TURN servers and policy of the node the transport is on, when it is not this one. */
    ice?: Record<string, unknown>;
  }>;
  connectWebRtcTransport(participantId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void>;
  restartIce(participantId: string, transportId: string): Promise<types.IceParameters>;
  consume(
    participantId: string,
    transportId: string,
    producerId: string,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<{
    id: string;
    kind: types.MediaKind;
    rtpParameters: types.RtpParameters;
    appData: Record<string, unknown>;
    setPriority(priority: number): Promise<void>;
  }>;
  consumerOf(
    participantId: string,
    consumerId: string,
  ): { resume(): Promise<void>; setPreferredLayers(layers: { spatialLayer: number; temporalLayer?: number }): Promise<void> };
  removePeer(participantId: string): void;
  holdsTransports(participantId: string, transportIds: readonly string[]): boolean;
  hasPeer(participantId: string): boolean;
}

/** After a gallery could not be opened for a hearing, how long its viewers are served by its node before another try. */
export const GALLERY_RETRY_MS = 10_000;

const id = z.string().min(1).max(128);
const nodeId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);
/** mediasoup's own parameters, checked by mediasoup on the gallery node (the caller is a node with the API key). */
const parameters = z.record(z.string(), z.unknown());
const SOURCES = ['mic', 'camera', 'screen', 'ingest', 'interpretation'] as const satisfies readonly MediaSource[];

export const galleryMessage = z.discriminatedUnion('op', [
  // Host → gallery node.
  z.strictObject({
    op: z.literal('open'),
    hearingId: id,
    host: nodeId,
    ip: z.string().min(1).max(64),
    port: z.number().int().min(1).max(65535),
  }),
  z.strictObject({
    op: z.literal('pipeIn'),
    hearingId: id,
    producerId: id,
    participantId: id,
    kind: z.enum(['audio', 'video']),
    source: z.enum(SOURCES),
    paused: z.boolean(),
    rtpParameters: parameters,
  }),
  z.strictObject({ op: z.literal('producer'), hearingId: id, producerId: id, action: z.enum(['pause', 'resume', 'close']) }),
  z.strictObject({ op: z.literal('transport'), hearingId: id, viewerId: id, expiresAt: z.number().int().positive().optional() }),
  z.strictObject({ op: z.literal('connectTransport'), hearingId: id, viewerId: id, transportId: id, dtlsParameters: parameters }),
  z.strictObject({ op: z.literal('restartIce'), hearingId: id, viewerId: id, transportId: id }),
  z.strictObject({ op: z.literal('consume'), hearingId: id, viewerId: id, transportId: id, producerId: id, rtpCapabilities: parameters }),
  z.strictObject({
    op: z.literal('consumer'),
    hearingId: id,
    viewerId: id,
    consumerId: id,
    action: z.enum(['resume', 'layers', 'priority', 'close']),
    spatialLayer: z.number().int().min(0).max(3).optional(),
    temporalLayer: z.number().int().min(0).max(3).optional(),
    priority: z.number().int().min(1).max(255).optional(),
  }),
  z.strictObject({ op: z.literal('drop'), hearingId: id, viewerId: id }),
  z.strictObject({ op: z.literal('close'), hearingId: id }),
  // Gallery node → host.
  z.strictObject({ op: z.literal('lost'), hearingId: id, node: nodeId, reason: z.string().max(300) }),
]);
export type GalleryMessage = z.infer<typeof galleryMessage>;

/** A call to another node's gallery endpoint; its refusal comes back as the same error. */
export type GalleryCall = (url: string, message: GalleryMessage) => Promise<Record<string, unknown>>;

export function galleryCall(apiKey: string, timeoutMs = 5000): GalleryCall {
  return async (url, message) => {
    let r: Response;
    try {
      r = await fetch(new URL('/api/v1/internal/gallery', url), {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(message),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new AppError(502, 'gallery_unreachable', `the gallery node at ${url} did not answer: ${(error as Error).message}`);
    }
    const body = (await r.json().catch(() => ({}))) as { error?: { code?: string; message?: string } } & Record<string, unknown>;
    if (!r.ok) {
      const status = r.status >= 500 ? 502 : r.status;
      throw new AppError(status, body.error?.code ?? 'gallery_failed', `the gallery node: ${body.error?.message ?? `HTTP ${r.status}`}`);
    }
    return body;
  };
}

// ---------------------------------------------------------------------------------------------------
// The gallery node's side.

interface Gallery {
  host: string;
  room: MediaRoom;
  pipe: types.PipeTransport;
  viewers: Set<string>;
}

export interface GalleryEdgeOptions {
  plane: MediaPlane;
  nodeId: string;
  /** Whether the hosting node still holds the hearing (alive, and still its host). */
  stillHosts: (host: string, hearingId: string) => Promise<boolean>;
  /** Tells the hosting node its gallery is gone (its viewers then join again). */
  tellLost: (host: string, hearingId: string, reason: string) => Promise<void>;
  /** This node's TURN servers and policy for a participant (its own TURN relays to its own media address only). */
  iceFor: (participantId: string, expiresAt: number) => Record<string, unknown>;
  log: (line: string) => void;
}

/** The galleries this node serves for hearings hosted elsewhere. */
export class GalleryEdge {
  private readonly galleries = new Map<string, Gallery>();
  private readonly timer: NodeJS.Timeout;
  private checking = false;

  constructor(private readonly o: GalleryEdgeOptions) {
    const dead = ({ deadPid, error }: { deadPid: number; error: string }) => {
      for (const [hearingId, g] of this.galleries)
        if (g.room.workerPid === deadPid) this.lose(hearingId, `media worker ${deadPid} of node ${o.nodeId} died: ${error}`);
    };
    o.plane.pool.on('workerReplaced', dead);
    o.plane.pool.on('workerLost', dead);
    // A gallery whose host died (or whose hearing moved) has nobody to feed it: its viewers' pages follow the
    // hearing to its new host by themselves, and the gallery goes.
    this.timer = setInterval(() => void this.sweep(), 3000);
    this.timer.unref();
  }

  /** Galleries served here, their viewers and transports (this node's load). */
  counts(): { galleries: number; viewers: number; transports: number } {
    let viewers = 0;
    let transports = 0;
    for (const g of this.galleries.values()) {
      viewers += g.viewers.size;
      transports += g.room.counts().transports + 1;
    }
    return { galleries: this.galleries.size, viewers, transports };
  }

  async handle(m: Exclude<GalleryMessage, { op: 'lost' }>): Promise<Record<string, unknown>> {
    if (m.op === 'open') return this.open(m.hearingId, m.host, m.ip, m.port);
    const g = this.galleries.get(m.hearingId);
    if (!g) throw new AppError(404, 'no_gallery', `this node serves no gallery of hearing ${m.hearingId}`);
    switch (m.op) {
      case 'pipeIn':
        await g.room.pipeIn(g.pipe, m, m.rtpParameters as unknown as types.RtpParameters);
        return {};
      case 'producer': {
        const producer = g.room.findProducer(m.producerId);
        if (!producer) return {};
        if (m.action === 'close') producer.close();
        else await (m.action === 'pause' ? producer.pause() : producer.resume());
        return {};
      }
      case 'transport': {
        g.viewers.add(m.viewerId);
        const t = await g.room.createWebRtcTransport(m.viewerId, 'recv');
        return {
          id: t.id,
          iceParameters: t.iceParameters,
          iceCandidates: t.iceCandidates,
          dtlsParameters: t.dtlsParameters,
          ice: this.o.iceFor(m.viewerId, m.expiresAt ?? Math.floor(Date.now() / 1000) + 3600),
        };
      }
      case 'connectTransport':
        await g.room.connectWebRtcTransport(m.viewerId, m.transportId, m.dtlsParameters as unknown as types.DtlsParameters);
        return {};
      case 'restartIce':
        return { iceParameters: await g.room.restartIce(m.viewerId, m.transportId) };
      case 'consume': {
        const c = await g.room.consume(m.viewerId, m.transportId, m.producerId, m.rtpCapabilities as types.RtpCapabilities);
        return { id: c.id, kind: c.kind, rtpParameters: c.rtpParameters };
      }
      case 'consumer': {
        const c = g.room.consumerOf(m.viewerId, m.consumerId);
        if (m.action === 'resume') await c.resume();
        else if (m.action === 'close') c.close();
        else if (m.action === 'priority') await c.setPriority(m.priority ?? 1);
        else
          await c.setPreferredLayers({
            spatialLayer: m.spatialLayer ?? 0,
            ...(m.temporalLayer === undefined ? {} : { temporalLayer: m.temporalLayer }),
          });
        return {};
      }
      case 'drop':
        g.room.removePeer(m.viewerId);
        g.viewers.delete(m.viewerId);
        return {};
      case 'close':
        this.close(m.hearingId, 'closed by its host');
        return {};
    }
  }

  /**
   * The node stops: each host is told first (its viewers join again elsewhere while their media still
   * flow here), then the galleries close.
   */
  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    const reason = `node ${this.o.nodeId} is stopping`;
    await Promise.all(
      [...this.galleries].map(async ([hearingId, g]) => {
        await this.o
          .tellLost(g.host, hearingId, reason)
          .catch((error: Error) => this.o.log(`[gallery] telling ${g.host}: ${error.message}`));
        if (this.galleries.get(hearingId) === g) this.close(hearingId, reason);
      }),
    );
  }

  private async open(hearingId: string, host: string, ip: string, port: number): Promise<Record<string, unknown>> {
    // The host opens again (it had lost this one): the old gallery goes first.
    this.close(hearingId, 'opened again by its host');
    const room = await this.o.plane.detachedRoom(`gallery:${hearingId}`);
    try {
      const pipe = await room.createPipeTransport();
      await pipe.connect({ ip, port });
      this.galleries.set(hearingId, { host, room, pipe, viewers: new Set() });
      this.o.log(`[gallery] serving the gallery of hearing ${hearingId} for node ${host} (worker ${room.workerPid})`);
      return { ip: pipe.tuple.localIp, port: pipe.tuple.localPort, workerPid: room.workerPid };
    } catch (error) {
      room.close();
      throw error;
    }
  }

  private close(hearingId: string, reason: string): void {
    const g = this.galleries.get(hearingId);
    if (!g) return;
    this.galleries.delete(hearingId);
    g.room.close();
    this.o.log(`[gallery] the gallery of hearing ${hearingId} closed: ${reason} (${g.viewers.size} viewer(s))`);
  }

  private lose(hearingId: string, reason: string): void {
    const g = this.galleries.get(hearingId);
    if (!g) return;
    this.close(hearingId, reason);
    void this.o.tellLost(g.host, hearingId, reason).catch((error: Error) => this.o.log(`[gallery] telling ${g.host}: ${error.message}`));
  }

  private async sweep(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const [hearingId, g] of [...this.galleries]) {
        const hosts = await this.o.stillHosts(g.host, hearingId).catch(() => true); // Redis away: keep it
        if (!hosts && this.galleries.get(hearingId) === g) this.close(hearingId, `node ${g.host} no longer hosts the hearing`);
      }
    } finally {
      this.checking = false;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The hosting node's side.

interface Viewer {
  transports: Set<string>;
  /** consumer id → producer id */
  consumers: Map<string, string>;
}

export interface GalleryHostOptions {
  nodeId: string;
  /** Viewers of one hearing this node serves itself before the next go to a gallery node (0: never). */
  after: number;
  call: GalleryCall;
  /** The node to serve a gallery (live, not draining, not this one, least busy), if any. */
  pickNode: () => Promise<{ id: string; url: string } | undefined>;
  alive: (nodeId: string) => Promise<boolean>;
  /**
   * Whether this participant may receive this producer now (a viewer does not get a participant's picture
   * protected from the public; a lawyer does). A producer nobody in the gallery may receive is not piped.
   */
  mayReceive: (hearingId: string, participantId: string, producer: ProducerInfo) => boolean;
  /** A line in the hearing's record. */
  record: (hearingId: string, action: string, detail: Record<string, unknown>) => void;
  /** The gallery is gone: these viewers' pages join again. */
  reset: (hearingId: string, viewers: string[]) => void;
  /** A viewer's consumer ended (its producer closed, or it became hidden). */
  consumerClosed: (info: { consumerId: string; participantId: string; producerId: string }) => void;
  log: (line: string) => void;
}

/** One hearing's gallery on another node, as its hosting node holds it. */
class Link implements ViewerMedia {
  readonly viewers = new Map<string, Viewer>();
  readonly pipes = new Map<string, types.Consumer>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly watch: NodeJS.Timeout;

  constructor(
    readonly hearingId: string,
    readonly node: { id: string; url: string },
    readonly room: MediaRoom,
    private readonly pipe: types.PipeTransport,
    private readonly o: GalleryHostOptions,
    private readonly ended: (link: Link, reason: string, lost: boolean) => void,
  ) {
    room.on('producerAdded', (info) => this.sync(info));
    room.observer.once('close', () => this.end('the hearing’s media closed here', false));
    let asking = false;
    this.watch = setInterval(() => {
      if (asking) return;
      asking = true;
      void o
        .alive(node.id)
        .then((alive) => !alive && this.end(`node ${node.id} is gone`, true))
        .catch(() => undefined) // Redis away: nothing known
        .finally(() => (asking = false));
    }, 2000);
    this.watch.unref();
  }

  /**
   * Pipes every producer someone in the gallery may receive now, stops piping those nobody may, and ends
   * the consumers of those a participant may no longer receive.
   */
  sync(only?: ProducerInfo): void {
    if (this.closed) return;
    const list = only ? [only] : this.room.producers();
    const may = (participantId: string, p: ProducerInfo) => this.o.mayReceive(this.hearingId, participantId, p);
    for (const p of list) {
      const piped = this.pipes.has(p.producerId);
      const wanted = this.wanted(p);
      if (wanted && !piped) this.enqueue(() => this.pipeOut(p));
      if (!wanted && piped) this.unpipe(p.producerId);
    }
    for (const [participantId, v] of this.viewers)
      for (const [consumerId, producerId] of [...v.consumers]) {
        const p = list.find((x) => x.producerId === producerId);
        if (!p || may(participantId, p)) continue;
        v.consumers.delete(consumerId);
        this.send({ op: 'consumer', hearingId: this.hearingId, viewerId: participantId, consumerId, action: 'close' });
        this.o.consumerClosed({ consumerId, participantId, producerId });
      }
  }

  /** Whether someone in the gallery (other than its owner) may receive the producer. */
  private wanted(p: ProducerInfo): boolean {
    return [...this.viewers.keys()].some((v) => v !== p.participantId && this.o.mayReceive(this.hearingId, v, p));
  }

  private async pipeOut(p: ProducerInfo): Promise<void> {
    // Asked again when its turn comes: who is in the gallery, and what they may see, may have changed.
    if (this.closed || this.pipes.has(p.producerId) || !this.room.findProducer(p.producerId) || !this.wanted(p)) return;
    const consumer = await this.pipe.consume({ producerId: p.producerId });
    this.pipes.set(p.producerId, consumer);
    consumer.on('producerpause', () => this.send({ op: 'producer', hearingId: this.hearingId, producerId: p.producerId, action: 'pause' }));
    consumer.on('producerresume', () =>
      this.send({ op: 'producer', hearingId: this.hearingId, producerId: p.producerId, action: 'resume' }),
    );
    consumer.on('producerclose', () => this.unpipe(p.producerId));
    await this.o.call(this.node.url, {
      op: 'pipeIn',
      hearingId: this.hearingId,
      producerId: p.producerId,
      participantId: p.participantId,
      kind: p.kind,
      source: p.source,
      paused: consumer.producerPaused,
      rtpParameters: consumer.rtpParameters as unknown as Record<string, unknown>,
    });
  }

  /** The producer no longer reaches the gallery: its viewers' consumers of it end. */
  private unpipe(producerId: string): void {
    const consumer = this.pipes.get(producerId);
    if (!consumer) return;
    this.pipes.delete(producerId);
    consumer.close();
    this.send({ op: 'producer', hearingId: this.hearingId, producerId, action: 'close' });
    for (const [participantId, v] of this.viewers)
      for (const [consumerId, of] of [...v.consumers])
        if (of === producerId) {
          v.consumers.delete(consumerId);
          this.o.consumerClosed({ consumerId, participantId, producerId });
        }
  }

  /** In order after what was asked before (a producer's pause after its piping). */
  private enqueue(step: () => Promise<unknown>): void {
    this.queue = this.queue.then(step).catch((error: Error) => this.end(`node ${this.node.id} did not answer: ${error.message}`, true));
  }

  private send(message: GalleryMessage): void {
    this.enqueue(() => this.o.call(this.node.url, message));
  }

  private viewer(participantId: string): Viewer {
    const v = this.viewers.get(participantId);
    if (!v) throw new AppError(404, 'not_found', 'no media of yours in the gallery');
    return v;
  }

  add(participantId: string): void {
    if (this.viewers.has(participantId)) return;
    this.viewers.set(participantId, { transports: new Set(), consumers: new Map() });
    // What they may receive and nobody before them might (a lawyer: a protected picture).
    this.sync();
  }

  // ViewerMedia: each asks the gallery node, after the pipings asked before it.
  private async ask(message: GalleryMessage): Promise<Record<string, unknown>> {
    await this.queue;
    if (this.closed) throw new AppError(409, 'gallery_closed', 'the gallery serving your media closed: join again');
    return this.o.call(this.node.url, message);
  }

  peerCounts(participantId: string): { transports: number; consumers: number } {
    const v = this.viewers.get(participantId);
    return { transports: v?.transports.size ?? 0, consumers: v?.consumers.size ?? 0 };
  }

  async createWebRtcTransport(participantId: string, _direction: 'send' | 'recv', expiresAt?: number) {
    this.add(participantId);
    const t = (await this.ask({
      op: 'transport',
      hearingId: this.hearingId,
      viewerId: participantId,
      ...(expiresAt ? { expiresAt: Math.floor(expiresAt) } : {}),
    })) as {
      id: string;
      iceParameters: unknown;
      iceCandidates: unknown;
      dtlsParameters: unknown;
      ice: Record<string, unknown>;
    };
    this.viewer(participantId).transports.add(t.id);
    return t;
  }

  async connectWebRtcTransport(participantId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    this.viewer(participantId);
    await this.ask({
      op: 'connectTransport',
      hearingId: this.hearingId,
      viewerId: participantId,
      transportId,
      dtlsParameters: dtlsParameters as unknown as Record<string, unknown>,
    });
  }

  async restartIce(participantId: string, transportId: string): Promise<types.IceParameters> {
    this.viewer(participantId);
    const r = await this.ask({ op: 'restartIce', hearingId: this.hearingId, viewerId: participantId, transportId });
    return r.iceParameters as types.IceParameters;
  }

  async consume(participantId: string, transportId: string, producerId: string, rtpCapabilities: types.RtpCapabilities) {
    const v = this.viewer(participantId);
    const owner = this.room.producers().find((p) => p.producerId === producerId);
    if (!owner) throw new AppError(404, 'not_found', 'no such producer in this hearing');
    const r = (await this.ask({
      op: 'consume',
      hearingId: this.hearingId,
      viewerId: participantId,
      transportId,
      producerId,
      rtpCapabilities: rtpCapabilities as unknown as Record<string, unknown>,
    })) as { id: string; kind: types.MediaKind; rtpParameters: types.RtpParameters };
    v.consumers.set(r.id, producerId);
    return {
      ...r,
      appData: { participantId: owner.participantId } as Record<string, unknown>,
      setPriority: async (priority: number) => {
        await this.ask({
          op: 'consumer',
          hearingId: this.hearingId,
          viewerId: participantId,
          consumerId: r.id,
          action: 'priority',
          priority,
        });
      },
    };
  }

  consumerOf(participantId: string, consumerId: string) {
    if (!this.viewer(participantId).consumers.has(consumerId)) throw new AppError(404, 'not_found', 'no such consumer of yours');
    const base = { hearingId: this.hearingId, viewerId: participantId, consumerId } as const;
    return {
      resume: async () => void (await this.ask({ op: 'consumer', ...base, action: 'resume' })),
      setPreferredLayers: async (l: { spatialLayer: number; temporalLayer?: number }) =>
        void (await this.ask({ op: 'consumer', ...base, action: 'layers', ...l })),
    };
  }

  removePeer(participantId: string): void {
    if (!this.viewers.delete(participantId)) return;
    this.send({ op: 'drop', hearingId: this.hearingId, viewerId: participantId });
    this.sync();
  }

  holdsTransports(participantId: string, transportIds: readonly string[]): boolean {
    const v = this.viewers.get(participantId);
    return !!v && transportIds.every((t) => v.transports.has(t));
  }

  hasPeer(participantId: string): boolean {
    return this.viewers.has(participantId);
  }

  end(reason: string, lost: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watch);
    this.pipe.close();
    this.pipes.clear();
    if (!lost) void this.o.call(this.node.url, { op: 'close', hearingId: this.hearingId }).catch(() => undefined);
    this.ended(this, reason, lost);
  }
}

/** The galleries this node's hearings have on other nodes. */
export class GalleryHost {
  private readonly links = new Map<string, Link>();
  private readonly opening = new Map<string, Promise<Link | undefined>>();
  /** When opening a gallery last failed, per hearing (not asked again for a while). */
  private readonly failedAt = new Map<string, number>();

  constructor(private readonly o: GalleryHostOptions) {}

  /** The participant's media in the hearing's gallery on another node, if they have any there. */
  of(hearingId: string, participantId: string): ViewerMedia | undefined {
    const link = this.links.get(hearingId);
    return link?.hasPeer(participantId) ? link : undefined;
  }

  /** The gallery, if this transport of the participant is there (their other transports stay on the host). */
  forTransport(hearingId: string, participantId: string, transportId: string): ViewerMedia | undefined {
    const link = this.links.get(hearingId);
    return link?.holdsTransports(participantId, [transportId]) ? link : undefined;
  }

  /** The gallery, if this consumer of the participant is there. */
  forConsumer(hearingId: string, participantId: string, consumerId: string): ViewerMedia | undefined {
    const link = this.links.get(hearingId);
    return link?.viewers.get(participantId)?.consumers.has(consumerId) ? link : undefined;
  }

  /**
   * Where a gallery participant's new receive transport goes: the hearing's room here while it serves
   * fewer than `after` of them, else its gallery on another node (opened the first time). No node to
   * take it: here.
   */
  async place(hearingId: string, participantId: string, room: MediaRoom, servedHere: number): Promise<ViewerMedia> {
    const existing = this.of(hearingId, participantId);
    if (existing) return existing;
    if (this.o.after <= 0 || servedHere < this.o.after || room.hasTransport(participantId, 'recv')) return room;
    const link = await this.open(hearingId, room);
    if (!link) return room;
    link.add(participantId);
    return link;
  }

  /** The viewer's media in the gallery go (they left, or join afresh). */
  drop(hearingId: string, participantId: string): void {
    this.links.get(hearingId)?.removePeer(participantId);
  }

  /** Who may see what changed (a participant protected from the public, or no longer). */
  resync(hearingId: string): void {
    this.links.get(hearingId)?.sync();
  }

  /** The gallery node says it lost the gallery. */
  lost(hearingId: string, node: string, reason: string): boolean {
    const link = this.links.get(hearingId);
    if (!link || link.node.id !== node) return false;
    link.end(reason, true);
    return true;
  }

  /** Galleries of this node's hearings elsewhere: hearing → node and viewers. */
  status(): { hearingId: string; node: string; viewers: number; piped: number }[] {
    return [...this.links.values()].map((l) => ({ hearingId: l.hearingId, node: l.node.id, viewers: l.viewers.size, piped: l.pipes.size }));
  }

  closeAll(): void {
    for (const link of [...this.links.values()]) link.end('node stopping', false);
  }

  private open(hearingId: string, room: MediaRoom): Promise<Link | undefined> {
    const existing = this.links.get(hearingId);
    if (existing) return Promise.resolve(existing);
    if (Date.now() - (this.failedAt.get(hearingId) ?? 0) < GALLERY_RETRY_MS) return Promise.resolve(undefined);
    let pending = this.opening.get(hearingId);
    if (!pending) {
      pending = this.connect(hearingId, room).finally(() => this.opening.delete(hearingId));
      this.opening.set(hearingId, pending);
    }
    return pending;
  }

  private async connect(hearingId: string, room: MediaRoom): Promise<Link | undefined> {
    const node = await this.o.pickNode().catch(() => undefined);
    if (!node) {
      this.failed(hearingId, 'no other node takes a gallery now');
      return undefined;
    }
    const pipe = await room.createPipeTransport();
    try {
      const r = await this.o.call(node.url, {
        op: 'open',
        hearingId,
        host: this.o.nodeId,
        ip: pipe.tuple.localIp,
        port: pipe.tuple.localPort,
      });
      await pipe.connect({ ip: String(r.ip), port: Number(r.port) });
      if (room.closed) throw new Error('the hearing’s media closed meanwhile');
      const link = new Link(hearingId, node, room, pipe, this.o, (l, reason, lost) => this.ended(l, reason, lost));
      this.links.set(hearingId, link);
      this.failedAt.delete(hearingId);
      this.o.record(hearingId, 'gallery.opened', { node: node.id, after: this.o.after, edgeWorkerPid: r.workerPid });
      link.sync();
      return link;
    } catch (error) {
      pipe.close();
      this.failed(hearingId, `node ${node.id}: ${(error as Error).message}`);
      return undefined;
    }
  }

  private failed(hearingId: string, reason: string): void {
    this.failedAt.set(hearingId, Date.now());
    // In the record: viewers beyond the node's share are served here after all.
    this.o.record(hearingId, 'gallery.unavailable', { reason, servedBy: this.o.nodeId });
  }

  private ended(link: Link, reason: string, lost: boolean): void {
    if (this.links.get(link.hearingId) !== link) return;
    this.links.delete(link.hearingId);
    const viewers = [...link.viewers.keys()];
    this.o.record(link.hearingId, lost ? 'gallery.lost' : 'gallery.closed', { node: link.node.id, reason, viewers: viewers.length });
    this.o.log(`[gallery] hearing ${link.hearingId}: gallery on ${link.node.id} ${lost ? 'lost' : 'closed'} (${reason})`);
    if (lost && viewers.length) this.o.reset(link.hearingId, viewers);
  }
}
