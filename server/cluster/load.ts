import os from 'node:os';
import type { MediaPlane } from '../../workers/media/plane.ts';
import type { NodeLoad } from './cluster.ts';

/**
 * This node's load for the cluster: its hearings, routers, transports, live media workers, and the
 * share of its cores that the server process and its mediasoup workers used since the last sample.
 */
export function loadSampler(
  plane: MediaPlane,
  hearings: () => number,
  /** Galleries this node serves for hearings hosted elsewhere (their routers and transports count too). */
  galleries: () => { galleries: number; viewers: number; transports: number } = () => ({ galleries: 0, viewers: 0, transports: 0 }),
): () => Promise<NodeLoad> {
  let last: { at: number; cpuMs: number } | undefined;
  return async () => {
    const live = plane.pool.workers.filter((s) => !s.worker.died);
    let cpuMs = (await plane.pool.cpuMs()).reduce((sum, w) => sum + w.ms, 0);
    const own = process.cpuUsage();
    cpuMs += (own.user + own.system) / 1000;
    const at = performance.now();
    const cpu = last && at > last.at ? Math.max(0, cpuMs - last.cpuMs) / (at - last.at) / os.availableParallelism() : 0;
    last = { at, cpuMs };
    const rooms = plane.all();
    const served = galleries();
    return {
      hearings: hearings(),
      routers: rooms.length + served.galleries,
      transports: rooms.reduce((sum, room) => sum + room.counts().transports, 0) + served.transports,
      galleries: served.galleries,
      galleryViewers: served.viewers,
      workers: live.length,
      cpu: Math.min(1, cpu),
    };
  };
}
