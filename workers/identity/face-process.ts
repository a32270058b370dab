// The face process: runs the face model (WASM, ~100-200 ms a frame) and the ffmpeg decoders that turn a
// participant's video into frames, so neither signaling nor the recorder ever waits on them. For each
// watched stream, ffmpeg decodes only key frames (the server asks the sender for one when it wants a
// sample) into 640x480 RGB; each frame is described and compared with the participant's reference.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { descriptorDistance, detectCloseUp, loadFaceEngine, type FaceEngine } from './face-engine.ts';
import type { FromFace, ToFace } from './face-messages.ts';
import { sdpFor } from '../taps/sdp.ts';
import { PortPairs, waitUntilBound } from '../taps/udp-ports.ts';
import { spawnTied } from '../taps/children.ts';

const WIDTH = 640;
const HEIGHT = 480;
const FRAME_BYTES = WIDTH * HEIGHT * 3;
const ports = new PortPairs(Number(process.env.FACE_PORT_MIN ?? 27000), Number(process.env.FACE_PORT_MAX ?? 27999));
const send = (m: FromFace): void => {
  if (process.connected) process.send?.(m);
};

/** Loaded once; messages that arrive meanwhile wait for it. */
const engineReady: Promise<FaceEngine> = loadFaceEngine();
/** One inference at a time: the model is single-threaded, and frames that wait are stale. */
let work: Promise<unknown> = Promise.resolve();
const serial = <T>(job: () => Promise<T>): Promise<T> => {
  const next = work.then(job, job);
  work = next.catch(() => undefined);
  return next;
};

class Watch {
  private readonly ffmpeg: ChildProcess;
  private readonly tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'face-'));
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The newest whole frame not yet checked (older ones are dropped: only the latest matters). */
  private latest: Buffer | null = null;
  private busy = false;
  private ended = false;

  constructor(
    private readonly m: Extract<ToFace, { type: 'watch' }>,
    readonly port: number,
  ) {
    const sdpFile = path.join(this.tmpDir, 'video.sdp');
    fs.writeFileSync(sdpFile, sdpFor({ kind: 'video', codec: m.codec }, port));
    this.ffmpeg = spawnTied(
      'ffmpeg',
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-protocol_whitelist',
        'file,udp,rtp',
        '-skip_frame',
        'nokey',
        '-f',
        'sdp',
        '-i',
        sdpFile,
        '-vf',
        `scale=${WIDTH}:${HEIGHT}:force_original_aspect_ratio=decrease,pad=${WIDTH}:${HEIGHT}:(ow-iw)/2:(oh-ih)/2`,
        '-fps_mode',
        'passthrough',
        '-pix_fmt',
        'rgb24',
        '-f',
        'rawvideo',
        'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    this.ffmpeg.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-1000)));
    this.ffmpeg.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    this.ffmpeg.on('close', (code) =>
      this.end(code === 0 || code === 255 || this.ended ? undefined : `ffmpeg exited with ${code}: ${stderr.trim()}`),
    );
  }

  async listen(): Promise<boolean> {
    return waitUntilBound(this.port, 10_000);
  }

  stop(): void {
    this.ended = true;
    if (this.ffmpeg.exitCode === null) this.ffmpeg.kill('SIGKILL');
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= FRAME_BYTES) {
      const all = Buffer.concat(this.pending);
      this.latest = all.subarray(0, FRAME_BYTES);
      const rest = all.subarray(FRAME_BYTES);
      this.pending = rest.length ? [Buffer.from(rest)] : [];
      this.pendingBytes = rest.length;
    }
    void this.checkLatest();
  }

  private async checkLatest(): Promise<void> {
    if (this.busy || !this.latest) return;
    const frame = this.latest;
    this.latest = null;
    this.busy = true;
    try {
      const at = new Date().toISOString();
      const started = performance.now();
      const engine = await engineReady;
      // A face too close to the camera is looked for again in the frame shrunk (detectCloseUp).
      const faces = await serial(() => detectCloseUp(engine, frame, WIDTH, HEIGHT));
      const ms = performance.now() - started;
      const jpeg = await sharp(frame, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
        .resize(320, 240)
        .jpeg({ quality: 70 })
        .toBuffer();
      const one = faces.length === 1 ? faces[0]! : null;
      send({
        type: 'frame',
        watchId: this.m.watchId,
        at,
        width: WIDTH,
        height: HEIGHT,
        faces: faces.map((f) => ({ score: f.score, box: f.box })),
        distance: one ? descriptorDistance(one.descriptor, this.m.reference) : null,
        keypoints: one ? one.keypoints : null,
        jpeg,
        ms: Math.round(ms),
      });
    } catch (error) {
      send({ type: 'watchEnded', watchId: this.m.watchId, error: `face model: ${(error as Error).message}` });
    } finally {
      this.busy = false;
      if (this.latest) void this.checkLatest();
    }
  }

  private end(error?: string): void {
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
    watches.delete(this.m.watchId);
    send({ type: 'watchEnded', watchId: this.m.watchId, error });
  }
}

const watches = new Map<string, Watch>();

async function onMessage(m: ToFace): Promise<void> {
  if (m.type === 'describe') {
    try {
      const engine = await engineReady;
      const faces = await serial(() => engine.detect(m.rgb, m.width, m.height));
      send({ type: 'described', id: m.id, faces: faces.map((f) => ({ score: f.score, box: f.box, descriptor: [...f.descriptor] })) });
    } catch (error) {
      send({ type: 'described', id: m.id, faces: [], error: (error as Error).message });
    }
  } else if (m.type === 'watch') {
    const watch = new Watch(m, ports.take());
    watches.set(m.watchId, watch);
    if (await watch.listen()) send({ type: 'listening', watchId: m.watchId, port: watch.port });
    else watch.stop();
  } else if (m.type === 'unwatch') {
    watches.get(m.watchId)?.stop();
  }
}

// Each after the model has loaded (in arrival order: callbacks on one promise run in order).
process.on('message', (m: ToFace) => void engineReady.then(() => onMessage(m)));
process.on('disconnect', () => {
  for (const w of watches.values()) w.stop();
  process.exit(0);
});

send({ type: 'ready', model: (await engineReady).model });
