// Our mediasoup worker (scripts/build-worker.sh, with scripts/mediasoup-patches), each patch's behaviour.
//
// A simulcast stream that comes back after its sender went silent keeps the score it came back with.
// Unpatched, the packets the sender numbered while nothing arrived (a phone's path died, then came back
// on another after an ICE restart) were counted as the next receiver report's loss: the stream scored 0
// again, and every consumer dropped that camera's layers for a second or more (the pictures came back up
// to 2.4 s after the sound in test/reconnect.test.ts).
//
// A consumer whose transport sets its layers by bandwidth takes that stream up again within a few of its
// pictures. Unpatched, at the stream's first packet back its temporal layers had no bitrate measured (the
// counters' window emptied during the silence): the consumer got no layer, and asked again only at its
// transport's next bandwidth estimate, up to a second later (the party's pictures came back 0.6–2.5 s
// after the sound in test/reconnect.test.ts).
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { sleep, until } from './helpers/wait.ts';

const SSRCS = [1111, 2222];
/** The producers' codec: VP8 on payload type 101, with NACK and key frame requests (PLI). */
const VP8: types.RtpCodecParameters = {
  mimeType: 'video/VP8',
  payloadType: 101,
  clockRate: 90000,
  rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
};

/** An RTP packet of a VP8 picture (a key frame when `key`): the header, VP8's descriptor, and filler. */
function vp8Packet(ssrc: number, seq: number, timestamp: number, key: boolean): Buffer {
  const packet = Buffer.alloc(12 + 2 + 200);
  packet[0] = 0x80;
  packet[1] = 0x80 | 101; // marker: one packet a picture
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE(timestamp >>> 0, 4);
  packet.writeUInt32BE(ssrc, 8);
  packet[12] = 0x10; // start of partition 0, no extensions
  packet[13] = key ? 0x00 : 0x01; // VP8 payload header: P bit clear on a key frame
  return packet;
}

/** An RTCP sender report: the worker works a stream's score out at each one (mediasoup 3.12). */
function senderReport(ssrc: number, timestamp: number, packets: number): Buffer {
  const report = Buffer.alloc(28);
  report[0] = 0x80;
  report[1] = 200;
  report.writeUInt16BE(6, 2);
  report.writeUInt32BE(ssrc, 4);
  const ms = Date.now() + 2_208_988_800_000; // NTP's epoch is 1900
  report.writeUInt32BE(Math.floor(ms / 1000) >>> 0, 8);
  report.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  report.writeUInt32BE(timestamp >>> 0, 16);
  report.writeUInt32BE(packets, 20);
  report.writeUInt32BE(packets * 200, 24);
  return report;
}

