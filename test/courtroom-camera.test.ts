// Courtroom cameras (issue 17): a fixed camera on the court's network, added over REST by its RTSP URL,
// is pulled by the server and is in the hearing like a participant's camera: the judge's page shows its
// picture and plays its sound, the record keeps both. The camera is GStreamer's RTSP server
// (test/helpers/rtsp-camera.py) serving H.264 1280x720 and Opus on loopback.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { api, openHearing, recordedTracks, startTestServer, type Api, NO_ASR } from './helpers/server.ts';
import { accountOnFailure, launchBrowser, openJoin, waitForMediaFrom } from './helpers/browser.ts';
import { rtspCamera, type RtspCamera } from './helpers/rtsp-camera.ts';
import { until } from './helpers/wait.ts';
import { newestSegment, withStreamLog } from './helpers/live.ts';
import { magentaPixels } from './helpers/frames.ts';
import type { HearingServer } from '../server/app/server.ts';
import { RtmpListener } from '../server/sources/rtmp.ts';
import { loadTls } from '../server/app/tls.ts';

/** Whether a TCP connection to `host`:`port` is taken. */
const reaches = (port: number, host: string): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, host, () => {
      resolve(true);
      socket.destroy();
    });
    socket.once('error', () => resolve(false));
  });

/** A TCP port nothing listens on (let go before it is used). */
function freeTcpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Processes whose command line matches `pattern`. */
const processes = (pattern: string): number => {
  try {
    return execFileSync('pgrep', ['-f', pattern]).toString().trim().split('\n').length;
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
};
/** ffmpeg processes pulling from `port` (the server's ingest of that camera). */
const pullers = (port: number): number => processes(`ffmpeg.*rtsp://.*127.0.0.1:${port}/cam`);

/** A camera's state as the REST API shows it. */
async function sourceStatus(call: Api, hearingId: string, sourceId: string) {
  return (await call('GET', `/api/v1/hearings/${hearingId}/sources/${sourceId}`)).body;
}

describe('courtroom cameras (RTSP)', () => {
  const ctx = {} as { server: HearingServer; browser: Browser; cameras: RtspCamera[] };
  accountOnFailure(() => ctx.server);
  beforeAll(async () => {
    ctx.cameras = [];
    ctx.server = await startTestServer({ ...NO_ASR, rtmp: { port: 0 } });
    // The public stream without its legal delay, and keeping its picture on a busy machine.
    ctx.server.config.live.delaySeconds = 0;
    ctx.server.config.live.soundOnly = 'never';
    ctx.browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const c of ctx.cameras) await c.stop();
    await ctx.browser?.close();
    await ctx.server?.close();
  });
  const start = async (port = 0): Promise<RtspCamera> => {
    const c = await rtspCamera(port);
    ctx.cameras.push(c);
    return c;
  };

  it("a camera added by its RTSP URL is in the hearing: the judge's page shows its picture and plays its sound, the record keeps both; lost, it is retried and comes back; removed, it leaves", async () => {
    const { server } = ctx;
    const call = api(server);
    const camera = await start();
    const h = await openHearing(server, [{ name: '王法官', role: 'judge' }], { streamable: true });
    const judge = h.participants[0]!;
    // The camera's password is in its URL, and nowhere after that.
    const url = camera.url.replace('rtsp://', 'rtsp://admin:s3cret-pw@');
    const added = await call('POST', `/api/v1/hearings/${h.id}/sources`, { name: '第一法庭全景', kind: 'rtsp', url });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      name: '第一法庭全景',
      role: 'courtroom',
      kind: 'rtsp',
      url: camera.url.replace('rtsp://', 'rtsp://admin:***@'),
    });
    expect(added.body.token).toBeUndefined();
    const id = added.body.id as string;
    const status = () => sourceStatus(call, h.id, id);
    await until('the camera live', async () => (await status()).state === 'live', 20_000);
    expect((await status()).input).toEqual({ video: 'h264 1280x720', audio: 'opus' });

    // The judge sees and hears it, named with its role, at the camera's size.
    const judgePage = await openJoin(ctx.browser, judge.joinUrl);
    await waitForMediaFrom(judgePage, id, 30_000);
    const tile = judgePage.getByRole('figure', { name: '第一法庭全景 · 法庭摄像' });
    await expect.poll(() => tile.locator('video').evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 10_000 }).toBe(1280);
    // In the participants list with its role, not as a terminal to hang up on; the judge can mute its
    // microphone (the courtroom's sound) like anyone's.
    const entry = judgePage.locator('section.people li').filter({ hasText: '第一法庭全景' });
    await expect.poll(() => entry.textContent(), { timeout: 10_000 }).toContain('法庭摄像');
    expect(await entry.getByRole('button', { name: /挂断/ }).count()).toBe(0);
    await entry.getByRole('button', { name: '静音第一法庭全景' }).click();
    const room = server.plane.get(h.id)!;
    await until(
      'its microphone paused at the server',
      () => room.producers().find((p) => p.participantId === id && p.kind === 'audio')?.paused === true,
      5_000,
    );
    // The record has its picture and its sound.
    await recordedTracks(server, h.id, id, ['audio', 'video']);
    // The public stream composes it: the camera's colour bars (their magenta bar) in a published segment.
    for (const action of ['approve', 'start']) expect((await call('POST', `/api/v1/hearings/${h.id}/stream`, { action })).status).toBe(200);
    await until(
      'the camera in the public stream',
      async () => {
        const segment = await newestSegment(server, h.id);
        return !!segment && magentaPixels(segment.file) > 1000;
      },
      40_000,
    ).catch(withStreamLog(server, h.id));
    const events = () => server.hearings.events(h.id);
    expect(events().find((e) => e.action === 'participant.joined' && e.actor === id)?.detail).toMatchObject({
      endpoint: 'rtsp',
      media: ['video/VP8', 'audio/opus'],
    });

    // The camera goes: it leaves the hearing (in the record), and is tried again until it is back.
    await camera.stop();
    await until(
      'the camera leaving the hearing',
      () =>
        events().some(
          (e) => e.action === 'participant.left' && e.actor === id && (e.detail as { reason?: string }).reason === 'camera lost',
        ),
      30_000,
    );
    expect((await status()).state).not.toBe('live');
    await start(camera.port);
    await until(
      'the camera back in the hearing',
      () => events().filter((e) => e.action === 'participant.joined' && e.actor === id).length === 2,
      30_000,
    );
    expect(events().filter((e) => e.action === 'participant.joined' && e.actor === id)[1]!.detail).toMatchObject({ rejoin: true });
    // Muted it stays: its new microphone is paused at the server as it comes, until the judge unmutes it.
    // (The rejoin is logged as the camera comes back; its microphone's producer follows, and is paused
    // before the hearing is told of it: signaling's terminalProduced.)
    const microphone = () => room.producers().find((p) => p.participantId === id && p.kind === 'audio');
    await until('its new microphone, paused as the judge left it', () => microphone()?.paused === true, 10_000);
    await entry.getByRole('button', { name: '取消静音第一法庭全景' }).click();
    await until('its microphone resumed', () => microphone()?.paused === false, 5_000);
    await waitForMediaFrom(judgePage, id, 30_000);
    expect(JSON.stringify(events())).not.toContain('s3cret-pw');

    // Removed by the court platform: it leaves, and nothing pulls from the camera any more.
    expect(pullers(camera.port)).toBe(1);
    expect((await call('DELETE', `/api/v1/hearings/${h.id}/sources/${id}`)).status).toBe(204);
    expect(
      events()
        .filter((e) => e.action === 'participant.left' && e.actor === id)
        .at(-1)!.detail,
    ).toMatchObject({ reason: 'removed', by: 'api' });
    expect(events().some((e) => e.action === 'source.removed')).toBe(true);
    await until('its ingest ended', () => pullers(camera.port) === 0, 5_000);
    expect((await call('GET', `/api/v1/hearings/${h.id}/sources`)).body.sources).toEqual([]);
    expect(
      server.plane
        .get(h.id)!
        .producers()
        .some((p) => p.participantId === id),
    ).toBe(false);
    await judgePage.context().close();
  }, 150_000);

  it('a camera that cannot be reached: unreachable in its status, once in the record however many attempts, and in the hearing once it can be', async () => {
    const { server } = ctx;
    const call = api(server);
    const port = await freeTcpPort();
    const h = await openHearing(server, [{ name: '王法官', role: 'judge' }]);
    const added = await call('POST', `/api/v1/hearings/${h.id}/sources`, {
      name: '被告席',
      kind: 'rtsp',
      url: `rtsp://127.0.0.1:${port}/cam`,
    });
    expect(added.status).toBe(201);
    const id = added.body.id as string;
    const status = () => sourceStatus(call, h.id, id);
    await until('three attempts', async () => (await status()).attempts >= 3, 30_000);
    const s = await status();
    expect(s.state).toBe('unreachable');
    expect(s.lastError).toMatch(/refused/i);
    const events = () => server.hearings.events(h.id);
    expect(
      events().filter((e) => e.action === 'source.unreachable' && (e.detail as { participantId: string }).participantId === id),
    ).toHaveLength(1);
    expect(events().some((e) => e.action === 'participant.joined' && e.actor === id)).toBe(false);
    await start(port);
    await until('the camera live', async () => (await status()).state === 'live', 40_000);
    expect(events().some((e) => e.action === 'source.reachable')).toBe(true);
    expect(events().some((e) => e.action === 'participant.joined' && e.actor === id)).toBe(true);
  }, 90_000);

  it('a camera that pushes RTMP: its push URL given once; a push to another key refused, nobody else may play it; pushing, it is in the hearing and the record; stopped, it leaves and waits', async () => {
    const { server } = ctx;
    const call = api(server);
    const h = await openHearing(server, [{ name: '王法官', role: 'judge' }]);
    const added = await call('POST', `/api/v1/hearings/${h.id}/sources`, { name: '审判区', kind: 'rtmp' });
    expect(added.status).toBe(201);
    const pushUrl = added.body.pushUrl as string;
    const [, port, key] = /^rtmp:\/\/127\.0\.0\.1:(\d+)\/live\/([0-9a-f]{32})$/.exec(pushUrl) ?? [];
    expect(key).toBeDefined();
    expect(added.body).toMatchObject({ role: 'courtroom', kind: 'rtmp', state: 'waiting', url: `rtmp://127.0.0.1:${port}/live/***` });
    const id = added.body.id as string;
    const status = () => sourceStatus(call, h.id, id);
    expect((await status()).pushUrl).toBeUndefined();
    // The listener is on the server's listening address only (127.0.0.1 here), not on every address:
    // 127.0.0.2, another address of this machine's loopback, is refused.
    expect(await reaches(Number(port), '127.0.0.1')).toBe(true);
    expect(await reaches(Number(port), '127.0.0.2')).toBe(false);
    // Nor does it take over the process: node-media-server's own run() makes SIGINT exit at once (past
    // the server's shutdown, which seals the records) and swallows uncaught exceptions.
    const nmsExit = /^function\s*\(\)\s*\{\s*process\.exit\(\);?\s*\}$/;
    expect(process.listeners('SIGINT').filter((f) => nmsExit.test(f.toString()))).toEqual([]);
    expect(process.listeners('uncaughtException').filter((f) => /Logger\.error\('uncaughtException'/.test(f.toString()))).toEqual([]);
    // What an encoder box sends: H.264 and AAC in FLV, in real time.
    const push = (url: string, seconds: number): ChildProcess =>
      spawn('ffmpeg', [
        ...['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=s=640x360:r=25:d=${seconds}`],
        ...['-f', 'lavfi', '-i', `sine=frequency=1000:sample_rate=48000:duration=${seconds}`],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p'],
        ...['-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url],
      ]);
    const exit = (p: ChildProcess): Promise<number | null> => new Promise((resolve) => p.once('exit', (code) => resolve(code)));
    // Another key: the push is refused at once (ffmpeg fails), nothing joins.
    const wrong = push(pushUrl.replace(key!, 'f'.repeat(32)), 10);
    expect(await exit(wrong)).not.toBe(0);
    const events = () => server.hearings.events(h.id);
    expect(events().some((e) => e.action === 'participant.joined' && e.actor === id)).toBe(false);

    const pusher = push(pushUrl, 60);
    try {
      await until('the camera live', async () => (await status()).state === 'live', 20_000);
      expect((await status()).input).toEqual({ video: 'h264 640x360', audio: 'aac' });
      await recordedTracks(server, h.id, id, ['audio', 'video']);
      expect(events().find((e) => e.action === 'participant.joined' && e.actor === id)?.detail).toMatchObject({ endpoint: 'rtmp' });
      // Nobody may play the camera's stream from the server but the server itself.
      expect(await exit(spawn('ffprobe', ['-v', 'error', '-rw_timeout', '5000000', `rtmp://127.0.0.1:${port}/live/${key}`]))).not.toBe(0);
    } finally {
      pusher.kill('SIGKILL');
    }
    // Pushed again at once (the encoder restarted): in the hearing again, with one ingest, not two.
    const again = push(pushUrl, 60);
    try {
      await until(
        'the camera in the hearing again',
        () => events().filter((e) => e.action === 'participant.joined' && e.actor === id).length === 2,
        30_000,
      );
      expect(processes(`ffmpeg .*live/${key}\\?play=`)).toBe(1);
    } finally {
      again.kill('SIGKILL');
    }
    // The push ends: it leaves, and waits for the next one.
    await until(
      'the camera leaving',
      () =>
        events().some(
          (e) => e.action === 'participant.left' && e.actor === id && (e.detail as { reason?: string }).reason === 'camera lost',
        ),
      20_000,
    );
    await until('waiting for a push', async () => (await status()).state === 'waiting', 20_000);
    expect(JSON.stringify(events())).not.toContain(key);
    expect((await call('DELETE', `/api/v1/hearings/${h.id}/sources/${id}`)).status).toBe(204);
  }, 90_000);

  it('refuses what is not a camera URL and an unknown hearing; a camera gets no link to join with', async () => {
    const call = api(ctx.server);
    const h = await openHearing(ctx.server, [{ name: '王法官', role: 'judge' }]);
    for (const body of [
      { name: '全景', kind: 'rtsp', url: 'http://127.0.0.1/cam' },
      { name: '全景', kind: 'rtsp', url: 'file:///etc/passwd' },
      { name: '', kind: 'rtsp', url: 'rtsp://127.0.0.1/cam' },
      { name: '全景', kind: 'rtmp', url: 'rtsp://127.0.0.1/cam' },
      { name: '全景', kind: 'rtsp', url: 'rtsp://127.0.0.1/cam', extra: 1 },
    ]) {
      const r = await call('POST', `/api/v1/hearings/${h.id}/sources`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('invalid_body');
    }
    expect(
      (await call('POST', `/api/v1/hearings/${crypto.randomUUID()}/sources`, { name: '全景', kind: 'rtsp', url: 'rtsp://127.0.0.1/cam' }))
        .status,
    ).toBe(404);
    // Not as a participant either: that role is a camera's.
    expect((await call('POST', `/api/v1/hearings/${h.id}/participants`, { name: '全景', role: 'courtroom' })).status).toBe(400);
    const port = await freeTcpPort();
    const added = await call('POST', `/api/v1/hearings/${h.id}/sources`, {
      name: '全景',
      kind: 'rtsp',
      url: `rtsp://127.0.0.1:${port}/cam`,
    });
    const token = await call('POST', `/api/v1/hearings/${h.id}/participants/${added.body.id}/token`);
    expect(token.status).toBe(409);
    expect(token.body.error.code).toBe('not_a_person');
    expect((await call('DELETE', `/api/v1/hearings/${h.id}/sources/${added.body.id}`)).status).toBe(204);
    expect((await call('DELETE', `/api/v1/hearings/${h.id}/sources/${added.body.id}`)).status).toBe(404);
  });
});

describe('the RTMPS listener', () => {
  /** How many handlers node-media-server's module-level events have (each listener adds its own). */
  const nmsHandlers = (): number => {
    const { nodeEvent } = createRequire(import.meta.url)('node-media-server/src/node_core_ctx') as { nodeEvent: EventEmitter };
    return ['prePublish', 'donePublish', 'prePlay'].reduce((n, event) => n + nodeEvent.listenerCount(event), 0);
  };

  it('takes a camera’s push over TLS with the server’s certificate, on its address only, and refuses another key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtmps-'));
    const certificate = loadTls('self-signed', dir);
    const refused: string[] = [];
    const handlersBefore = nmsHandlers();
    const listener = await RtmpListener.start(
      { port: 0, host: '127.0.0.1', listenIp: '127.0.0.1', tls: { port: 0, cert: certificate.certFile, key: certificate.keyFile } },
      (streamPath) => refused.push(streamPath),
    );
    const pushes: string[] = [];
    const camera = listener.add({ started: () => pushes.push('started'), ended: () => pushes.push('ended') });
    const push = (url: string): ChildProcess =>
      spawn('ffmpeg', [
        ...['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=15:d=20'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p', '-f', 'flv', url],
      ]);
    const exit = (p: ChildProcess): Promise<number | null> => new Promise((resolve) => p.once('exit', (code) => resolve(code)));
    try {
      expect(camera.pushUrlTls).toBe(`rtmps://127.0.0.1:${listener.tlsPort}/live/${camera.key}`);
      // TLS on that port (the server's certificate), on 127.0.0.1 only.
      const peer = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: listener.tlsPort!, rejectUnauthorized: false }, () => {
          resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
          socket.destroy();
        });
        socket.once('error', reject);
      });
      expect(peer.replaceAll(':', '').toLowerCase()).toBe(certificate.fingerprint.replaceAll(':', '').toLowerCase());
      expect(await reaches(listener.tlsPort!, '127.0.0.2')).toBe(false);
      // Another key over RTMPS: refused at once.
      expect(await exit(push(camera.pushUrlTls!.replace(camera.key, 'e'.repeat(32))))).not.toBe(0);
      expect(refused).toEqual(['/live/***']);
      const pusher = push(camera.pushUrlTls!);
      try {
        await until('the RTMPS push started', () => pushes.includes('started') || undefined, 20_000);
      } finally {
        pusher.kill('SIGKILL');
      }
      await until('the RTMPS push ended', () => pushes.includes('ended') || undefined, 20_000);
    } finally {
      listener.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // Closed, its handlers are off node-media-server's events (they were on while it listened).
    expect(nmsHandlers()).toBe(handlersBefore);
  }, 60_000);

  it('fails to start on a port already taken, with the listen error, and leaves nothing behind', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const port = (taken.address() as net.AddressInfo).port;
    const handlersBefore = nmsHandlers();
    try {
      await expect(RtmpListener.start({ port, host: '127.0.0.1', listenIp: '127.0.0.1' }, () => undefined)).rejects.toThrow(/EADDRINUSE/);
      expect(nmsHandlers()).toBe(handlersBefore);
      // Port 0 is the system's pick, read back: a port of its own, named in push URLs.
      const listener = await RtmpListener.start({ port: 0, host: '127.0.0.1', listenIp: '127.0.0.1' }, () => undefined);
      try {
        expect(listener.port).toBeGreaterThan(0);
        expect(listener.port).not.toBe(port);
        expect(nmsHandlers()).toBe(handlersBefore + 3);
        expect(await reaches(listener.port, '127.0.0.1')).toBe(true);
        expect(listener.add({ started: () => undefined, ended: () => undefined }).pushUrl).toMatch(
          new RegExp(`^rtmp://127\\.0\\.0\\.1:${listener.port}/live/[0-9a-f]{32}$`),
        );
      } finally {
        listener.close();
      }
      expect(nmsHandlers()).toBe(handlersBefore);
    } finally {
      taken.close();
    }
  });
});
