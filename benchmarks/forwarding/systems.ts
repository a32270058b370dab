import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { mediaCodecs } from '../../workers/media/config.ts';
import { MediaPlane } from '../../workers/media/plane.ts';
import type { FromChild, SendTarget, ToChild } from './messages.ts';
import type { FromNode, ToNode } from './node.ts';

export interface Layout {
  hearings: number;
  publishers: number;
  subscribers: number;
  video: boolean;
  workers: number;
}

export interface ProducerSpec {
  index: number;
  hearing: number;
  kind: 'audio' | 'video';
  ssrc: number;
  payloadType: number;
}

export interface ConsumerSpec {
  consumer: number;
  producer: number;
  /** SSRC of the packets as they arrive at the receiver. */
  ssrc: number;
  port: number;
}

export interface Deployed {
  targets: SendTarget[];
  consumers: ConsumerSpec[];
  /** Processes doing the forwarding, for CPU accounting. */
  pids: number[];
  close(): Promise<void>;
}

export type SystemName = 'ours' | 'bare' | 'relay' | 'span' | 'server';

export function producersOf(layout: Layout): ProducerSpec[] {
  const list: ProducerSpec[] = [];
  for (let h = 0; h < layout.hearings; h++) {
    for (let p = 0; p < layout.publishers; p++) {
      for (const kind of layout.video ? (['audio', 'video'] as const) : (['audio'] as const)) {
        const index = list.length;
        list.push({ index, hearing: h, kind, ssrc: 0x10000000 + index, payloadType: kind === 'audio' ? 111 : 96 });
      }
    }
  }
  return list;
}

export function rtpParametersFor(spec: ProducerSpec): types.RtpParameters {
  const codec =
    spec.kind === 'audio'
      ? {
          mimeType: 'audio/opus',
          payloadType: spec.payloadType,
          clockRate: 48000,
          channels: 2,
          parameters: { useinbandfec: 1 },
          rtcpFeedback: [],
        }
      : {
          mimeType: 'video/VP8',
          payloadType: spec.payloadType,
          clockRate: 90000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
        };
  return { codecs: [codec], encodings: [{ ssrc: spec.ssrc }] };
}

const LOCAL = '127.0.0.1';

/** Ours: the server's own media plane (worker pool, rooms with active-speaker observers). */
async function deployOurs(layout: Layout, ports: number[], rtcMinPort: number): Promise<Deployed> {
  const plane = await MediaPlane.create({ size: layout.workers, rtcMinPort, rtcMaxPort: rtcMinPort + 9999, listenIp: LOCAL });
  const producers = producersOf(layout);
  const targets: SendTarget[] = [];
  const produced: string[] = [];
  for (const spec of producers) {
    const room = await plane.room(`hearing-${spec.hearing}`);
    const transport = await room.createPlainTransport(`pub-${spec.index}`, 'send', { comedia: true });
    const producer = await room.produce(
      `pub-${spec.index}`,
      transport.id,
      spec.kind,
      rtpParametersFor(spec),
      spec.kind === 'audio' ? 'mic' : 'camera',
    );
    produced.push(producer.id);
    targets.push({
      ip: LOCAL,
      port: transport.tuple.localPort,
      ssrc: spec.ssrc,
      payloadType: spec.payloadType,
      kind: spec.kind,
      producer: spec.index,
    });
  }
  const consumers: ConsumerSpec[] = [];
  let sub = 0;
  for (let h = 0; h < layout.hearings; h++) {
    const room = await plane.room(`hearing-${h}`);
    for (let s = 0; s < layout.subscribers; s++, sub++) {
      const who = `sub-${h}-${s}`;
      const port = ports[sub % ports.length]!;
      const transport = await room.createPlainTransport(who, 'recv');
      await room.connectPlainTransport(who, transport.id, { ip: LOCAL, port });
      for (const spec of producers.filter((p) => p.hearing === h)) {
        const consumer = await room.consume(who, transport.id, produced[spec.index]!, room.rtpCapabilities);
        consumers.push({ consumer: consumers.length, producer: spec.index, ssrc: consumer.rtpParameters.encodings![0]!.ssrc!, port });
      }
    }
  }
  return { targets, consumers, pids: plane.pool.workers.map((w) => w.worker.pid), close: () => plane.close() };
}

