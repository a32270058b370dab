import client from 'prom-client';
import type { MediaPlane } from '../../workers/media/plane.ts';
import type { Store } from '../store/store.ts';
import { HEARING_STATES } from '../hearing/state.ts';
import type { StreamHealth } from '../livestream/livestream.ts';
import type { ImageDecoder } from '../evidence/images.ts';
import type { Cluster } from '../cluster/cluster.ts';

/** Prometheus metrics, read from the live media plane and the store at scrape time. */
export function createMetrics(o: {
  plane: MediaPlane;
  store: Store;
  processFaults: () => number;
  streams: () => StreamHealth[];
  images: ImageDecoder;
  /** Cluster mode: the nodes as Redis has them (read at scrape time). */
  cluster?: () => Cluster | undefined;
}): client.Registry {
  const { plane, store, processFaults } = o;
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'hearing_process_' });

  new client.Counter({
    name: 'hearing_process_faults_total',
    help: 'Errors no handler caught (unhandled rejections, uncaught exceptions), contained by the process guard',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(processFaults());
    },
  });
  // Cluster mode: every node's view of the cluster, so one scrape of any node shows a lost or draining one.
  if (o.cluster) {
    const cluster = o.cluster;
    new client.Gauge({
      name: 'hearing_cluster_node_hearings',
      help: 'Hearings placed on each live node of the cluster (not closed), as Redis counts them; draining="1" for a draining node',
      labelNames: ['node', 'draining'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const n of (await cluster()
          ?.nodes()
          .catch(() => [])) ?? [])
          this.set({ node: n.id, draining: n.draining ? '1' : '0' }, n.load.hearings);
      },
    });
  }
  new client.Gauge({
    name: 'hearing_media_workers',
    help: 'Live mediasoup workers',
    registers: [registry],
    collect() {
      this.set(plane.pool.workers.filter((s) => !s.worker.died).length);
    },
  });
  new client.Gauge({
    name: 'hearing_media_routers',
    help: 'Routers per worker slot',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      for (const slot of plane.pool.workers) this.set({ worker: String(slot.index) }, slot.routers);
    },
  });
  for (const kind of ['transports', 'producers', 'consumers'] as const) {
    new client.Gauge({
      name: `hearing_media_${kind}`,
      help: `Open mediasoup ${kind} across all hearings`,
      registers: [registry],
      collect() {
        this.set(plane.all().reduce((sum, room) => sum + room.counts()[kind], 0));
      },
    });
  }
  new client.Gauge({
    name: 'hearing_media_worker_cpu_seconds',
    help: 'CPU time (user + system) used by each mediasoup worker process',
    labelNames: ['worker', 'pid'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { slot, ms } of await plane.pool.cpuMs())
        this.set({ worker: String(slot.index), pid: String(slot.worker.pid) }, ms / 1000);
    },
  });
  new client.Gauge({
    name: 'hearing_hearings',
    help: 'Hearings by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = store.countByState();
      for (const state of HEARING_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  // Public streams: how each keeps up (see LivestreamService.watch).
  const perStream = (name: string, help: string, value: (s: StreamHealth) => number | null): void => {
    new client.Gauge({
      name,
      help,
      labelNames: ['hearing'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of o.streams()) {
          const v = value(s);
          if (s.state !== 'ended' && s.state !== 'cut' && v !== null) this.set({ hearing: s.hearingId }, v);
        }
      },
    });
  };
  perStream(
    'hearing_stream_level',
    'Step of the quality ladder the program is on (0: as configured; the last: sound only)',
    (s) => s.level,
  );
  perStream('hearing_stream_realtime_ratio', 'Program output time over wall time in the last seconds (1: keeping up)', (s) => s.rate);
  perStream('hearing_stream_lag_seconds', 'How far the program has fallen behind real time since its run began', (s) => s.lagMs / 1000);
  perStream('hearing_stream_segment_age_seconds', 'Seconds since the program last finished a segment', (s) => s.segmentAgeMs / 1000);
  perStream('hearing_stream_degradations_total', 'Steps down the quality ladder since the stream started', (s) => s.degradations);
  perStream('hearing_stream_stalls_total', 'Runs rebuilt because the encoder stopped advancing', (s) => s.stalls);
  new client.Gauge({
    name: 'hearing_stream_condition',
    help: 'Each stream’s condition: 1 for the one it is in (starting, ok, slow: behind real time, stuck: not advancing)',
    labelNames: ['hearing', 'condition'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of o.streams())
        if (s.state === 'live' || s.state === 'paused') this.set({ hearing: s.hearingId, condition: s.condition }, 1);
    },
  });
  new client.Gauge({
    name: 'hearing_image_decodes_pending',
    help: 'Uploaded photos being decoded or waiting in the image process',
    registers: [registry],
    collect() {
      this.set(o.images.load);
    },
  });
  new client.Gauge({
    name: 'hearing_image_process_kills',
    help: 'Image processes ended by a photo that took too long or too much memory',
    registers: [registry],
    collect() {
      this.set(o.images.killed);
    },
  });
  return registry;
}
