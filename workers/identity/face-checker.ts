// The server's side of face checks: starts the face process on first use, describes still images
// (reference photos), and taps a participant's video producer with a PlainTransport consumer whose key
// frames the face process decodes and checks.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { openTap, type Tap } from '../taps/tap.ts';
import type { FaceSummary, FromFace, ToFace } from './face-messages.ts';
import type { MediaRoom } from '../media/room.ts';
import { disconnectChild, reapOnExit } from '../taps/children.ts';

export const FACE_PEER = 'face-checker';

export type FrameResult = Extract<FromFace, { type: 'frame' }>;

interface CheckerEvents {
  frame: [frame: FrameResult];
  watchEnded: [info: { watchId: string; error?: string }];
}

/** A participant's video, tapped for face checks. */
export interface FaceWatch {
  readonly watchId: string;
  readonly producerId: string;
  /** Asks the sender for a key frame: the face process checks each key frame it gets. */
  sample(): void;
  close(): void;
}

export class FaceChecker extends EventEmitter<CheckerEvents> {
  private child?: ChildProcess;
  private ready?: Promise<string>;
  private nextId = 1;
  private readonly described = new Map<number, (m: Extract<FromFace, { type: 'described' }>) => void>();
  private readonly listening = new Map<string, (port: number) => void>();
  /** Watches running in the face process (their decoders die with it). */
  private readonly active = new Set<string>();
  private closing = false;

  constructor(private readonly portRange: { min: number; max: number }) {
    super();
  }

  /** Starts the face process (model load: a second or two) once; resolves with the model's description. */
  start(): Promise<string> {
    this.ready ??= new Promise<string>((resolve, reject) => {
      const child = fork(fileURLToPath(new URL('./face-process.ts', import.meta.url)), [], {
        execArgv: ['--import', 'tsx'],
        serialization: 'advanced',
        env: { ...process.env, FACE_PORT_MIN: String(this.portRange.min), FACE_PORT_MAX: String(this.portRange.max) },
      });
      reapOnExit(child);
      this.child = child;
      child.on('message', (m: FromFace) => {
        if (m.type === 'ready') resolve(m.model);
        else if (m.type === 'described') this.described.get(m.id)?.(m);
        else if (m.type === 'listening') this.listening.get(m.watchId)?.(m.port);
        else if (m.type === 'frame') this.emit('frame', m);
        else if (m.type === 'watchEnded') this.emit('watchEnded', m);
      });
      child.on('exit', (code, signal) => {
        reject(new Error(`face process exited (${code ?? signal}) before its model loaded`));
        this.ready = undefined;
        this.child = undefined;
        for (const settle of this.described.values()) settle({ type: 'described', id: 0, faces: [], error: 'face process exited' });
        this.described.clear();
        if (!this.closing) {
          const ended = new Set([...this.listening.keys(), ...this.active]);
          this.listening.clear();
          this.active.clear();
          for (const watchId of ended) this.emit('watchEnded', { watchId, error: `face process exited (${code ?? signal})` });
        }
      });
    });
    return this.ready;
  }

  /** The face process (for the benchmark's memory figures). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Every face in an RGB image, with its 128-d descriptor. */
  async describe(rgb: Uint8Array, width: number, height: number): Promise<(FaceSummary & { descriptor: number[] })[]> {
    await this.start();
    const id = this.nextId++;
    const reply = await new Promise<Extract<FromFace, { type: 'described' }>>((resolve) => {
      this.described.set(id, resolve);
      this.send({ type: 'describe', id, rgb, width, height });
    });
    this.described.delete(id);
    if (reply.error) throw new Error(`face model: ${reply.error}`);
    return reply.faces;
  }

  /** Taps `producerId` (a video producer in `room`) and compares its key frames with `reference`. */
  async watch(room: MediaRoom, producerId: string, reference: number[]): Promise<FaceWatch> {
    await this.start();
    const watchId = randomUUID();
    let tap: Tap | undefined;
    try {
      tap = await openTap(room, FACE_PEER, producerId, { rtcpMux: false });
      const codec = tap.codecMessage;
      const port = await new Promise<number>((resolve, reject) => {
        this.listening.set(watchId, resolve);
        setTimeout(() => reject(new Error('the face decoder did not open its port')), 15_000).unref();
        this.send({
          type: 'watch',
          watchId,
          codec,
          reference,
        });
      });
      await tap.connect(port); // its key frame (the first one decoded) now reaches the decoder
    } catch (error) {
      this.listening.delete(watchId);
      this.send({ type: 'unwatch', watchId });
      tap?.close();
      throw error;
    }
    const tapped = tap;
    this.active.add(watchId);
    return {
      watchId,
      producerId,
      sample: () => void tapped.consumer.requestKeyFrame().catch(() => undefined),
      close: () => {
        this.listening.delete(watchId);
        this.active.delete(watchId);
        this.send({ type: 'unwatch', watchId });
        tapped.close();
      },
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    await disconnectChild(this.child, 3000);
  }

  private send(m: ToFace): void {
    if (this.child?.connected) this.child.send(m);
  }
}