/** Bare mediasoup: the minimal app anyone would write with the library directly, same codecs and placement. */
async function deployBare(layout: Layout, ports: number[], rtcMinPort: number): Promise<Deployed> {
  const span = Math.floor(10000 / layout.workers);
  const workers = await Promise.all(
    Array.from({ length: layout.workers }, (_, i) =>
      mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: rtcMinPort + i * span, rtcMaxPort: rtcMinPort + (i + 1) * span - 1 }),
    ),
  );
  const routers = await Promise.all(
    Array.from({ length: layout.hearings }, (_, h) => workers[h % workers.length]!.createRouter({ mediaCodecs })),
  );
  const producers = producersOf(layout);
  const targets: SendTarget[] = [];
  const produced: types.Producer[] = [];
  for (const spec of producers) {
    const router = routers[spec.hearing]!;
    const transport = await router.createPlainTransport({ listenIp: LOCAL, rtcpMux: true, comedia: true });
    produced.push(await transport.produce({ kind: spec.kind, rtpParameters: rtpParametersFor(spec) }));
    targets.push({
      ip: LOCAL,
      port: transport.tuple.localPort,
      ssrc: spec.ssrc,
      payloadType: spec.payloadType,
      kind: spec.kind,
      producer: spec.index,
    });
  }
  const consumers: ConsumerSpec[] = [];
  let sub = 0;
  for (let h = 0; h < layout.hearings; h++) {
    const router = routers[h]!;
    for (let s = 0; s < layout.subscribers; s++, sub++) {
      const port = ports[sub % ports.length]!;
      const transport = await router.createPlainTransport({ listenIp: LOCAL, rtcpMux: true, comedia: false });
      await transport.connect({ ip: LOCAL, port });
      for (const spec of producers.filter((p) => p.hearing === h)) {
        const consumer = await transport.consume({ producerId: produced[spec.index]!.id, rtpCapabilities: router.rtpCapabilities });
        consumers.push({ consumer: consumers.length, producer: spec.index, ssrc: consumer.rtpParameters.encodings![0]!.ssrc!, port });
      }
    }
  }
  return {
    targets,
    consumers,
    pids: workers.map((w) => w.pid),
    close: async () => {
      for (const w of workers) w.close();
    },
  };
}

