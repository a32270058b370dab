// Our mediasoup worker (scripts/build-worker.sh, with scripts/mediasoup-patches): a simulcast stream that
// comes back after its sender went silent keeps the score it came back with. Unpatched, the packets the
// sender numbered while nothing arrived (a phone's path died, then came back on another after an ICE
// restart) were counted as the next receiver report's loss: the stream scored 0 again, and every
// consumer dropped that camera's layers for a second or more (the pictures came back up to 2.4 s after
// the sound in test/reconnect.test.ts).
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { sleep, until } from './helpers/wait.ts';

const SSRCS = [1111, 2222];

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
        codecs: [
          {
            mimeType: 'video/VP8',
            payloadType: 101,
            clockRate: 90000,
            rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
          },
        ],
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
