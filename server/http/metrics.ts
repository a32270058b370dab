import client from 'prom-client';
import type { MediaPlane } from '../../workers/media/plane.ts';
import type { Store } from '../store/store.ts';
import { HEARING_STATES } from '../hearing/state.ts';

/** Prometheus metrics, read from the live media plane and the store at scrape time. */
export function createMetrics(plane: MediaPlane, store: Store, processFaults: () => number): client.Registry {
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
      for (const slot of plane.pool.workers) {
        if (slot.worker.died) continue;
        const usage = await slot.worker.getResourceUsage().catch(() => undefined);
        if (usage) this.set({ worker: String(slot.index), pid: String(slot.worker.pid) }, (usage.ru_utime + usage.ru_stime) / 1000);
      }
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
  return registry;
}
