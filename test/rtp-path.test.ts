import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { createHearing, withServer } from './helpers/server.ts';
import { rtpPacket, rtpReceiver } from './helpers/rtp.ts';

describe('RTP path through the media plane', () => {
  const ctx = withServer();

  it('a PlainTransport producer reaches every one of N consumers: every packet, in order', async () => {
    const { server } = ctx;
    const { id: hearingId } = await createHearing(server, []);
    const room = await server.plane.room(hearingId);
    const ssrc = 0x1234abcd;
    const ingest = await room.createPlainTransport('ingest', 'send', { comedia: true });
    const producer = await room.produce(
      'ingest',
      ingest.id,
      'audio',
      {
        codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
        encodings: [{ ssrc }],
      },
      'mic',
    );

    const N = 20;
    const receivers = [];
    for (let i = 0; i < N; i++) {
      const transport = await room.createPlainTransport(`listener-${i}`, 'recv');
      // Only what comes from this listener's transport counts (not another test's stray packets).
      const receiver = await rtpReceiver(() => transport.tuple.localPort);
      await room.connectPlainTransport(`listener-${i}`, transport.id, { ip: '127.0.0.1', port: receiver.port });
      const consumer = await room.consume(`listener-${i}`, transport.id, producer.id, room.rtpCapabilities);
      expect(consumer.paused).toBe(false);
      receivers.push({ receiver, consumer });
    }

    const sender = dgram.createSocket('udp4');
    const COUNT = 1000;
    const firstSeq = 65000; // crosses the 16-bit wrap on the way
    for (let index = 0; index < COUNT; index++) {
      const packet = rtpPacket({ payloadType: 111, seq: firstSeq + index, timestamp: index * 960, ssrc, index });
      await new Promise<void>((resolve, reject) =>
        sender.send(packet, ingest.tuple.localPort, ingest.tuple.localIp, (err) => (err ? reject(err) : resolve())),
      );
      if (index % 20 === 19) await new Promise((r) => setTimeout(r, 5));
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && receivers.some(({ receiver }) => receiver.packets.length < COUNT)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    sender.close();

    for (const { receiver, consumer } of receivers) {
      const { packets } = receiver;
      expect(packets.length).toBe(COUNT);
      // In order, none missing, none duplicated: payload indices are exactly 0..COUNT-1...
      expect(packets.map((p) => p.index)).toEqual([...Array(COUNT).keys()]);
      // ...and the consumer's own sequence numbers advance by one per packet.
      for (let i = 1; i < packets.length; i++) expect((packets[i]!.seq - packets[i - 1]!.seq) & 0xffff).toBe(1);
      expect(packets.every((p) => p.payloadType === consumer.rtpParameters.codecs[0]!.payloadType)).toBe(true);
      expect(packets.every((p) => p.ssrc === consumer.rtpParameters.encodings![0]!.ssrc)).toBe(true);
      receiver.close();
    }
    const producerStats = await producer.getStats();
    expect(producerStats[0]?.packetCount).toBe(COUNT);
  });
});
