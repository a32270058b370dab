// Behind nginx (Debian's), configured with the block in docs/deploy.md: TLS at the proxy, socket.io's
// WebSocket upgraded through it, and the per-address limits counting the client the proxy names — not
// the proxy, and not whatever a client writes into X-Forwarded-For itself.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHearing, openHearing, startTestServer } from './helpers/server.ts';
import { connect, request } from './helpers/socket.ts';
import { configFromEnv } from '../server/app/config.ts';
import { until } from './helpers/wait.ts';
import { loadTls, type TlsMaterial } from '../server/app/tls.ts';
import type { HearingServer } from '../server/app/server.ts';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/deploy.md');

/** The nginx block of docs/deploy.md, with this test's addresses, ports and files in place of the example's. */
function configFromDoc(o: { port: number; upstream: number; cert: string; key: string; dir: string }): string {
  const block = /```nginx\n([\s\S]*?)```/.exec(fs.readFileSync(DOC, 'utf8'))?.[1];
  if (!block) throw new Error('docs/deploy.md has no nginx block');
  const replaced = block
    .replace('server 127.0.0.1:3000;', `server 127.0.0.1:${o.upstream};`)
    .replace('listen 443 ssl;', `listen 127.0.0.1:${o.port} ssl;`)
    .replace('/etc/ssl/court.example/fullchain.pem', o.cert)
    .replace('/etc/ssl/court.example/privkey.pem', o.key)
    .replace('/var/cache/nginx/hearing-live', path.join(o.dir, 'cache'));
  for (const example of ['127.0.0.1:3000', 'listen 443', '/etc/ssl', '/var/cache']) expect(replaced).not.toContain(example);
  // What the block goes into (nginx.conf's http section), with every file in the test's folder.
  return [
    `pid ${o.dir}/nginx.pid;`,
    `error_log ${o.dir}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${o.dir}/${t};`),
    replaced,
    '}',
    '',
  ].join('\n');
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

