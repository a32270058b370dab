// Child process: receives forwarded RTP on several sockets and accounts per consumer.
import dgram from 'node:dgram';
import { Histogram } from '../lib/histogram.ts';
import { isRtp, readTrailer } from '../lib/rtp.ts';
import type { ConsumerResult, Expectation, FromChild, ToChild } from './messages.ts';

const send = (m: FromChild): void => void process.send?.(m);
const sockets: dgram.Socket[] = [];
const bySsrc = new Map<number, ConsumerState>();
const latency = new Histogram();
let unknown = 0;

interface ConsumerState extends ConsumerResult {
  seen: Uint8Array;
  maxIndex: number;
}

function onPacket(packet: Buffer): void {
  const now = process.hrtime.bigint();
  if (!isRtp(packet)) return;
  const state = bySsrc.get(packet.readUInt32BE(8));
  if (!state) {
    unknown++;
    return;
  }
  const { index, sentNs } = readTrailer(packet);
  latency.add(Number(now - sentNs) / 1000);
  if (index >= state.seen.length) {
    const grown = new Uint8Array(Math.max(index + 1, state.seen.length * 2));
    grown.set(state.seen);
    state.seen = grown;
  }
  if (state.seen[index]) {
    state.duplicates++;
    return;
  }
  state.seen[index] = 1;
  state.received++;
  if (index < state.maxIndex) state.outOfOrder++;
  else state.maxIndex = index;
}

process.on('message', async (m: ToChild) => {
  if (m.type === 'listen') {
    for (let i = 0; i < m.sockets; i++) {
      const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
      socket.on('message', onPacket);
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      sockets.push(socket);
    }
    send({ type: 'ports', ports: sockets.map((s) => s.address().port) });
  } else if (m.type === 'expect') {
    for (const e of m.expectations as Expectation[]) {
      bySsrc.set(e.ssrc >>> 0, {
        consumer: e.consumer,
        producer: e.producer,
        received: 0,
        duplicates: 0,
        outOfOrder: 0,
        seen: new Uint8Array(1024),
        maxIndex: -1,
      });
    }
    send({ type: 'ports', ports: [] });
  } else if (m.type === 'finish') {
    const consumers = [...bySsrc.values()].map(({ consumer, producer, received, duplicates, outOfOrder }) => ({
      consumer,
      producer,
      received,
      duplicates,
      outOfOrder,
    }));
    send({ type: 'results', consumers, latency: { counts: latency.counts, max: latency.max }, unknown });
    for (const s of sockets) s.close();
  }
});
