// Load-test bots (benchmarks/bots/): a participant without a browser, over real WebRTC transports.
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { Bot, BotError, demultiplex, type ReceivedStats } from '../benchmarks/bots/bot.ts';
import { createHearing, NO_ASR } from './helpers/server.ts';
import { openJoin, waitForMediaFrom, withServerAndBrowser } from './helpers/browser.ts';
import { until } from './helpers/wait.ts';
import type { HearingServer } from '../server/app/server.ts';

/** What `bot` receives from one participant: their camera (`v`) and microphone (`a`), once each arrives. */
function streamsFrom(bot: Bot, participantId: string): { v?: ReceivedStats; a?: ReceivedStats } {
  const r = bot.received().filter((s) => s.participantId === participantId);
  return { v: r.find((s) => s.kind === 'video'), a: r.find((s) => s.kind === 'audio') };
}

/** A hearing of a judge (named `judgeName`) and a party, and the two. */
async function judgeAndParty(server: HearingServer, judgeName: string) {
  const h = await createHearing(server, [
    { name: judgeName, role: 'judge' },
    { name: 'Bot Party', role: 'party' },
  ]);
  const [judge, party] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0]];
  return { h, judge, party };
}

describe('a bot’s sockets', () => {
  /** A sound packet as SRTP sends it: V=2, X, marker, payload type 100, sequence number `seq`, `length` bytes. */
  const rtp = (seq: number, length: number): Buffer => {
    const b = Buffer.alloc(length);
    b[0] = 0x90;
    b[1] = 0xe4;
    b.writeUInt16BE(seq, 2);
    return b;
  };

  it('hand RTP whose sequence number equals its length less 20 to werift’s ICE connection (werift’s STUN parser takes it for STUN and drops it)', async () => {
    const require = createRequire(import.meta.url);
    const { parseMessage } = require('werift/lib/ice/src/stun/message.js') as { parseMessage(b: Buffer): unknown };
    // What the bots lost "every ~28 s": packet 148 of 168 bytes parses as a STUN message in werift 0.18.
    expect(parseMessage(rtp(148, 168))).toBeTruthy();
    expect(parseMessage(rtp(149, 168))).toBeUndefined();
    const toWerift: Buffer[] = [];
    const toConnection: Buffer[] = [];
    const socket = { onData: (data: Buffer, _addr: unknown) => void toWerift.push(data) };
    const transport = {
      handler: {
        _pc: {
          dtlsTransports: [
            {
              iceTransport: {
                connection: {
                  protocols: [{ transport: socket, localCandidate: { component: 1 } }],
                  dataReceived: (d: Buffer) => void toConnection.push(d),
                },
              },
              sendRtcp: async () => undefined,
            },
          ],
        },
      },
    };
    const tapped: Buffer[] = [];
    demultiplex(transport as never, (d) => d.readUInt16BE(2) === 7 && tapped.push(d) > 0);
    const stun = Buffer.alloc(20); // a binding request's first byte is 0
    const dtls = Buffer.from([22, 254, 253]); // a DTLS record: 20–63
    socket.onData(rtp(148, 168), null);
    socket.onData(rtp(7, 100), null);
    socket.onData(stun, null);
    socket.onData(dtls, null);
    expect(toConnection.map((d) => d.readUInt16BE(2))).toEqual([148]);
    expect(tapped.map((d) => d.readUInt16BE(2))).toEqual([7]);
    expect(toWerift).toEqual([stun, dtls]);
  });
});