describe('behind nginx (docs/deploy.md)', () => {
  const ctx = {} as { server: HearingServer; nginx: ChildProcess; port: number; tls: TlsMaterial; dir: string };
  beforeAll(async () => {
    ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nginx-'));
    ctx.port = await freePort();
    ctx.tls = loadTls('self-signed', ctx.dir);
    // The proxy is 127.0.0.1; the clients below come from 127.0.0.2 and 127.0.0.3.
    ctx.server = await startTestServer({
      trustProxy: '127.0.0.1',
      authFailuresPerMinute: 3,
      publicUrl: `https://127.0.0.1:${ctx.port}`,
      live: { ...configFromEnv({}).live, delaySeconds: 0, size: '480p' },
    });
    // nginx's workers run as nobody: the cache and its temporary files are theirs to write.
    fs.chmodSync(ctx.dir, 0o711);
    for (const sub of ['cache', 'client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      fs.mkdirSync(path.join(ctx.dir, sub), { mode: 0o700 });
      fs.chownSync(path.join(ctx.dir, sub), 65534, 65534);
    }
    const conf = path.join(ctx.dir, 'nginx.conf');
    const upstream = Number(new URL(ctx.server.url).port);
    fs.writeFileSync(conf, configFromDoc({ port: ctx.port, upstream, cert: ctx.tls.certFile, key: ctx.tls.keyFile, dir: ctx.dir }));
    ctx.nginx = spawn('nginx', ['-c', conf, '-p', ctx.dir, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    ctx.nginx.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await until(
      'nginx listening',
      () =>
        new Promise<boolean>((resolve) => {
          if (ctx.nginx.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
          const s = net.connect(ctx.port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      10_000,
    );
  });
  afterAll(async () => {
    ctx.nginx?.kill('SIGQUIT');
    await ctx.server?.close();
    fs.rmSync(ctx.dir, { recursive: true, force: true });
  });

  /** A REST call through nginx from one client address. */
  const rest = (from: string, key: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request(
        `https://127.0.0.1:${ctx.port}/api/v1/hearings`,
        { localAddress: from, ca: ctx.tls.cert, headers: { authorization: `Bearer ${key}`, ...headers } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end();
    });
  /** Signaling through nginx over WebSocket only (no polling fallback): connected, or the refusal's code. */
  const signal = (from: string, token: string) =>
    new Promise<'connected' | string>((resolve) => {
      const socket = io(`https://127.0.0.1:${ctx.port}`, {
        auth: { token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        ca: ctx.tls.cert,
        localAddress: from,
      } as never);
      socket.once('connect', () => {
        socket.close();
        resolve('connected');
      });
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
        socket.close();
        resolve(error.data?.code ?? error.message);
      });
    });

  it('serves the pages and the API over its TLS, and upgrades socket.io to a WebSocket', async () => {
    const { participants } = await createHearing(ctx.server, [{ name: '李四', role: 'party' }]);
    expect(participants[0]!.joinUrl.startsWith(`https://127.0.0.1:${ctx.port}/join`)).toBe(true);
    expect(await rest('127.0.0.3', ctx.server.secrets.apiKey)).toBe(200);
    expect(await signal('127.0.0.3', participants[0]!.token)).toBe('connected');
  });

  /** A GET through nginx: the status, nginx's cache verdict (X-Cache) and the body. */
  const get = (route: string) =>
    new Promise<{ status: number; cache: string | undefined; body: string }>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${ctx.port}${route}`, { ca: ctx.tls.cert, localAddress: '127.0.0.4' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, cache: res.headers['x-cache'] as string | undefined, body }));
        })
        .on('error', reject);
    });

  it('caches the public stream for a second: a crowd asking for the playlist at once is one request to the server', async () => {
    const h = await openHearing(ctx.server, [{ name: '王法官', role: 'judge' }], { streamable: true });
    const judge = await connect(ctx.server.url, h.participants[0]!.token);
    await request(judge, 'join', {});
    // Approved, started and paused: the slate goes out (no camera needed), with no delay in this test.
    for (const action of ['approve', 'start', 'pause']) expect((await request(judge, 'stream', { action })).error).toBeUndefined();
    const playlist = `/live/${h.id}/index.m3u8`;
    await until('the playlist through nginx', async () => (await get(playlist)).status === 200, 60_000);
    // Past the second it was cached for (nginx keeps time in whole seconds: up to two): the next asker
    // waits for one fetch from the server, then 20 asking at once all get nginx's copy.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const first = await get(playlist);
    expect(first.cache).toMatch(/^(MISS|EXPIRED)$/);
    const crowd = await Promise.all(Array.from({ length: 20 }, () => get(playlist)));
    expect(crowd.map((r) => r.cache)).toEqual(Array(20).fill('HIT'));
    expect(new Set(crowd.map((r) => r.body))).toEqual(new Set([first.body]));
    // A segment is cached the same way.
    const media = await get(`/live/${h.id}/video.m3u8`);
    const segment = /^[^#\n].*\.ts$/m.exec(media.body)?.[0];
    expect(segment).toBeDefined();
    const [a, b] = [await get(`/live/${h.id}/${segment}`), await get(`/live/${h.id}/${segment}`)];
    expect(a.status).toBe(200);
    expect(b.cache).toBe('HIT');
    await request(judge, 'stream', { action: 'stop' });
    judge.close();
  }, 90_000);

  it('counts failed keys against the client the proxy names: a guesser is refused, a forged X-Forwarded-For does not help, others are served', async () => {
    const { participants } = await createHearing(ctx.server, [{ name: '李四', role: 'party' }]);
    const token = participants[0]!.token;
    for (let i = 0; i < 4; i++) expect(await rest('127.0.0.2', 'wrong-key-0123456789', { 'x-forwarded-for': `198.51.100.${i}` })).toBe(401);
    // Each guess named another address itself: nginx appended the real one, and that is the one counted.
    expect(await rest('127.0.0.2', ctx.server.secrets.apiKey)).toBe(429);
    expect(await signal('127.0.0.2', token)).toBe('too_many_failures');
    // Another client behind the same proxy is served.
    expect(await rest('127.0.0.3', ctx.server.secrets.apiKey)).toBe(200);
    expect(await signal('127.0.0.3', token)).toBe('connected');
  });
});