describe('our mediasoup worker: a stream back after a silence', () => {
  const ctx = {} as { worker: types.Worker; transport: types.PlainTransport; producer: types.Producer; socket: dgram.Socket };
  beforeAll(async () => {
    ctx.worker = await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: 38900, rtcMaxPort: 38999 });
    const router = await ctx.worker.createRouter({
      mediaCodecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }],
    });
    ctx.transport = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: true });
    ctx.producer = await ctx.transport.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [VP8],
        encodings: SSRCS.map((ssrc) => ({ ssrc })),
      },
    });
    ctx.socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => ctx.socket.bind(0, '127.0.0.1', () => resolve()));
  });
  afterAll(() => {
    ctx.socket?.close();
    ctx.worker?.close();
  });

  it('scores a stream back from 2.5 s of silence (its sequence numbers moved on meanwhile) by what arrives after, never 0 again', async () => {
    const { producer, transport, socket } = ctx;
    const scores: { at: number; ssrc: number; score: number }[] = [];
    producer.on('score', (list) => {
      for (const { ssrc, score } of list) scores.push({ at: Date.now(), ssrc, score });
    });
    const { localPort } = transport.tuple;
    let seq = 1000;
    let picture = 0;
    /**
     * `ms` of pictures at 25 a second on both streams, each a packet (the sequence numbers shared); none
     * arriving (`reach` 0), or one in `1 / (1 - reach)` lost on the way.
     */
    const send = async (ms: number, reach = 1): Promise<void> => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const key = picture % 50 === 0;
        const arrives = reach === 1 || (reach > 0 && seq % Math.round(1 / (1 - reach)) !== 0);
        for (const ssrc of SSRCS) {
          if (arrives) socket.send(vp8Packet(ssrc, seq, picture * 3600, key), localPort, '127.0.0.1');
          // A sender report each half second, as a browser sends them (when its path carries them).
          if (reach > 0 && picture % 12 === 0) socket.send(senderReport(ssrc, picture * 3600, seq - 1000), localPort, '127.0.0.1');
        }
        seq++;
        picture++;
        await sleep(40);
      }
    };
    const scoreOf = (ssrc: number): number | undefined => scores.filter((s) => s.ssrc === ssrc).at(-1)?.score;

    await send(2500);
    expect(SSRCS.map(scoreOf), 'both streams scored while they flow').toEqual([10, 10]);
    // The sender's path dies: it goes on numbering its packets, none arrive. After 1.5 s of nothing the
    // worker marks the streams inactive (score 0: consumers leave their layers).
    const silentFrom = Date.now();
    await send(2500, 0);
    expect([...new Set(scores.filter((s) => s.at >= silentFrom && s.score === 0).map((s) => s.ssrc))].sort()).toEqual(SSRCS);

    // Back on another path that loses one packet in ten: the score comes back at once (10), and the
    // next receiver reports score what arrives now (below 10: a report was made), never the gap (0).
    const backFrom = Date.now();
    await until(
      'a receiver report on each stream after it came back',
      async () => {
        await send(500, 0.9);
        return SSRCS.every((ssrc) => scores.some((s) => s.at >= backFrom && s.ssrc === ssrc && s.score < 10));
      },
      10_000,
    );
    await send(1500, 0.9);
    for (const ssrc of SSRCS) {
      // Each event lists every stream: the other's 0 may come first, until its own first packet.
      const mine = scores.filter((s) => s.at >= backFrom && s.ssrc === ssrc).map((s) => s.score);
      const back = mine.indexOf(10);
      expect(back, `stream ${ssrc}: its score back at its first packet (${JSON.stringify(mine)})`).toBeGreaterThanOrEqual(0);
      expect(Math.min(...mine.slice(back)), `stream ${ssrc}: its scores after it came back (${JSON.stringify(mine)})`).toBeGreaterThan(0);
    }
  }, 30_000);
});

/** Temporal layer of each picture of a 0-2-1-2 pattern (libwebrtc's three layers). */
const PATTERN = [0, 2, 1, 2];

/**
 * A VP8 picture in one packet, with VP8's descriptor as a browser sends it for three temporal layers:
 * picture id, TL0PICIDX, the layer, and the sync flag (the layer may be taken up at this picture: set on
 * the pictures that refer to layer 0 only). A key frame is on layer 0.
 */
function layeredVp8Packet(ssrc: number, seq: number, timestamp: number, p: { id: number; tl0: number; layer: number; key: boolean }) {
  const packet = Buffer.alloc(12 + 6 + 200);
  packet[0] = 0x80;
  packet[1] = 0x80 | 101;
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE(timestamp >>> 0, 4);
  packet.writeUInt32BE(ssrc, 8);
  packet[12] = 0x90; // X, start of partition 0
  packet[13] = 0xe0; // picture id, TL0PICIDX, TID present
  packet.writeUInt16BE(0x8000 | (p.id & 0x7fff), 14);
  packet[16] = p.tl0 & 0xff;
  packet[17] = (p.layer << 6) | (p.layer > 0 && p.id % 4 !== 3 ? 0x20 : 0);
  packet[18] = p.key ? 0x10 : 0x11; // VP8 payload header: P bit clear on a key frame
  return packet;
}

