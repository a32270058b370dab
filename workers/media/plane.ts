import { EventEmitter } from 'node:events';
import { MediaPool, type MediaPoolOptions } from './pool.ts';
import { MediaRoom, type RoomConfig } from './room.ts';
import { mediaCodecs } from './config.ts';

interface PlaneEvents {
  /** A hearing's router was lost with its worker and rebuilt on a live one; clients must reconnect. */
  roomRecovered: [info: { hearingId: string; deadPid: number; newPid: number; error: string }];
  /** A hearing's router was lost and could not be rebuilt. */
  roomLost: [info: { hearingId: string; deadPid: number; error: string }];
  roomOpened: [room: MediaRoom];
}

/** Owns the worker pool and one MediaRoom per active hearing; rebuilds rooms when a worker dies. */
/** Consultation rooms (a party with a lawyer, apart from the court) live in the plane under this key. */
export const consultationRoomKey = (consultationId: string): string => `consultation:${consultationId}`;
/** Never recorded, transcribed, checked or streamed: every consumer of rooms asks this first. */
export const isConsultationRoom = (room: { hearingId: string }): boolean => room.hearingId.startsWith('consultation:');

export class MediaPlane extends EventEmitter<PlaneEvents> {
  private readonly rooms = new Map<string, MediaRoom>();
  private readonly opening = new Map<string, Promise<MediaRoom>>();

  private constructor(
    readonly pool: MediaPool,
    private readonly config: RoomConfig,
  ) {
    super();
    pool.on('workerReplaced', ({ deadPid, error }) => void this.recover(deadPid, error));
    pool.on('workerLost', ({ deadPid, error }) => void this.recover(deadPid, error));
  }

  static async create(options: MediaPoolOptions & RoomConfig): Promise<MediaPlane> {
    const pool = await MediaPool.create(options);
    return new MediaPlane(pool, { listenIp: options.listenIp, announcedIp: options.announcedIp, opusNack: options.opusNack });
  }

  get(hearingId: string): MediaRoom | undefined {
    return this.rooms.get(hearingId);
  }

  all(): MediaRoom[] {
    return [...this.rooms.values()];
  }

  /** The hearing's room, created on the least-loaded worker the first time anybody needs it. */
  async room(hearingId: string): Promise<MediaRoom> {
    const existing = this.rooms.get(hearingId);
    if (existing) return existing;
    let pending = this.opening.get(hearingId);
    if (!pending) {
      pending = this.openRoom(hearingId).finally(() => this.opening.delete(hearingId));
      this.opening.set(hearingId, pending);
    }
    return pending;
  }

  /**
   * A room on the least-loaded worker that the plane does not list nor announce (nothing records,
   * transcribes or checks it, and it is not rebuilt when its worker dies): its owner closes it.
   */
  async detachedRoom(key: string): Promise<MediaRoom> {
    const { router, slot } = await this.pool.createRouter(mediaCodecs);
    return MediaRoom.open(key, router, slot, this.config);
  }

  closeRoom(hearingId: string): void {
    this.rooms.get(hearingId)?.close();
    this.rooms.delete(hearingId);
  }

  async close(): Promise<void> {
    for (const room of this.rooms.values()) room.close();
    this.rooms.clear();
    await this.pool.close();
  }

  private async openRoom(hearingId: string): Promise<MediaRoom> {
    const { router, slot } = await this.pool.createRouter(mediaCodecs);
    const room = await MediaRoom.open(hearingId, router, slot, this.config);
    this.rooms.set(hearingId, room);
    this.emit('roomOpened', room);
    return room;
  }

  private async recover(deadPid: number, error: string): Promise<void> {
    const lost = [...this.rooms.values()].filter((room) => room.workerPid === deadPid);
    for (const room of lost) {
      room.close();
      this.rooms.delete(room.hearingId);
      try {
        const rebuilt = await this.room(room.hearingId);
        this.emit('roomRecovered', { hearingId: room.hearingId, deadPid, newPid: rebuilt.workerPid, error });
      } catch (rebuildError) {
        this.emit('roomLost', { hearingId: room.hearingId, deadPid, error: `${error}; rebuild: ${String(rebuildError)}` });
      }
    }
  }
}
