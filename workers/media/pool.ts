import { EventEmitter } from 'node:events';
import os from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';

export interface MediaPoolOptions {
  /** Number of mediasoup workers; default one per core. */
  size?: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel?: types.WorkerLogLevel;
}

export interface PoolSlot {
  index: number;
  worker: types.Worker;
  /** Routers currently placed on this worker (the load measure). */
  routers: number;
}

interface PoolEvents {
  /** A worker died and was replaced: routers on the old one are gone. */
  workerReplaced: [info: { index: number; deadPid: number; newPid: number; error: string }];
  workerLost: [info: { index: number; deadPid: number; error: string }];
}

/**
 * One mediasoup worker per core. Routers go to the least-loaded worker; a dead worker is replaced in
 * its slot and listeners are told so that they rebuild what lived on it.
 */
export class MediaPool extends EventEmitter<PoolEvents> {
  private readonly slots: PoolSlot[] = [];
  private closed = false;

  private constructor(private readonly options: MediaPoolOptions) {
    super();
  }

  static async create(options: MediaPoolOptions): Promise<MediaPool> {
    const pool = new MediaPool(options);
    const size = options.size ?? os.availableParallelism();
    if (!Number.isInteger(size) || size < 1) throw new Error(`invalid media worker count: ${size}`);
    const span = Math.floor((options.rtcMaxPort - options.rtcMinPort + 1) / size);
    if (span < 10) throw new Error('RTC port range too small for the number of workers');
    for (let index = 0; index < size; index++) {
      pool.slots.push({ index, worker: await pool.spawn(index, span), routers: 0 });
    }
    return pool;
  }

  get workers(): readonly PoolSlot[] {
    return this.slots;
  }

  /** CPU time (user + system, ms) each live worker has used so far (a worker that cannot answer is left out). */
  async cpuMs(): Promise<{ slot: PoolSlot; ms: number }[]> {
    const out: { slot: PoolSlot; ms: number }[] = [];
    for (const slot of this.slots) {
      if (slot.worker.died) continue;
      const usage = await slot.worker.getResourceUsage().catch(() => undefined);
      if (usage) out.push({ slot, ms: usage.ru_utime + usage.ru_stime });
    }
    return out;
  }

  /** The slot with the fewest routers (ties: lowest index). */
  leastLoaded(): PoolSlot {
    let best: PoolSlot | undefined;
    for (const slot of this.slots) {
      if (slot.worker.died) continue;
      if (!best || slot.routers < best.routers) best = slot;
    }
    if (!best) throw new Error('no live mediasoup worker');
    return best;
  }

  async createRouter(mediaCodecs: types.RtpCodecCapability[]): Promise<{ router: types.Router; slot: PoolSlot }> {
    const slot = this.leastLoaded();
    const router = await slot.worker.createRouter({ mediaCodecs });
    slot.routers++;
    router.observer.once('close', () => {
      slot.routers = Math.max(0, slot.routers - 1);
    });
    return { router, slot };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots) slot.worker.close();
  }

  private async spawn(index: number, span: number): Promise<types.Worker> {
    const rtcMinPort = this.options.rtcMinPort + index * span;
    const worker = await mediasoup.createWorker({
      logLevel: this.options.logLevel ?? 'warn',
      rtcMinPort,
      rtcMaxPort: rtcMinPort + span - 1,
      appData: { index },
    });
    worker.on('died', (error: Error) => void this.replace(index, span, worker, error));
    return worker;
  }

  private async replace(index: number, span: number, dead: types.Worker, error: Error): Promise<void> {
    if (this.closed) return;
    const slot = this.slots[index];
    if (!slot || slot.worker !== dead) return;
    slot.routers = 0;
    try {
      slot.worker = await this.spawn(index, span);
      this.emit('workerReplaced', { index, deadPid: dead.pid, newPid: slot.worker.pid, error: error.message });
    } catch (spawnError) {
      this.emit('workerLost', { index, deadPid: dead.pid, error: String(spawnError) });
    }
  }
}
