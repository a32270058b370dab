// Child process: one "node" of the two-node simulation. It runs our media plane (its own mediasoup
// workers); node A takes the publishers' RTP and pipes every producer over a mediasoup PipeTransport
// (UDP on 127.0.0.1, as between two machines) to node B; each node serves its share of the subscribers.
// With `whole`, the node is our whole server instead (REST, signaling, the hearings' lifecycle, the
// recorder; transcription off): each hearing is created and opened over REST, its recording paused by
// the court (forwarding only), and every publisher and subscriber is one of its participants.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types } from 'mediasoup';
import { startServer, type HearingServer } from '../../server/app/server.ts';
import { configFromEnv } from '../../server/app/config.ts';
import { processTree } from '../lib/proc.ts';
import { rest } from '../lib/rest.ts';
import { MediaPlane } from '../../workers/media/plane.ts';
import type { MediaRoom } from '../../workers/media/room.ts';
import { rtpParametersFor, type ProducerSpec } from './systems.ts';

const LOCAL = '127.0.0.1';

export type ToNode =
  | { type: 'init'; workers: number; rtcMinPort: number; whole?: boolean }
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
let server: HearingServer | undefined;
const rooms = new Map<number, MediaRoom>();
/** With the whole server: each hearing's id, and a participant's id by the name the benchmark gives it. */
const hearingIds = new Map<number, string>();
const participantIds = new Map<string, string>();

/** A REST call to the whole server (`/api/v1…`), its answer. */
const api = (method: string, route: string, body: unknown) => rest(server!.url, server!.secrets.apiKey, method, route, body);

/** The participant the benchmark calls `who` (added to the hearing over REST the first time). */
async function participant(hearing: number, who: string, role: 'party' | 'viewer'): Promise<string> {
  if (!server) return who;
  let id = participantIds.get(who);
  if (!id) {
    id = (await api('POST', `/hearings/${hearingIds.get(hearing)!}/participants`, { name: who, role })).id;
    participantIds.set(who, id);
  }
  return id;
}
const pipes = new Map<number, types.PipeTransport>();
/** Producer spec index → mediasoup producer id (on A: our producers; on B: the piped ones). */
const producerIds = new Map<number, string>();

async function room(hearing: number): Promise<MediaRoom> {
  let r = rooms.get(hearing);
  if (r) return r;
  if (server) {
    const { id } = await api('POST', '/hearings', { caseNumber: `(2026)bench-${hearing}`, title: `forwarding ${hearing}` });
    hearingIds.set(hearing, id);
    for (const to of ['waiting_room', 'open']) await api('POST', `/hearings/${id}/transitions`, { to });
    // The recording starts with the session, a moment after the transition: paused once it has.
    const until = Date.now() + 10_000;
    while (!(await server.recorder.pause(id, 'bench', 'forwarding only, as bare mediasoup does'))) {
      if (Date.now() > until) throw new Error(`the recording of hearing ${hearing} never started, so it cannot be paused`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    r = await plane!.room(id);
  } else r = await plane!.room(`hearing-${hearing}`);
  rooms.set(hearing, r);
  return r;
}

async function handle(m: ToNode): Promise<FromNode> {
  switch (m.type) {
    case 'init':
      if (m.whole) {
        server = await startServer({
          ...configFromEnv({}),
          port: 0,
          host: LOCAL,
          listenIp: LOCAL,
          announcedIp: undefined,
          workers: m.workers,
          rtcMinPort: m.rtcMinPort,
          rtcMaxPort: m.rtcMinPort + 4999,
          dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-forwarding-server-')),
          apiKey: 'bench-forwarding-api-key-0123456789',
          asrEngine: 'off',
          demo: false,
        });
        plane = server.plane;
        // Every process of the server counts: its own (REST, signaling, the lifecycle), the media workers and
        // what else it started (the recorder, the face process).
        return { type: 'ok', pids: processTree(process.pid) };
      }
      plane = await MediaPlane.create({ size: m.workers, rtcMinPort: m.rtcMinPort, rtcMaxPort: m.rtcMinPort + 4999, listenIp: LOCAL });
      return { type: 'ok', pids: plane.pool.workers.map((w) => w.worker.pid!) };
    case 'produce': {
      const ports: number[] = [];
      for (const spec of m.specs) {
        const r = await room(spec.hearing);
        const who = await participant(spec.hearing, `pub-${spec.index}`, 'party');
        const transport = await r.createPlainTransport(who, 'send', { comedia: true });
        const producer = await r.produce(who, transport.id, spec.kind, rtpParametersFor(spec), spec.kind === 'audio' ? 'mic' : 'camera');
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
      if (server) {
        // The whole server: the subscriber is a participant (a viewer), consuming as participants do.
        const who = await participant(m.hearing, m.who, 'viewer');
        const transport = await r.createPlainTransport(who, 'recv');
        await r.connectPlainTransport(who, transport.id, { ip: LOCAL, port: m.port });
        const ssrcs: number[] = [];
        for (const index of m.producers) {
          const consumer = await r.consume(who, transport.id, producerIds.get(index)!, r.rtpCapabilities);
          ssrcs.push(consumer.rtpParameters.encodings![0]!.ssrc!);
        }
        return { type: 'consumers', ssrcs };
      }
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
  void (server ? server.close() : (plane?.close() ?? Promise.resolve())).finally(() => process.exit(0));
});
