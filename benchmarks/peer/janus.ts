// Janus 1.1.2 (Debian's `janus`) as the peer SFU: a private configuration (only the VideoRoom plugin, the
// HTTP and WebSocket transports on loopback, ICE on the one interface given — Janus never offers loopback
// candidates), started in the foreground and stopped after; rooms made and destroyed over its HTTP API.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

export const JANUS_BIN = process.env.JANUS_BIN ?? '/usr/bin/janus';
const LIB = '/usr/lib/x86_64-linux-gnu/janus';
/** Debian's janus.js and the adapter it needs (`libjs-janus-gateway`, `libjs-webrtc-adapter`). */
export const JANUS_JS = '/usr/share/javascript/janus-gateway/janus.js';
export const ADAPTER_JS = '/usr/share/javascript/webrtc-adapter/adapter.js';

export interface JanusProcess {
  pid: number;
  /** The WebSocket API for pages (`janus-protocol`). */
  wsUrl: string;
  httpUrl: string;
  stop(): Promise<void>;
}

/** The .so files of a Janus library folder, except those kept. */
const allBut = (folder: string, keep: string[]): string =>
  fs
    .readdirSync(path.join(LIB, folder))
    .filter((f) => f.endsWith('.so') && !keep.includes(f))
    .join(',');

/**
 * Starts Janus with ICE on `iface` (its candidates carry that interface's address), RTP ports in
 * `rtpPorts`, its HTTP API on 127.0.0.1:`httpPort` (for the benchmark) and its WebSocket API on
 * `wsIp`:`wsPort` (for the pages).
 */
export async function startJanus(o: {
  iface: string;
  rtpPorts: [number, number];
  httpPort: number;
  wsIp: string;
  wsPort: number;
}): Promise<JanusProcess> {
  for (const file of [JANUS_BIN, JANUS_JS, ADAPTER_JS])
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: apt-get install janus libjs-janus-gateway libjs-webrtc-adapter`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-janus-'));
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
  write(
    'janus.jcfg',
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${LIB}/plugins"
  transports_folder = "${LIB}/transports"
  events_folder = "${LIB}/events"
  loggers_folder = "${LIB}/loggers"
  debug_level = 3
  server_name = "bench-peer"
}
media: {
  rtp_port_range = "${o.rtpPorts[0]}-${o.rtpPorts[1]}"
}
nat: {
  ice_enforce_list = "${o.iface}"
  ignore_mdns = true
  nice_debug = false
}
plugins: {
  disable = "${allBut('plugins', ['libjanus_videoroom.so'])}"
}
transports: {
  disable = "${allBut('transports', ['libjanus_http.so', 'libjanus_websockets.so'])}"
}
events: {
  broadcast = false
  disable = "${allBut('events', [])}"
}
loggers: {
  disable = "${allBut('loggers', [])}"
}
`,
  );
  write('janus.plugin.videoroom.jcfg', 'general: {\n}\n');
  write(
    'janus.transport.http.jcfg',
    `general: {\n  json = "compact"\n  base_path = "/janus"\n  http = true\n  port = ${o.httpPort}\n  ip = "127.0.0.1"\n  https = false\n}\nadmin: {\n  admin_http = false\n}\n`,
  );
  write(
    'janus.transport.websockets.jcfg',
    `general: {\n  json = "compact"\n  ws = true\n  ws_port = ${o.wsPort}\n  ws_ip = "${o.wsIp}"\n  wss = false\n}\nadmin: {\n  admin_ws = false\n}\n`,
  );
  const log: string[] = [];
  const child: ChildProcess = spawn(JANUS_BIN, ['-F', dir, '-C', path.join(dir, 'janus.jcfg'), '-o'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    log.push(...chunk.toString().split('\n').filter(Boolean));
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const httpUrl = `http://127.0.0.1:${o.httpPort}/janus`;
  // Ready when its HTTP API answers `info`.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`janus exited at start (${child.exitCode}): ${log.slice(-10).join(' | ')}`);
    const ok = await fetch(`${httpUrl}/info`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`janus did not answer within 15 s: ${log.slice(-10).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    wsUrl: `ws://${o.wsIp}:${o.wsPort}`,
    httpUrl,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface JanusReply {
  data?: { id: number };
  error?: { code: number; reason: string };
  plugindata?: { data?: { error?: string } };
}

/** A Janus API call over HTTP: the reply, or an error naming Janus's. */
async function call(url: string, body: Record<string, unknown>): Promise<JanusReply> {
  const reply = (await (
    await fetch(url, { method: 'POST', body: JSON.stringify({ ...body, transaction: randomUUID() }) })
  ).json()) as JanusReply;
  const error = reply.error?.reason ?? reply.plugindata?.data?.error;
  if (error) throw new Error(`janus: ${error}`);
  return reply;
}

/**
 * A VideoRoom room for `publishers` participants (VP8 + Opus, no cap below the clients' own), made over a
 * control session that is kept alive until `destroy()`.
 */
export async function janusRoom(janus: JanusProcess, publishers: number): Promise<{ room: number; destroy(): Promise<void> }> {
  const session = (await call(janus.httpUrl, { janus: 'create' })).data!.id;
  const sessionUrl = `${janus.httpUrl}/${session}`;
  const handle = (await call(sessionUrl, { janus: 'attach', plugin: 'janus.plugin.videoroom' })).data!.id;
  const room = 1000 + Math.floor(Math.random() * 1_000_000);
  await call(`${sessionUrl}/${handle}`, {
    janus: 'message',
    body: { request: 'create', room, publishers, videocodec: 'vp8', audiocodec: 'opus', bitrate: 0, fir_freq: 0, notify_joining: false },
  });
  const keepalive = setInterval(() => void call(sessionUrl, { janus: 'keepalive' }).catch(() => undefined), 20_000);
  return {
    room,
    async destroy() {
      clearInterval(keepalive);
      await call(`${sessionUrl}/${handle}`, { janus: 'message', body: { request: 'destroy', room } }).catch(() => undefined);
      await call(sessionUrl, { janus: 'destroy' }).catch(() => undefined);
    },
  };
}
