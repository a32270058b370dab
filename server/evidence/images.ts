import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AppError } from '../http/errors.ts';
import { spawnTied } from '../../workers/taps/children.ts';
import type { DecodeJob, DecodeResult, Ready } from '../../workers/images/messages.ts';

/**
 * What decoding one uploaded photo may cost. Phone cameras save 12–24 megapixels (a 48 MP sensor bins
 * to 12 or 24 by default): 32 MP is room for those and refuses the 40 MP decompression bombs of a few
 * kilobytes. Photos are decoded one at a time in a separate process limited to `memoryBytes` of address
 * space (Node and libvips reserve ~1 GB of it at start), each within `timeoutMs`; at most `queue`
 * wait, beyond which an upload is refused as busy.
 */
export const IMAGE_LIMITS = { maxPixels: 32_000_000, timeoutMs: 20_000, queue: 8, memoryBytes: 1_600 * 1024 * 1024 };

export interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  thumb?: Buffer;
}

interface Pending {
  job: DecodeJob;
  resolve: (d: Decoded) => void;
  reject: (e: Error) => void;
}

const script = fileURLToPath(new URL('../../workers/images/process.mjs', import.meta.url));

/**
 * Checks uploaded photos (format sniffed from the bytes, byte and pixel limits, fully decoded) and
 * re-encodes them without metadata (EXIF: location, device), in the image process (workers/images).
 * Refusals are 4xx AppErrors; a photo that exhausts the process's time or memory is refused
 * (`image_too_costly`) and the process is started again for the next one.
 */
export class ImageDecoder {
  private child?: ChildProcess;
  private ready = false;
  private current?: Pending & { timer: NodeJS.Timeout; child: ChildProcess };
  private readonly waiting: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Image processes ended by a photo (time or memory): for /metrics and tests. */
  killed = 0;

  constructor(private readonly limits = IMAGE_LIMITS) {}

  reencode(input: Buffer, maxBytes: number, as: 'jpeg' | 'png', thumb?: number): Promise<Decoded> {
    if (input.length === 0) return Promise.reject(new AppError(400, 'empty_upload', 'the uploaded file is empty'));
    if (input.length > maxBytes) return Promise.reject(new AppError(413, 'image_too_large', `the image is over ${maxBytes} bytes`));
    if (this.closed) return Promise.reject(new AppError(503, 'shutting_down', 'the server is shutting down'));
    if (this.waiting.length >= this.limits.queue)
      return Promise.reject(new AppError(503, 'busy', 'too many photos are being checked right now: try again shortly'));
    return new Promise<Decoded>((resolve, reject) => {
      this.waiting.push({ job: { id: this.nextId++, input, as, maxPixels: this.limits.maxPixels, thumb }, resolve, reject });
      this.pump();
    });
  }

  /** Photos being decoded or waiting. */
  get load(): number {
    return this.waiting.length + (this.current ? 1 : 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.waiting.splice(0)) p.reject(new AppError(503, 'shutting_down', 'the server is shutting down'));
    const child = this.child;
    this.child = undefined;
    child?.kill('SIGKILL');
  }

  private pump(): void {
    if (this.current || this.closed || this.waiting.length === 0) return;
    const child = this.spawn();
    // Started anew: the photo goes when the process has loaded its decoder (its start is not the photo's time).
    if (!this.ready) return;
    const next = this.waiting.shift()!;
    const timer = setTimeout(() => {
      // Too slow to decode: the photo is refused and the process, still busy with it, ended.
      if (this.child === child) this.child = undefined;
      this.killed++;
      child.kill('SIGKILL');
      this.fail(new AppError(422, 'image_too_costly', `the photo took more than ${this.limits.timeoutMs / 1000} s to decode`));
    }, this.limits.timeoutMs);
    this.current = { ...next, timer, child };
    child.send(next.job);
  }

  private settle(): Pending | undefined {
    const current = this.current;
    if (!current) return undefined;
    clearTimeout(current.timer);
    this.current = undefined;
    setImmediate(() => this.pump());
    return current;
  }

  private fail(error: Error): void {
    this.settle()?.reject(error);
  }

  private spawn(): ChildProcess {
    if (this.child) return this.child;
    this.ready = false;
    const child = spawnTied('prlimit', [`--as=${this.limits.memoryBytes}`, '--', process.execPath, script], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      // One allocator arena and one libuv thread: the address space stays within the limit.
      env: { ...process.env, MALLOC_ARENA_MAX: '1', UV_THREADPOOL_SIZE: '1' },
    });
    this.child = child;
    child.on('message', (m: DecodeResult | Ready) => {
      if ('ready' in m) {
        if (this.child === child) this.ready = true;
        return this.pump();
      }
      if (m.id !== this.current?.job.id) return;
      const p = this.settle()!;
      if ('error' in m) p.reject(new AppError(m.error.status, m.error.code, m.error.message));
      else p.resolve({ data: Buffer.from(m.data), width: m.width, height: m.height, thumb: m.thumb ? Buffer.from(m.thumb) : undefined });
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (!this.ready && this.child === undefined && !this.closed && this.waiting.length) {
        // It could not even start: the photo first in line is refused (no restart storm: one start per photo).
        console.warn(`[images] image process could not start (${signal ?? code})`);
        this.waiting.shift()!.reject(new AppError(503, 'images_unavailable', 'photos cannot be checked right now'));
        setImmediate(() => this.pump());
      }
      if (this.current?.child === child && !this.closed) {
        // Ended under a photo (out of memory, or killed): that photo is refused; the next gets a new process.
        this.killed++;
        console.warn(`[images] image process ended (${signal ?? code}) while decoding a photo`);
        this.fail(new AppError(422, 'image_too_costly', 'the photo needs more memory to decode than a photo may'));
      }
    });
    return child;
  }
}
