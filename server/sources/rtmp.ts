// Courtroom cameras that push RTMP (an encoder box, a camera set to "RTMP push"): the server listens with
// npm `node-media-server` (an RTMP server in Node) on HEARING_RTMP_PORT. Each camera added with
// `kind: "rtmp"` has a push URL with a key of its own (rtmp://<host>:<port>/live/<key>, given out once);
// a publish to any other path is refused at once, and nobody but the server itself may play a stream
// back. When a push starts, the camera's ingest (server/sources/courtroom.ts) pulls it from the local
// RTMP server with ffmpeg, as it pulls an RTSP camera; when it stops, the camera leaves the hearing and
// waits for the next push.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import type tls from 'node:tls';
import type NodeMediaServerType from 'node-media-server';

// node-media-server keeps its sessions and its events in module-level state: one listener per process.
// Its `run()` is not used: it listens on every address, and it installs process-wide handlers (SIGINT
// exits at once, past the server's own shutdown that seals the records; uncaught exceptions are logged
// and swallowed). Only its RTMP server is started, on the address asked for.
const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server') as typeof NodeMediaServerType;
const NodeRtmpServer = require('node-media-server/src/node_rtmp_server') as new (config: unknown) => {
  tcpServer: net.Server;
  tlsServer?: tls.Server;
  stop(): void;
};
const nmsLogger = require('node-media-server/src/node_core_logger') as { setLogType(type: number): void };
/** node-media-server's module-level state: its events (`on` adds to them; nothing of its own takes them off). */
const nmsContext = require('node-media-server/src/node_core_ctx') as { nodeEvent: EventEmitter };

/** The node-media-server events a listener handles (each listener's own handlers, taken off at close). */
type NmsEvent = 'prePublish' | 'donePublish' | 'prePlay';

const same = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export class RtmpListener {
  private readonly nms: NodeMediaServerType;
  private readonly rtmp: { tcpServer: net.Server; tlsServer?: tls.Server; stop(): void };
  /** Push keys of this server's cameras, with what to do when their push starts and ends. */
  private readonly keys = new Map<string, { started: () => void; ended: () => void }>();
  /** Our own ingest plays the streams back with this (nobody else may). */
  private readonly playKey = randomBytes(16).toString('hex');
  /** This listener's handlers of node-media-server's events. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- node-media-server's handlers take its own arguments
  private readonly handlers: [event: NmsEvent, handler: (...args: any[]) => void][] = [];
  /** The RTMP port it listens on (0 before it listens). */
  get port(): number {
    return (this.rtmp.tcpServer.address() as net.AddressInfo | null)?.port ?? 0;
  }

  /** RTMPS, when the server has a certificate and HEARING_RTMPS_PORT (once it listens). */
  get tlsPort(): number | undefined {
    return (this.rtmp.tlsServer?.address() as net.AddressInfo | null | undefined)?.port;
  }

  private constructor(
    /** The host given out in push URLs. */
    readonly host: string,
    /** Where the server's own ingest plays a push back from: the listening address (loopback when that is every address). */
    private readonly local: string,
    certificate: { cert: string; key: string } | undefined,
    private readonly refused: (streamPath: string, address: string) => void,
  ) {
    // The ports here are node-media-server's own run()'s, which is not used: `start` listens itself.
    const config = {
      logType: 1,
      rtmp: {
        port: 1935,
        chunk_size: 60_000,
        gop_cache: true,
        ping: 30,
        ping_timeout: 60,
        ...(certificate ? { ssl: { port: 443, cert: certificate.cert, key: certificate.key } } : {}),
      },
    };
    this.nms = new NodeMediaServer(config);
    nmsLogger.setLogType(config.logType);
    this.rtmp = new NodeRtmpServer(config);
    // One node-media-server state per process: sessions on this listener's ports are its own.
    const ours = (id: string) => {
      const session = this.nms.getSession(id);
      const local = session?.socket.localPort;
      return session && (local === this.port || (this.tlsPort !== undefined && local === this.tlsPort)) ? session : undefined;
    };
    const on: NodeMediaServerType['on'] = (event, handler) => {
      this.handlers.push([event as NmsEvent, handler]);
      this.nms.on(event, handler);
    };
    on('prePublish', (id, streamPath) => {
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
    on('donePublish', (_id, streamPath) => {
      const key = /^\/live\/([0-9a-f]{32})$/.exec(streamPath)?.[1];
      if (key) this.keys.get(key)?.ended();
    });
    on('prePlay', (id, _streamPath, args) => {
      const session = ours(id);
      if (session && !(typeof args.play === 'string' && same(args.play, this.playKey))) session.reject();
    });
  }

  /**
   * Listens on `listenIp`: RTMP on `port`, and RTMPS on `tls.port` with the server's certificate (PEM
   * files) when given (0: a free port; node-media-server itself would take 0 for its default, 1935).
   * `host` is what push URLs name (the address cameras reach, through NAT or not).
   */
  static async start(
    o: { port: number; host: string; listenIp: string; tls?: { port: number; cert: string; key: string } },
    refused: (streamPath: string, address: string) => void,
  ): Promise<RtmpListener> {
    const local = o.listenIp === '0.0.0.0' || o.listenIp === '::' ? '127.0.0.1' : o.listenIp;
    const listener = new RtmpListener(o.host, local, o.tls, refused);
    try {
      // Port 0 is the system's pick, read back from the listening server (no port probed free, then taken).
      await listen(listener.rtmp.tcpServer, o.port, o.listenIp);
      if (o.tls) {
        if (!listener.rtmp.tlsServer) throw new Error('RTMPS: the certificate could not be read');
        await listen(listener.rtmp.tlsServer, o.tls.port, o.listenIp);
      }
    } catch (error) {
      listener.close();
      throw error;
    }
    return listener;
  }

  /** A new camera's key and push URLs (RTMP, and RTMPS when on); `started`/`ended` follow its pushes. */
  add(on: { started: () => void; ended: () => void }): { key: string; pushUrl: string; pushUrlTls?: string; pullUrl: string } {
    const key = randomBytes(16).toString('hex');
    this.keys.set(key, on);
    return {
      key,
      pushUrl: `rtmp://${this.host}:${this.port}/live/${key}`,
      ...(this.tlsPort !== undefined ? { pushUrlTls: `rtmps://${this.host}:${this.tlsPort}/live/${key}` } : {}),
      pullUrl: `rtmp://${this.local.includes(':') ? `[${this.local}]` : this.local}:${this.port}/live/${key}?play=${this.playKey}`,
    };
  }

  remove(key: string): void {
    this.keys.delete(key);
  }

  /** Stops listening, ends its sessions, and takes its handlers off node-media-server's events. */
  close(): void {
    this.keys.clear();
    this.rtmp.stop();
    for (const [event, handler] of this.handlers.splice(0)) nmsContext.nodeEvent.off(event, handler);
  }
}

/** Listens on `port` (0: any free one), or fails with the listen error (a port taken); later errors are logged. */
async function listen(server: net.Server, port: number, ip: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(port, ip, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => console.error('[rtmp] listener:', error.message));
}
