// A load-test participant without a browser: it speaks the hearing's signaling with a participant's
// token, and carries media over real WebRTC transports (ICE, DTLS, SRTP) with msc-node (a mediasoup
// client on werift, pure TypeScript). It publishes the pre-encoded clips of ./media.ts and subscribes
// to everybody else, counting what arrives per consumer.
import { io, type Socket } from 'socket.io-client';
import {
  Device,
  GenericNack,
  MediaStreamTrack,
  RtcpTransportLayerFeedback,
  RTCRtpCodecParameters,
  useNACK,
  usePLI,
  useFIR,
  useSdesMid,
  useAbsSendTime,
  type RtpPacket,
  type types,
} from 'msc-node';
import { botClips, type Clip } from './media.ts';

/** No complete video frame for this long while receiving: a freeze. */
export const FREEZE_MS = 500;
/**
 * One-way latency through the SFU, for bots in one process (one clock): when each bot sent each RTP
 * timestamp of its producers (a video frame's last packet, every sound packet), by producer. mediasoup
 * passes a simple consumer's timestamps through, so a receiving bot finds the send time of what it got.
 */
const sentAt = new Map<string, Map<number, number>>();
/** Send times kept per producer (a few seconds' worth). */
const SENT_KEPT = 400;

/** How long a bot's send transport may take to connect (ICE and DTLS) before its join counts as failed. */
export const SEND_CONNECT_MS = 15_000;

/**
 * How a bot reads what it receives.
 * - `headers` (the default): each RTP datagram is counted from its header, which SRTP leaves in the clear
 *   (sequence number, timestamp, marker, SSRC), as it comes off the bot's UDP socket: no decryption, no
 *   werift receiver. The bot asks for lost video packets itself (NACK, sent over werift's SRTCP).
 * - `decrypt`: every packet through werift's whole receive path (SRTP decryption, its RTP receiver and
 *   NACK generator), as a WebRTC endpoint does: the baseline the first is measured against. (werift's
 *   AES-GCM decryption does not check the authentication tag either: neither path authenticates.)
 */
export type ReceivePath = 'headers' | 'decrypt';

/** A lost packet is asked for again every NACK_EVERY_MS, up to NACK_TRIES times (werift: every 5 ms, 10 times). */
const NACK_EVERY_MS = 10;
const NACK_TRIES = 10;
/** Lost packets remembered per stream (werift's LOST_SIZE). */
const NACK_KEPT = 150;
/** The receive socket's buffer: a burst of a few hundred datagrams waits here while the bot's loop is busy. */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface ReceivedStats {
  participantId: string;
  producerId: string;
  kind: 'audio' | 'video';
  packets: number;
  bytes: number;
  /** Sequence numbers never seen (between the first and the highest seen). */
  lost: number;
  /** Interarrival jitter (RFC 3550), ms. */
  jitterMs: number;
  /** Video: frames whose last packet (marker bit) arrived. */
  frames: number;
  /** Video: gaps of more than FREEZE_MS between complete frames. */
  freezes: number;
  /** Video: NACK messages this bot sent for the stream, and the packets they asked for again. */
  nacks: number;
  nackedPackets: number;
  /** One-way latency from the sending bot to this one (ms), when both are in this process; the last samples. */
  latencyMs: number[];
}

/** The parts of werift's peer connection a bot reaches into (msc-node's handler keeps it as `_pc`). */
interface WeriftSocket {
  onData: (data: Buffer, addr: unknown) => void;
  socket?: { setRecvBufferSize(bytes: number): void };
}
interface WeriftDtls {
  iceTransport: {
    connection: {
      protocols: { transport?: WeriftSocket; localCandidate?: { component: number } }[];
      dataReceived(data: Buffer, component: number): void;
    };
  };
  sendRtcp(packets: RtcpTransportLayerFeedback[]): Promise<unknown>;
}
interface WeriftPeer {
  dtlsTransports: WeriftDtls[];
}