describe('our mediasoup worker: a consumer whose layers follow its bandwidth, when a stream comes back', () => {
  const ctx = {} as {
    worker: types.Worker;
    producer: types.Producer;
    consumer: types.Consumer;
    inPort: number;
    sender: dgram.Socket;
    receiver: dgram.Socket;
  };
  beforeAll(async () => {
    ctx.worker = await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: 38800, rtcMaxPort: 38899 });
    const router = await ctx.worker.createRouter({
      mediaCodecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }],
    });
    const inbound = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: true });
    ctx.inPort = inbound.tuple.localPort;
    ctx.producer = await inbound.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [VP8],
        encodings: SSRCS.map((ssrc) => ({ ssrc, scalabilityMode: 'L1T3' })),
      },
    });
    ctx.sender = dgram.createSocket('udp4');
    ctx.receiver = dgram.createSocket('udp4');
    for (const socket of [ctx.sender, ctx.receiver]) await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    // The router's capabilities carry transport-wide congestion control: the transport sets the
    // consumer's layers by its bandwidth estimate, as for a browser.
    const outbound = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: false });
    await outbound.connect({ ip: '127.0.0.1', port: ctx.receiver.address().port });
    ctx.consumer = await outbound.consume({ producerId: ctx.producer.id, rtpCapabilities: router.rtpCapabilities });
  });
  afterAll(() => {
    ctx.sender?.close();
    ctx.receiver?.close();
    ctx.worker?.close();
  });

  it('sends a stream back from 3 s of silence, whose first packet back is on its top temporal layer, within 500 ms (three times)', async () => {
    const { consumer, sender, receiver, inPort } = ctx;
    const forwarded: number[] = [];
    const ssrc = consumer.rtpParameters.encodings![0]!.ssrc;
    receiver.on('message', (m) => {
      // RTP (RTCP's second byte is 192-223) of the consumer's stream.
      if (m.length > 12 && (m[1]! < 192 || m[1]! > 223) && m.readUInt32BE(8) === ssrc) forwarded.push(Date.now());
    });
    // Key frame requests (PLI) from the worker, answered at the next picture of that stream.
    const keyAsked = new Set<number>();
    sender.on('message', (m) => {
      if (m.length >= 12 && m[1] === 206 && (m[0]! & 0x1f) === 1) keyAsked.add(m.readUInt32BE(8));
    });
    let seq = 1000;
    let picture = 0;
    let tl0 = 0;
    /** `ms` of pictures at 30 a second on both streams, none arriving when `silent` (numbered all the same). */
    const send = async (ms: number, silent = false): Promise<void> => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        for (const ssrc of SSRCS) {
          // (A request sent into a dead path is lost: the sender never sees it.)
          const key = keyAsked.delete(ssrc) || picture === 0;
          const layer = key ? 0 : PATTERN[picture % 4]!;
          if (!silent) {
            sender.send(layeredVp8Packet(ssrc, seq, picture * 3000, { id: picture, tl0, layer, key }), inPort, '127.0.0.1');
            if (picture % 15 === 0) sender.send(senderReport(ssrc, picture * 3000, seq - 1000), inPort, '127.0.0.1');
          }
        }
        if (PATTERN[picture % 4] === 0) tl0++;
        seq++;
        picture++;
        await sleep(33);
      }
    };
    await send(1500);
    expect(consumer.currentLayers, 'the consumer sends a layer').toMatchObject({ spatialLayer: expect.any(Number) });
    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      // Silent for 3 s (the counters' window is 2.5 s): the streams go inactive, the consumer leaves them.
      await send(3000, true);
      expect(consumer.currentLayers ?? null, 'no layer while nothing arrives').toBeNull();
      // Back at a top-layer picture (a browser's path comes back between pictures, not at a key frame).
      while (picture % 4 !== 1) {
        picture++;
        seq++;
      }
      const backAt = Date.now();
      await send(1200);
      const first = forwarded.find((at) => at >= backAt);
      delays.push(first === undefined ? Infinity : first - backAt);
    }
    console.log(`a stream back after 3 s of silence: its first packet forwarded ${delays.join(', ')} ms after its first packet back`);
    expect(Math.max(...delays), `ms from the first packet back to the first one forwarded, each time (${delays})`).toBeLessThanOrEqual(500);
    expect(consumer.currentLayers, 'taken up to the top layers').toEqual({ spatialLayer: 1, temporalLayer: 2 });
  }, 40_000);
});
