// Child process: one "node" of the two-node simulation. It runs our media plane (its own mediasoup
// workers); node A takes the publishers' RTP and pipes every producer over a mediasoup PipeTransport
// (UDP on 127.0.0.1, as between two machines) to node B; each node serves its share of the subscribers.
import type { types } from 'mediasoup';
import { MediaPlane } from '../../workers/media/plane.ts';
import type { MediaRoom } from '../../workers/media/room.ts';
import { rtpParametersFor, type ProducerSpec } from './systems.ts';

const LOCAL = '127.0.0.1';

export type ToNode =
  | { type: 'init'; workers: number; rtcMinPort: number }
  | { type: 'produce'; specs: ProducerSpec[] }
  | { type: 'pipe-open'; hearing: number }
  | { type: 'pipe-connect'; hearing: number; port: number }
  | { type: 'pipe-out'; hearing: number; producer: number }
  | { type: 'pipe-in'; hearing: number; producer: number; producerId: string; kind: types.MediaKind; rtpParameters: types.RtpParameters }
  | { type: 'consume'; hearing: number; who: string; port: number; producers: number[] };

export type FromNode =
  | { type: 'ok'; pids: number[] }
  | { type: 'targets'; ports: number[] }
  | { type: 'pipe'; port: number }
  | { type: 'piped'; producerId: string; kind: types.MediaKind; rtpParameters: types.RtpParameters }
  | { type: 'consumers'; ssrcs: number[] }
  | { type: 'error'; message: string };

let plane: MediaPlane | undefined;
const rooms = new Map<number, MediaRoom>();
const pipes = new Map<number, types.PipeTransport>();
/** Producer spec index → mediasoup producer id (on A: our producers; on B: the piped ones). */
const producerIds = new Map<number, string>();

async function room(hearing: number): Promise<MediaRoom> {
  const r = rooms.get(hearing) ?? (await plane!.room(`hearing-${hearing}`));
  rooms.set(hearing, r);
  return r;
}

async function handle(m: ToNode): Promise<FromNode> {
  switch (m.type) {
    case 'init':
      plane = await MediaPlane.create({ size: m.workers, rtcMinPort: m.rtcMinPort, rtcMaxPort: m.rtcMinPort + 4999, listenIp: LOCAL });
      return { type: 'ok', pids: plane.pool.workers.map((w) => w.worker.pid!) };
    case 'produce': {
      const ports: number[] = [];
      for (const spec of m.specs) {
        const r = await room(spec.hearing);
        const transport = await r.createPlainTransport(`pub-${spec.index}`, 'send', { comedia: true });
        const producer = await r.produce(
          `pub-${spec.index}`,
          transport.id,
          spec.kind,
          rtpParametersFor(spec),
          spec.kind === 'audio' ? 'mic' : 'camera',
        );
        producerIds.set(spec.index, producer.id);
        ports.push(transport.tuple.localPort);
      }
      return { type: 'targets', ports };
    }
    case 'pipe-open': {
      const pipe = await (await room(m.hearing)).router.createPipeTransport({ listenIp: LOCAL });
      pipes.set(m.hearing, pipe);
      return { type: 'pipe', port: pipe.tuple.localPort };
    }
    case 'pipe-connect':
      await pipes.get(m.hearing)!.connect({ ip: LOCAL, port: m.port });
      return { type: 'ok', pids: [] };
    case 'pipe-out': {
      const consumer = await pipes.get(m.hearing)!.consume({ producerId: producerIds.get(m.producer)! });
      return { type: 'piped', producerId: consumer.producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
    }
    case 'pipe-in': {
      const producer = await pipes.get(m.hearing)!.produce({ id: m.producerId, kind: m.kind, rtpParameters: m.rtpParameters });
      producerIds.set(m.producer, producer.id);
      return { type: 'ok', pids: [] };
    }
    case 'consume': {
      const r = await room(m.hearing);
      // Subscribers consume through the room's router: on B the producers are piped ones, which no
      // participant of B's room owns.
      const transport = await r.router.createPlainTransport({ listenIp: LOCAL, rtcpMux: true, comedia: false });
      await transport.connect({ ip: LOCAL, port: m.port });
      const ssrcs: number[] = [];
      for (const index of m.producers) {
        const consumer = await transport.consume({ producerId: producerIds.get(index)!, rtpCapabilities: r.rtpCapabilities });
        ssrcs.push(consumer.rtpParameters.encodings![0]!.ssrc!);
      }
      return { type: 'consumers', ssrcs };
    }
  }
}

process.on('message', (m: ToNode) => {
  handle(m).then(
    (reply) => process.send?.(reply),
    (error: Error) => process.send?.({ type: 'error', message: error.message } satisfies FromNode),
  );
});
process.on('disconnect', () => {
  void plane?.close().finally(() => process.exit(0));
});
