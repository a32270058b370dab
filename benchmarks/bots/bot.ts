// A load-test participant without a browser: it speaks the hearing's signaling with a participant's
// token, and carries media over real WebRTC transports (ICE, DTLS, SRTP) with msc-node (a mediasoup
// client on werift, pure TypeScript). It publishes the pre-encoded clips of ./media.ts and subscribes
// to everybody else, counting what arrives per consumer.
import { io, type Socket } from 'socket.io-client';
import {
  Device,
  MediaStreamTrack,
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
  private joined = false;
  participantId = '';
  /** Packets this bot has sent, per kind. */
  readonly sent = { audio: 0, video: 0 };

  /**
   * `receiveLossPct`: the bot drops this share of the datagrams that reach its receive transport, before
   * SRTP (werift's debug knob), so that its loss and NACK counts can be checked against the server's.
   */
  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly o: { receiveLossPct?: number } = {},
  ) {}

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
      ...(this.o.receiveLossPct ? { additionalSettings: { debug: { inboundPacketLoss: 100 - this.o.receiveLossPct } } } : {}),
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
    (consumer.track as unknown as MediaStreamTrack).onReceiveRtp.subscribe((rtp: RtpPacket) => this.count(c, rtp));
    // werift's receiver asks for lost video packets again (NACK): each request it sends, counted.
    (consumer.rtpReceiver as unknown as NackSource | undefined)?.onPacketLost.subscribe((nack) => {
      c.nacks++;
      c.nackedPackets += nack.lost.length;
    });
    await this.request('resumeConsumer', { consumerId: consumer.id });
  }

  private count(c: Counter, rtp: RtpPacket): void {
    const now = Date.now();
    const { sequenceNumber, timestamp, marker } = rtp.header;
    c.packets++;
    c.bytes += rtp.payload.length;
    // Sequence numbers unwrapped against the highest so far (late packets count as seen, not lost).
    if (c.firstSeq === null) {
      c.firstSeq = sequenceNumber;
      c.highest = sequenceNumber;
    } else {
      let s = sequenceNumber + (c.highest & ~0xffff);
      if (s < c.highest - 0x8000) s += 0x10000;
      else if (s > c.highest + 0x8000) s -= 0x10000;
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