/**
 * Hands every datagram whose first byte says RTP or RTCP (128–191, RFC 7983) straight to werift's ICE
 * connection, after `onMedia` when given (true: taken). werift 0.18 tries every datagram as STUN first and
 * takes one for a STUN message when its bytes 2–3 (in RTP, the sequence number) equal its length less 20:
 * such a packet is dropped without a word. That was the bots' "periodic" loss (sequence numbers 148–156
 * in 168–176-byte sound packets, every video packet whose number matches its size): every receiver of a
 * stream lost the same packets, at the same moment, until the numbers moved past the packets' sizes.
 * Returns the transport's werift DTLS transport (for RTCP).
 */
export function demultiplex(transport: types.Transport, onMedia?: (data: Buffer) => boolean): WeriftDtls {
  const pc = (transport as unknown as { handler: { _pc?: WeriftPeer } }).handler._pc;
  const dtls = pc?.dtlsTransports[0];
  const connection = dtls?.iceTransport.connection;
  const protocols = connection?.protocols.filter((p) => p.transport?.onData) ?? [];
  if (!dtls || !connection || !protocols.length) throw new BotError('no_socket', "the transport's sockets are not open yet");
  for (const protocol of protocols) {
    const socket = protocol.transport!;
    const werift = socket.onData;
    const component = protocol.localCandidate?.component ?? 1;
    socket.onData = (data, addr) => {
      const first = data[0] ?? 0;
      if (first < 128 || first > 191) return werift(data, addr);
      if (!onMedia?.(data)) connection.dataReceived(data, component);
    };
    socket.socket?.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
  }
  return dtls;
}

/** werift's RTCRtpReceiver, for its NACK requests (msc-node types it as the DOM's receiver). */
interface NackSource {
  onPacketLost: { subscribe(f: (nack: { lost: number[] }) => void): unknown };
}

export class BotError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BotError';
  }
}

interface Counter extends ReceivedStats {
  ssrc: number | null;
  /** Header path: sequence numbers (unwrapped) not yet received, and how often each was asked for. */
  missing: Map<number, number>;
  firstSeq: number | null;
  highest: number;
  seen: number;
  lastFrameAt: number;
  lastTransit: number | null;
  clockRate: number;
  jitter: number;
}

export class Bot {
  private socket?: Socket;
  private device?: Device;
  private sendTransport?: types.Transport;
  private recvTransport?: types.Transport;
  private readonly counters = new Map<string, Counter>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly producerIds: string[] = [];
  private readonly pending: { producerId: string; participantId: string }[] = [];
  /** Header path: counters by the SSRC the consumer sends with. */
  private readonly bySsrc = new Map<number, Counter>();
  private tapped = false;
  private readonly rtcpSsrc = Math.floor(Math.random() * 0xffffffff) >>> 0;
  private joined = false;
  participantId = '';
  /** Packets this bot has sent, per kind. */
  readonly sent = { audio: 0, video: 0 };