describe('a load-test bot', () => {
  const ctx = withServerAndBrowser({ server: NO_ASR });

  it.each(['headers', 'decrypt'] as const)(
    'and a real Chromium participant receive each other’s sound and picture; the bot’s counts match the server’s (reading %s)',
    async (receive) => {
      const { server } = ctx;
      const { h, judge, party } = await judgeAndParty(server, 'Judge Wang');
      const judgePage = await openJoin(ctx.browser, judge.joinUrl);
      const bot = new Bot(server.url, party.token, { receive });
      try {
        await bot.join();
        // The browser decodes the bot's pre-encoded VP8 and receives its Opus.
        const seen = await waitForMediaFrom(judgePage, party.id);
        const video = seen.find((s) => s.participantId === party.id && s.kind === 'video')!;
        expect(video.framesDecoded).toBeGreaterThan(0);
        // The bot receives the judge's camera (whole frames) and microphone.
        const fromJudge = await until(
          'the bot receiving the judge',
          () => {
            const { v, a } = streamsFrom(bot, judge.id);
            return v && a && v.frames >= 30 && a.packets >= 100 ? { v, a } : undefined;
          },
          30_000,
        );
        expect(fromJudge.v.lost).toBeLessThanOrEqual(2);
        expect(bot.sent.audio).toBeGreaterThan(50);
        expect(bot.sent.video).toBeGreaterThan(20);
        // What the bot counted is what the server sent it (each consumer's packets, read at the same moment).
        const consumers = server.plane.get(h.id)!.consumersOf(party.id);
        expect(consumers.length).toBe(2);
        for (const consumer of consumers) {
          const [stats, counted] = [await consumer.getStats(), bot.received().find((s) => s.producerId === consumer.producerId)!];
          const sentByServer = stats.find((s) => s.type === 'outbound-rtp')!.packetCount;
          expect(counted.packets, `${consumer.kind}: bot ${counted.packets}, server ${sentByServer}`).toBeGreaterThanOrEqual(
            sentByServer * 0.95,
          );
          expect(counted.packets, consumer.kind).toBeLessThanOrEqual(sentByServer + 5);
        }
      } finally {
        await bot.close();
        await judgePage.context().close();
      }
    },
  );

  it('measures one-way latency through the SFU from another bot of its process', async () => {
    const { server } = ctx;
    const h = await createHearing(server, [
      { name: 'Bot Judge', role: 'judge' },
      { name: 'Bot Party', role: 'party' },
    ]);
    const bots = h.participants.map((p) => new Bot(server.url, p.token));
    try {
      for (const bot of bots) await bot.join();
      const [judge, party] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0]];
      const samples = await until(
        'latency samples from the other bot',
        () => {
          const got = bots[1]!.received().filter((s) => s.participantId === judge.id);
          return got.length === 2 && got.every((s) => s.latencyMs.length >= 20) ? got.flatMap((s) => s.latencyMs) : undefined;
        },
        20_000,
      );
      // On loopback through mediasoup: not negative, and well under a second.
      const sorted = [...samples].sort((a, b) => a - b);
      expect(sorted[0]).toBeGreaterThanOrEqual(0);
      expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(200);
      expect(bots[0]!.received().find((s) => s.participantId === party.id && s.kind === 'video')!.latencyMs.length).toBeGreaterThan(0);
    } finally {
      for (const bot of bots) await bot.close();
    }
  });

  it.each(['headers', 'decrypt'] as const)(
    'counts what it lost and the NACKs it sent as the server sees them (reading %s, its receive path dropping 10 %%)',
    async (receive) => {
      const { server } = ctx;
      const { h, judge, party } = await judgeAndParty(server, 'Bot Judge');
      const sender = new Bot(server.url, judge.token);
      const lossy = new Bot(server.url, party.token, { receiveLossPct: 10, receive });
      try {
        await sender.join();
        await lossy.join();
        const got = await until(
          'the lossy bot receiving the judge for a while',
          () => {
            const { v, a } = streamsFrom(lossy, judge.id);
            return v && a && a.packets >= 300 && v.nacks >= 5 ? { v, a } : undefined;
          },
          30_000,
        );
        // Sound is not asked for again (no NACK): about a tenth of it is lost.
        const audioLoss = got.a.lost / (got.a.lost + got.a.packets);
        expect(audioLoss, `audio lost ${got.a.lost} of ${got.a.lost + got.a.packets}`).toBeGreaterThan(0.04);
        expect(audioLoss).toBeLessThan(0.2);
        expect(got.a.nacks).toBe(0);
        // Video: each loss asked for again; what the server was asked for is what the bot counted sending.
        const consumer = server.plane
          .get(h.id)!
          .consumersOf(party.id)
          .find((c) => c.kind === 'video')!;
        const before = lossy.received().find((s) => s.producerId === consumer.producerId)!;
        const serverNacks = (await consumer.getStats()).find((s) => s.type === 'outbound-rtp')!.nackCount;
        const after = lossy.received().find((s) => s.producerId === consumer.producerId)!;
        expect(before.nackedPackets).toBeGreaterThanOrEqual(before.nacks);
        // NACKs in flight while the stats are read: the server's count lies between the bot's before and after.
        expect(serverNacks, `server ${serverNacks}, bot ${before.nacks}…${after.nacks}`).toBeGreaterThanOrEqual(before.nacks - 2);
        expect(serverNacks).toBeLessThanOrEqual(after.nacks);
        // Repaired: less of the video is lost for good than of the sound.
        expect(after.lost / (after.lost + after.packets)).toBeLessThan(audioLoss);
      } finally {
        await sender.close();
        await lossy.close();
      }
    },
  );

  it('whose token is refused reports the refusal’s code', async () => {
    const bot = new Bot(ctx.server.url, 'not-a-token');
    const error = await bot.join().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BotError);
    expect((error as BotError).code).toBe('token_invalid');
    await bot.close();
  });
});
