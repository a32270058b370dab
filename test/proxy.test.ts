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
import { createHearing, startTestServer } from './helpers/server.ts';
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
    ctx.server = await startTestServer({ trustProxy: '127.0.0.1', authFailuresPerMinute: 3, publicUrl: `https://127.0.0.1:${ctx.port}` });
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
