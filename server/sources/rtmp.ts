// Courtroom cameras that push RTMP (an encoder box, a camera set to "RTMP push"): the server listens with
// npm `node-media-server` (an RTMP server in Node) on HEARING_RTMP_PORT. Each camera added with
// `kind: "rtmp"` has a push URL with a key of its own (rtmp://<host>:<port>/live/<key>, given out once);
// a publish to any other path is refused at once, and nobody but the server itself may play a stream
// back. When a push starts, the camera's ingest (server/sources/courtroom.ts) pulls it from the local
// RTMP server with ffmpeg, as it pulls an RTSP camera; when it stops, the camera leaves the hearing and
// waits for the next push.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import type NodeMediaServerType from 'node-media-server';

// node-media-server keeps its sessions and its events in module-level state: one listener per process.
const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server') as typeof NodeMediaServerType;

const same = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export class RtmpListener {
  private readonly nms: NodeMediaServerType;
  /** Push keys of this server's cameras, with what to do when their push starts and ends. */
  private readonly keys = new Map<string, { started: () => void; ended: () => void }>();
  /** Our own ingest plays the streams back with this (nobody else may). */
  private readonly playKey = randomBytes(16).toString('hex');

  private constructor(
    readonly port: number,
    /** The host given out in push URLs. */
    readonly host: string,
    private readonly refused: (streamPath: string, address: string) => void,
  ) {
    this.nms = new NodeMediaServer({ logType: 1, rtmp: { port, chunk_size: 60_000, gop_cache: true, ping: 30, ping_timeout: 60 } });
    const ours = (id: string) => {
      const session = this.nms.getSession(id);
      return session && session.socket.localPort === port ? session : undefined;
    };
    this.nms.on('prePublish', (id, streamPath) => {
      const session = ours(id);
      if (!session) return;
      const key = /^\/live\/([0-9a-f]{32})$/.exec(streamPath)?.[1];
      const camera = key ? [...this.keys].find(([k]) => same(k, key))?.[1] : undefined;
      if (!camera) {
        this.refused(streamPath.replace(/[0-9a-f]{8,}/g, '***'), session.ip);
        return session.reject();
      }
      // The ingest starts once the publisher is in (after this event the session is publishing).
      setImmediate(camera.started);
    });
    // The publisher's socket may be closed by now (its local port gone): its key says whose it was.
    this.nms.on('donePublish', (_id, streamPath) => {
      const key = /^\/live\/([0-9a-f]{32})$/.exec(streamPath)?.[1];
      if (key) this.keys.get(key)?.ended();
    });
    this.nms.on('prePlay', (id, _streamPath, args) => {
      const session = ours(id);
      if (session && !(typeof args.play === 'string' && same(args.play, this.playKey))) session.reject();
    });
    this.nms.run();
  }

  /** Listens on `port` (0: a free one: node-media-server itself would take 0 for its default, 1935). */
  static async start(port: number, host: string, refused: (streamPath: string, address: string) => void): Promise<RtmpListener> {
    if (!port)
      port = await new Promise<number>((resolve, reject) => {
        const probe = net.createServer().once('error', reject);
        probe.listen(0, () => {
          const { port: free } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(free));
        });
      });
    return new RtmpListener(port, host, refused);
  }

  /** A new camera's key and push URL; `started`/`ended` follow its pushes. */
  add(on: { started: () => void; ended: () => void }): { key: string; pushUrl: string; pullUrl: string } {
    const key = randomBytes(16).toString('hex');
    this.keys.set(key, on);
    return {
      key,
      pushUrl: `rtmp://${this.host}:${this.port}/live/${key}`,
      pullUrl: `rtmp://127.0.0.1:${this.port}/live/${key}?play=${this.playKey}`,
    };
  }

  remove(key: string): void {
    this.keys.delete(key);
  }

  close(): void {
    this.keys.clear();
    this.nms.stop();
  }
}