  /**
   * `receiveLossPct`: the bot drops this share of the datagrams that reach its receive transport, before
   * SRTP, so that its loss and NACK counts can be checked against the server's (`decrypt`: werift's debug
   * knob; `headers`: the bot's own tap). `receive`: see ReceivePath.
   */
  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly o: { receiveLossPct?: number; receive?: ReceivePath } = {},
  ) {}

  private get receivePath(): ReceivePath {
    return this.o.receive ?? 'headers';
  }

  /** Connects, joins, publishes the clips (unless `publish: false`) and consumes what is there and what comes. */
  async join(o: { publish?: boolean } = {}): Promise<void> {
    const socket = io(this.url, { auth: { token: this.token }, transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
        socket.close();
        reject(new BotError(error.data?.code ?? 'cannot_connect', error.message));
      });
    });
    socket.on('newProducer', (p: { producerId: string; participantId: string; consultationId?: string }) => {
      if (!p.consultationId) void this.consume(p).catch(() => undefined);
    });
    const reply = await this.request<{
      self: { participantId: string };
      routerRtpCapabilities: types.RtpCapabilities;
      producers: { producerId: string; participantId: string }[];
      waiting?: boolean;
    }>('join', {});
    this.participantId = reply.self.participantId;
    if (reply.waiting) return;
    this.device = new Device({
      codecs: {
        audio: [
          new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, rtcpFeedback: [useNACK()] }),
        ],
        video: [
          new RTCRtpCodecParameters({
            mimeType: 'video/VP8',
            clockRate: 90000,
            payloadType: 96,
            rtcpFeedback: [useNACK(), usePLI(), useFIR()],
          }),
        ],
      },
      headerExtensions: { audio: [useSdesMid()], video: [useSdesMid(), useAbsSendTime()] },
    });
    await this.device.load({ routerRtpCapabilities: reply.routerRtpCapabilities });
    this.recvTransport = this.device.createRecvTransport({
      ...(await this.request<types.TransportOptions>('createTransport', { direction: 'recv' })),
      // werift 0.18 drops a datagram when `inboundPacketLoss / 100 < Math.random()`: the share it keeps.
      ...(this.o.receiveLossPct && this.receivePath === 'decrypt'
        ? { additionalSettings: { debug: { inboundPacketLoss: 100 - this.o.receiveLossPct } } }
        : {}),
    });
    this.wire(this.recvTransport);
    if (o.publish !== false) {
      await this.publish();
      // Joined means sending: a send transport that does not connect (its DTLS handshake lost on a machine
      // short of CPU) is a failed join, not a silent participant.
      const transport = this.sendTransport!;
      for (const deadline = Date.now() + SEND_CONNECT_MS; transport.connectionState !== 'connected';) {
        if (Date.now() > deadline || transport.connectionState === 'failed')
          throw new BotError('transport_not_connected', `the send transport is ${transport.connectionState} after ${SEND_CONNECT_MS} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.joined = true;
    await Promise.all([...reply.producers, ...this.pending.splice(0)].map((p) => this.consume(p)));
  }

  /** One signaling round trip (a `ping` answered by the server), ms. */
  async ping(): Promise<number> {
    const t = performance.now();
    await this.request('ping', {});
    return performance.now() - t;
  }

  /** The state of the bot's send and receive transports ('new', 'connecting', 'connected', 'failed'…). */
  transports(): { send: string | null; recv: string | null } {
    return { send: this.sendTransport?.connectionState ?? null, recv: this.recvTransport?.connectionState ?? null };
  }

  /** What arrived from each producer so far. */
  received(): ReceivedStats[] {
    return [...this.counters.values()].map((c) => ({
      participantId: c.participantId,
      producerId: c.producerId,
      kind: c.kind,
      packets: c.packets,
      bytes: c.bytes,
      lost: c.firstSeq === null ? 0 : Math.max(0, c.highest - c.firstSeq + 1 - c.seen),
      jitterMs: Number(((c.jitter / c.clockRate) * 1000).toFixed(2)),
      frames: c.frames,
      freezes: c.freezes,
      nacks: c.nacks,
      nackedPackets: c.nackedPackets,
      latencyMs: [...c.latencyMs],
    }));
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const id of this.producerIds) sentAt.delete(id);
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.socket?.close();
  }

  private async request<T = unknown>(event: string, data: unknown): Promise<T> {
    const response = (await this.socket!.timeout(15_000).emitWithAck(event, data)) as { error?: { code: string; message: string } };
    if (response?.error) throw new BotError(response.error.code, response.error.message);
    return response as T;
  }

  private wire(transport: types.Transport): void {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
  }

  private async publish(): Promise<void> {
    const clips = await botClips();
    const transport = this.device!.createSendTransport(
      await this.request<types.TransportOptions>('createTransport', { direction: 'send' }),
    );
    this.sendTransport = transport;
    this.wire(transport);
    transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
      this.request<{ id: string }>('produce', {
        transportId: transport.id,
        kind,
        rtpParameters,
        source: kind === 'audio' ? 'mic' : 'camera',
      }).then(({ id }) => callback({ id }), errback);
    });
    for (const clip of [clips.audio, clips.video]) {
      const track = new MediaStreamTrack({ kind: clip.kind });
      const producer = await transport.produce({ track });
      const times = new Map<number, number>();
      sentAt.set(producer.id, times);
      this.producerIds.push(producer.id);
      this.timers.push(this.play(track, clip, times));
    }
    // The send transport gets RTCP (NACKs, receiver reports): demultiplexed the same way.
    demultiplex(transport);
  }

  /**
   * Replays a clip in a loop at its own pace: each packet gets this bot's running sequence number and a
   * timestamp that keeps going across loops (werift sets the SSRC and payload type of the producer).
   */
  private play(track: MediaStreamTrack, clip: Clip, times: Map<number, number>): NodeJS.Timeout {
    const start = Date.now();
    const ticksPerLoop = (clip.durationMs * clip.clockRate) / 1000;
    let loop = 0;
    let index = 0;
    let seq = Math.floor(Math.random() * 65536);
    const baseTs = Math.floor(Math.random() * 2 ** 31);
    return setInterval(() => {
      const now = Date.now() - start;
      for (;;) {
        const p = clip.packets[index]!;
        if (loop * clip.durationMs + p.atMs > now) break;
        const data = Buffer.from(p.data);
        data.writeUInt16BE(seq, 2);
        seq = (seq + 1) & 0xffff;
        const ts = (baseTs + loop * ticksPerLoop + (p.atMs * clip.clockRate) / 1000) >>> 0;
        data.writeUInt32BE(ts, 4);
        if (clip.kind === 'audio' || (data[1]! & 0x80) !== 0) {
          times.set(ts, Date.now());
          if (times.size > SENT_KEPT) times.delete(times.keys().next().value!);
        }
        track.writeRtp(data);
        this.sent[clip.kind]++;
        if (++index === clip.packets.length) {
          index = 0;
          loop++;
        }
      }
    }, 10);
  }

  private async consume(p: { producerId: string; participantId: string }): Promise<void> {
    if (!this.joined || !this.recvTransport) {
      this.pending.push(p);
      return;
    }
    if (this.counters.has(p.producerId)) return;
    const reply = await this.request<{ id: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: types.RtpParameters }>(
      'consume',
      {
        transportId: this.recvTransport.id,
        producerId: p.producerId,
        rtpCapabilities: this.device!.rtpCapabilities,
      },
    );
    const consumer = await this.recvTransport.consume({
      id: reply.id,
      producerId: reply.producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters,
    });
    const c: Counter = {
      ssrc: reply.rtpParameters.encodings?.[0]?.ssrc ?? null,
      missing: new Map(),
      participantId: p.participantId,
      producerId: p.producerId,
      kind: reply.kind,
      packets: 0,
      bytes: 0,
      lost: 0,
      jitterMs: 0,
      frames: 0,
      freezes: 0,
      nacks: 0,
      nackedPackets: 0,
      latencyMs: [],
      firstSeq: null,
      highest: 0,
      seen: 0,
      lastFrameAt: 0,
      lastTransit: null,
      clockRate: reply.rtpParameters.codecs[0]?.clockRate ?? 90000,
      jitter: 0,
    };
    this.counters.set(p.producerId, c);
    this.tapReceive();
    if (this.receivePath === 'headers') {
      if (c.ssrc === null) throw new BotError('no_ssrc', `the consumer of ${p.producerId} has no SSRC`);
      this.bySsrc.set(c.ssrc, c);
    } else {
      (consumer.track as unknown as MediaStreamTrack).onReceiveRtp.subscribe((rtp: RtpPacket) =>
        this.count(c, rtp.header.sequenceNumber, rtp.header.timestamp, rtp.header.marker, rtp.payload.length),
      );
      // werift's receiver asks for lost video packets again (NACK): each request it sends, counted.
      (consumer.rtpReceiver as unknown as NackSource | undefined)?.onPacketLost.subscribe((nack) => {
        c.nacks++;
        c.nackedPackets += nack.lost.length;
      });
    }
    await this.request('resumeConsumer', { consumerId: consumer.id });
  }

  /**
   * Once per receive transport, before any of its consumers is resumed (nothing is sent to it before):
   * the sockets demultiplexed as RFC 7983 says, and, on the header path, the tap and the NACK loop.
   */
  private tapReceive(): void {
    if (this.tapped) return;
    const dtls = demultiplex(this.recvTransport!, this.receivePath === 'headers' ? (data) => this.onDatagram(data) : undefined);
    this.tapped = true;
    if (this.receivePath === 'headers') this.timers.push(setInterval(() => this.sendNacks(dtls), NACK_EVERY_MS));
  }

  /** Counts an SRTP datagram of a stream this bot consumes from its clear header; false: not one of them. */
  private onDatagram(data: Buffer): boolean {
    // RTP version 2, not RTCP (payload types 192–223 with the marker bit: RFC 5761), a whole fixed header.
    if (data.length < 12 || data[0]! >> 6 !== 2) return false;
    const pt = data[1]! & 0x7f;
    if (pt >= 64 && pt <= 95) return false;
    const c = this.bySsrc.get(data.readUInt32BE(8));
    if (!c) return false;
    if (this.o.receiveLossPct && Math.random() * 100 < this.o.receiveLossPct) return true;
    const csrcs = data[0]! & 0x0f;
    let header = 12 + 4 * csrcs;
    if (data[0]! & 0x10 && data.length >= header + 4) header += 4 + 4 * data.readUInt16BE(header + 2);
    // The payload as sent, less the header and SRTP's authentication tag (16 bytes with AES-GCM, 10 with HMAC-SHA1-80).
    this.count(c, data.readUInt16BE(2), data.readUInt32BE(4), (data[1]! & 0x80) !== 0, Math.max(0, data.length - header - 16));
    return true;
  }

  /** Header path: one NACK per stream with lost packets, each lost packet asked for up to NACK_TRIES times. */
  private sendNacks(dtls: WeriftDtls): void {
    const packets: RtcpTransportLayerFeedback[] = [];
    for (const c of this.counters.values()) {
      if (!c.missing.size || c.ssrc === null) continue;
      const lost: number[] = [];
      for (const [seq, tries] of c.missing) {
        lost.push(seq & 0xffff);
        if (tries + 1 >= NACK_TRIES) c.missing.delete(seq);
        else c.missing.set(seq, tries + 1);
      }
      c.nacks++;
      c.nackedPackets += lost.length;
      packets.push(
        new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: this.rtcpSsrc, mediaSourceSsrc: c.ssrc, lost }) }),
      );
    }
    if (packets.length) void dtls.sendRtcp(packets).catch(() => undefined);
  }

  private count(c: Counter, sequenceNumber: number, timestamp: number, marker: boolean, payloadBytes: number): void {
    const now = Date.now();
    c.packets++;
    c.bytes += payloadBytes;
    // Sequence numbers unwrapped against the highest so far (late packets count as seen, not lost).
    if (c.firstSeq === null) {
      c.firstSeq = sequenceNumber;
      c.highest = sequenceNumber;
    } else {
      let s = sequenceNumber + (c.highest & ~0xffff);
      if (s < c.highest - 0x8000) s += 0x10000;
      else if (s > c.highest + 0x8000) s -= 0x10000;
      if (this.receivePath === 'headers' && c.kind === 'video') {
        if (s > c.highest + 1) for (let m = Math.max(c.highest + 1, s - NACK_KEPT); m < s; m++) c.missing.set(m, 0);
        else c.missing.delete(s);
        if (c.missing.size > NACK_KEPT) for (const m of c.missing.keys()) if (c.missing.size > NACK_KEPT) c.missing.delete(m);
      }
      c.highest = Math.max(c.highest, s);
    }
    c.seen++;
    // RFC 3550 interarrival jitter, in timestamp units.
    const transit = (now * c.clockRate) / 1000 - timestamp;
    if (c.lastTransit !== null) c.jitter += (Math.abs(transit - c.lastTransit) - c.jitter) / 16;
    c.lastTransit = transit;
    const sent = (c.kind === 'audio' || marker) && sentAt.get(c.producerId)?.get(timestamp);
    if (sent) {
      c.latencyMs.push(now - sent);
      if (c.latencyMs.length > 200) c.latencyMs.shift();
    }
    if (c.kind === 'video' && marker) {
      if (c.lastFrameAt && now - c.lastFrameAt > FREEZE_MS) c.freezes++;
      c.lastFrameAt = now;
      c.frames++;
    }
  }
}