/** Raw UDP relay in its own process: the floor any forwarder has to pay. */
async function deployRelay(layout: Layout, ports: number[]): Promise<Deployed> {
  const producers = producersOf(layout);
  const consumers: ConsumerSpec[] = [];
  const routes = producers.map(() => ({ destinations: [] as { port: number; ssrc: number }[] }));
  let sub = 0;
  for (let h = 0; h < layout.hearings; h++) {
    for (let s = 0; s < layout.subscribers; s++, sub++) {
      const port = ports[sub % ports.length]!;
      for (const spec of producers.filter((p) => p.hearing === h)) {
        const ssrc = 0x20000000 + consumers.length;
        routes[spec.index]!.destinations.push({ port, ssrc });
        consumers.push({ consumer: consumers.length, producer: spec.index, ssrc, port });
      }
    }
  }
  const child = fork(fileURLToPath(new URL('./relay.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
  const ingest = await ask<{ type: 'ports'; ports: number[] }>(child, { type: 'relay', routes });
  const targets = producers.map((spec) => ({
    ip: LOCAL,
    port: ingest.ports[spec.index]!,
    ssrc: spec.ssrc,
    payloadType: spec.payloadType,
    kind: spec.kind,
    producer: spec.index,
  }));
  return {
    targets,
    consumers,
    pids: [child.pid!],
    close: async () => {
      child.kill();
    },
  };
}

/** A node process (node.ts): our media plane, or with `whole` our whole server. */
function forkNode(): ChildProcess {
  return fork(fileURLToPath(new URL('./node.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
}

/** One request to a node; its answer must be of the type expected. */
async function callNode<T extends FromNode['type']>(node: ChildProcess, m: ToNode, expect: T): Promise<Extract<FromNode, { type: T }>> {
  const reply = await ask<FromNode, ToNode>(node, m, 60_000);
  if (reply.type !== expect) throw new Error(`node ${node.pid} answered ${m.type} with ${JSON.stringify(reply)}`);
  return reply as Extract<FromNode, { type: T }>;
}

/**
 * The publishers' RTP into `ingest` (a node's plain transports), and every hearing's subscribers on the
 * node `subscriberNode` picks for them; the nodes are stopped by the returned `close` (or at once on failure).
 */
async function deployOnNodes(
  nodes: ChildProcess[],
  ingest: ChildProcess,
  pids: number[],
  layout: Layout,
  ports: number[],
  subscriberNode: (s: number) => ChildProcess,
  between: (producers: ProducerSpec[]) => Promise<void> = async () => undefined,
): Promise<Deployed> {
  try {
    const producers = producersOf(layout);
    const ingested = await callNode(ingest, { type: 'produce', specs: producers }, 'targets');
    const targets = producers.map((spec, i) => ({
      ip: LOCAL,
      port: ingested.ports[i]!,
      ssrc: spec.ssrc,
      payloadType: spec.payloadType,
      kind: spec.kind,
      producer: spec.index,
    }));
    await between(producers);
    const consumers: ConsumerSpec[] = [];
    let sub = 0;
    for (let h = 0; h < layout.hearings; h++) {
      const mine = producers.filter((p) => p.hearing === h);
      for (let s = 0; s < layout.subscribers; s++, sub++) {
        const port = ports[sub % ports.length]!;
        const reply = await callNode(
          subscriberNode(s),
          { type: 'consume', hearing: h, who: `sub-${h}-${s}`, port, producers: mine.map((p) => p.index) },
          'consumers',
        );
        mine.forEach((spec, k) => consumers.push({ consumer: consumers.length, producer: spec.index, ssrc: reply.ssrcs[k]!, port }));
      }
    }
    return {
      targets,
      consumers,
      pids,
      close: async () => {
        for (const n of nodes) n.disconnect();
        await new Promise((r) => setTimeout(r, 1000));
        for (const n of nodes) n.kill('SIGKILL');
      },
    };
  } catch (error) {
    for (const n of nodes) n.kill('SIGKILL');
    throw error;
  }
}

/**
 * Ours across two nodes: two processes, each with our media plane (half the workers each). Node A takes
 * the publishers and pipes every producer to node B over one PipeTransport per hearing (UDP, as between
 * two machines); even subscribers consume on A, odd ones on B.
 */
async function deploySpan(layout: Layout, ports: number[], rtcMinPort: number): Promise<Deployed> {
  const nodes = [forkNode(), forkNode()];
  const [a, b] = nodes as [ChildProcess, ChildProcess];
  let pids: number[];
  try {
    const perNode = Math.max(1, Math.floor(layout.workers / 2));
    pids = [
      ...(await callNode(a, { type: 'init', workers: perNode, rtcMinPort }, 'ok')).pids,
      ...(await callNode(b, { type: 'init', workers: perNode, rtcMinPort: rtcMinPort + 5000 }, 'ok')).pids,
    ];
  } catch (error) {
    for (const n of nodes) n.kill('SIGKILL');
    throw error;
  }
  const pipe = async (producers: ProducerSpec[]): Promise<void> => {
    for (let h = 0; h < layout.hearings; h++) {
      const pa = await callNode(a, { type: 'pipe-open', hearing: h }, 'pipe');
      const pb = await callNode(b, { type: 'pipe-open', hearing: h }, 'pipe');
      await callNode(a, { type: 'pipe-connect', hearing: h, port: pb.port }, 'ok');
      await callNode(b, { type: 'pipe-connect', hearing: h, port: pa.port }, 'ok');
      for (const spec of producers.filter((p) => p.hearing === h)) {
        const piped = await callNode(a, { type: 'pipe-out', hearing: h, producer: spec.index }, 'piped');
        await callNode(
          b,
          {
            type: 'pipe-in',
            hearing: h,
            producer: spec.index,
            producerId: piped.producerId,
            kind: piped.kind,
            rtpParameters: piped.rtpParameters,
          },
          'ok',
        );
      }
    }
  };
  return deployOnNodes(nodes, a, pids, layout, ports, (s) => (s % 2 === 0 ? a : b), pipe);
}

/**
 * Our whole server (REST, signaling, the hearings' lifecycle, the recorder paused; transcription off) in a
 * process of its own, as an operator runs it: each hearing created and opened over REST, publishers and
 * subscribers its participants. Its CPU is every process of the server's.
 */
async function deployServer(layout: Layout, ports: number[], rtcMinPort: number): Promise<Deployed> {
  const node = forkNode();
  let pids: number[];
  try {
    pids = (await callNode(node, { type: 'init', workers: layout.workers, rtcMinPort, whole: true }, 'ok')).pids;
  } catch (error) {
    node.kill('SIGKILL');
    throw error;
  }
  return deployOnNodes([node], node, pids, layout, ports, () => node);
}

export function deploy(system: SystemName, layout: Layout, ports: number[], rtcMinPort: number): Promise<Deployed> {
  if (system === 'ours') return deployOurs(layout, ports, rtcMinPort);
  if (system === 'span') return deploySpan(layout, ports, rtcMinPort);
  if (system === 'server') return deployServer(layout, ports, rtcMinPort);
  if (system === 'bare') return deployBare(layout, ports, rtcMinPort);
  return deployRelay(layout, ports);
}

/** Sends a message to a child and waits for its next reply (bounded by a timeout). */
export function ask<T extends FromChild | FromNode, M extends ToChild | ToNode = ToChild>(
  child: ChildProcess,
  message: M,
  timeoutMs = 120_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child ${child.pid} did not answer ${message.type}`)), timeoutMs);
    child.once('message', (reply: T) => {
      clearTimeout(timer);
      resolve(reply);
    });
    child.send(message);
  });
}
