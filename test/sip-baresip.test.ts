// A real SIP terminal (issue 17): baresip from Debian, in a network namespace of the test's own (a veth
// to the gateway only), dials the hearing with the account the platform got over REST, and sends a
// known tone and a test picture (H.264). The judge's browser hears and sees it; the record has its
// tracks; the terminal hears the judge's tone and not its own, and sees the hearing's composed picture;
// hanging up (baresip's call timer) is leaving.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { api, openHearing, startTestServer, NO_ASR } from './helpers/server.ts';
import { launchBrowser, openJoin, stats, waitForMediaFrom } from './helpers/browser.ts';
import { createNetns, type TestNetns } from './helpers/netns.ts';
import { until } from './helpers/wait.ts';
import { beepsWav, samples, toneLevels } from './helpers/tones.ts';
import { freeUdpPort, offer, SipPhone } from './helpers/sip.ts';
import { connect, request } from './helpers/socket.ts';

/** The terminal's tone, and the one the judge's browser sends (Hz). */
const TERMINAL_HZ = 600;
const JUDGE_HZ = 1000;
import type { HearingServer } from '../server/app/server.ts';

/** baresip's configuration: a tone file as its microphone, an H.264 clip as its camera, no sound card. */
function baresipConfig(dir: string, o: { listen: string; account: string }): void {
  const tone = path.join(dir, 'tone.wav');
  const clip = path.join(dir, 'camera.mp4');
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=${TERMINAL_HZ}:sample_rate=48000:duration=60`,
    '-ac',
    '2',
    tone,
  ]);
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=352x288:rate=25:duration=60'],
    ...['-c:v', 'libx264', '-profile:v', 'baseline', '-bf', '0', '-g', '25', '-pix_fmt', 'yuv420p', clip],
  ]);
  fs.writeFileSync(
    path.join(dir, 'config'),
    [
      'poll_method epoll',
      `sip_listen ${o.listen}`,
      `audio_source aufile,${tone}`,
      'audio_player aubridge,sink',
      // What it receives: the sound decoded into a WAV (sndfile), the picture to a PNG on `snapshot_recv`.
      `snd_path ${dir}`,
      `video_source avformat,${clip}`,
      'video_display fakevideo,nil',
      'video_size 352x288',
      'video_fps 25',
      'rtcp_mux no',
      'module_path /usr/lib/baresip/modules',
      'module opus.so',
      'module g711.so',
      'module aufile.so',
      'module aubridge.so',
      'module avformat.so',
      'module avcodec.so',
      'module sndfile.so',
      'module fakevideo.so',
      'module snapshot.so',
      'module_tmp account.so',
      'module_app menu.so',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(dir, 'accounts'), `${o.account}\n`);
}

describe('a SIP terminal (baresip) in a network of its own', () => {
  const ctx = {} as { server: HearingServer; court: Browser; net: TestNetns; dir: string };
  beforeAll(async () => {
    ctx.net = createNetns();
    ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baresip-'));
    // The gateway on the host side of the link: the terminal reaches nothing else.
    ctx.server = await startTestServer({
      ...NO_ASR,
      host: ctx.net.hostIp,
      listenIp: ctx.net.hostIp,
      announcedIp: undefined,
      sip: { port: 0, rtpTimeoutMs: 10_000 },
    });
    ctx.court = await launchBrowser([
      `--unsafely-treat-insecure-origin-as-secure=${ctx.server.url}`,
      `--use-file-for-fake-audio-capture=${beepsWav(path.join(ctx.dir, 'judge.wav'), JUDGE_HZ, 30)}`,
    ]);
  });
  afterAll(async () => {
    await ctx.court?.close();
    await ctx.server?.close();
    ctx.net?.remove();
    if (ctx.dir) fs.rmSync(ctx.dir, { recursive: true, force: true });
  });

  it('dials the hearing with its PIN: the judge hears and sees it, the record has its tracks, it hears the judge (not itself) and sees the hearing, hanging up is leaving', async () => {
    const { server, net } = ctx;
    const h = await openHearing(server, [
      { name: '王法官', role: 'judge' },
      { name: '看守所终端', role: 'party', endpoint: 'sip' } as { name: string; role: string },
    ]);
    const [judge, terminal] = h.participants as unknown as [
      { id: string; joinUrl: string },
      { id: string; sip: { uri: string; user: string; pin: string } },
    ];
    const judgePage = await openJoin(ctx.court, judge.joinUrl);
    const target = terminal.sip.uri.slice(4); // <code>@<host>:<port>
    baresipConfig(ctx.dir, {
      listen: `${net.nsIp}:5060`,
      account: `<sip:${terminal.sip.user}@${target.split('@')[1]}>;auth_pass=${terminal.sip.pin};regint=0;answermode=auto;audio_codecs=opus/48000/2`,
    });
    let baresip: ChildProcess | undefined;
    let output = '';
    try {
      // -t 25: baresip hangs up (BYE) after 25 s.
      // The first picture it decodes is saved (the command waits for it).
      const snapshot = path.join(ctx.dir, 'received.png');
      baresip = spawn(
        'ip',
        ['netns', 'exec', net.name, 'baresip', '-f', ctx.dir, '-t', '25', '-e', `/snapshot_recv ${snapshot}`, '-e', `/dial sip:${target}`],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      baresip.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
      baresip.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
      const seen = await waitForMediaFrom(judgePage, terminal.id, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}\nbaresip: ${output}`);
      });
      const video = seen.find((s) => s.participantId === terminal.id && s.kind === 'video')!;
      expect(video.framesDecoded).toBeGreaterThan(0);
      // Still coming a few seconds on: the sound packets keep arriving, the picture keeps moving.
      const first = seen.find((s) => s.participantId === terminal.id && s.kind === 'audio')!.packetsReceived;
      await until(
        'more of the terminal’s sound',
        async () =>
          ((await stats(judgePage)).find((s) => s.participantId === terminal.id && s.kind === 'audio')?.packetsReceived ?? 0) > first + 150,
        15_000,
      );
      const joined = server.store.auditLog(h.id).find((e) => e.action === 'participant.joined' && e.actor === terminal.id)!;
      expect(joined.detail).toMatchObject({ endpoint: 'sip', address: net.nsIp, media: ['audio/opus', 'video/H264'] });
      // Recorded like any participant: its sound and its picture.
      await until(
        'the record has its tracks',
        async () => {
          const tracks = ((await api(server)('GET', `/api/v1/hearings/${h.id}/record`)).body.tracks ?? []) as {
            participantId: string;
            kind: string;
          }[];
          return tracks.filter((t) => t.participantId === terminal.id).length === 2;
        },
        20_000,
      );
      // baresip hangs up after its 25 s: the terminal leaves the hearing.
      await until(
        'the terminal hung up',
        () => server.store.auditLog(h.id).some((e) => e.action === 'participant.left' && e.actor === terminal.id),
        40_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nbaresip: ${output}`);
      });
      expect(server.store.auditLog(h.id).find((e) => e.action === 'participant.left' && e.actor === terminal.id)!.detail).toMatchObject({
        reason: 'hung up',
      });
      // What it received: the judge's beeps, loud, and nothing of its own tone (the mix leaves it out).
      const dump = fs.readdirSync(ctx.dir).find((f) => f.startsWith('dump-') && f.endsWith('-dec.wav'));
      expect(dump, `no decoded sound was written: ${fs.readdirSync(ctx.dir).join(' ')}\nbaresip: ${output}`).toBeDefined();
      const heard = toneLevels(samples(path.join(ctx.dir, dump!)), [JUDGE_HZ, TERMINAL_HZ]);
      const report = `rms ${heard.rms.toFixed(4)}, ${JUDGE_HZ} Hz ${heard.levels.get(JUDGE_HZ)!.toFixed(4)}, ${TERMINAL_HZ} Hz ${heard.levels.get(TERMINAL_HZ)!.toFixed(4)}`;
      expect(heard.rms, report).toBeGreaterThan(0.01);
      expect(heard.levels.get(JUDGE_HZ)!, report).toBeGreaterThan(heard.levels.get(TERMINAL_HZ)! * 10);
      // The picture it decoded is the hearing's composition (640x360), not its own camera (352x288).
      expect(fs.existsSync(snapshot), `no picture was decoded: ${fs.readdirSync(ctx.dir).join(' ')}\nbaresip: ${output}`).toBe(true);
      const size = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', snapshot])
        .toString()
        .trim();
      expect(size).toBe('640,360');
    } finally {
      baresip?.kill('SIGKILL');
      await judgePage.context().close();
    }
  }, 120_000);

  it('the judge hangs up on a terminal by clicking: BYE to the terminal, it leaves the hearing with who did it; nobody else may', async () => {
    const { server } = ctx;
    const h = await openHearing(server, [
      { name: '王法官', role: 'judge' },
      { name: '张律师', role: 'lawyer' },
      { name: '看守所终端', role: 'party', endpoint: 'sip' } as { name: string; role: string },
    ]);
    const [judge, lawyer, terminal] = h.participants as unknown as [
      { id: string; joinUrl: string; token: string },
      { id: string; token: string },
      { id: string; sip: { uri: string; user: string; pin: string } },
    ];
    // On the gateway's side of the link (the address it listens on), so that its BYE comes back here.
    const phone = await SipPhone.start('UDP', ctx.net.hostIp);
    const lawyerSocket = await connect(server.url, lawyer.token);
    let judgePage: Awaited<ReturnType<typeof openJoin>> | undefined;
    try {
      const call = await phone.dial(terminal.sip, offer({ audio: ['opus'], audioPort: await freeUdpPort(), rtcpMux: true }));
      expect(call.final.status).toBe(200);
      phone.ack(call.final);
      // Not the lawyer's to do; and a page is not a call.
      await request(lawyerSocket, 'join', {});
      expect((await request(lawyerSocket, 'hangUpTerminal', { participantId: terminal.id })).error).toMatchObject({ code: 'forbidden' });
      const judgeSocket = await connect(server.url, judge.token);
      try {
        await request(judgeSocket, 'join', {});
        expect((await request(judgeSocket, 'hangUpTerminal', { participantId: lawyer.id })).error).toMatchObject({ code: 'not_in_a_call' });
      } finally {
        judgeSocket.close();
      }
      // The judge's page (after the socket above: a participant has one connection).
      judgePage = await openJoin(ctx.court, judge.joinUrl);
      // The judge sees the terminal in the list, marked as one, and hangs up on it.
      const button = judgePage.getByRole('button', { name: '挂断看守所终端' });
      await button.click({ timeout: 20_000 });
      await until('the terminal got a BYE', () => phone.byes.length === 1, 10_000);
      const left = await until(
        'the terminal left',
        () => server.store.auditLog(h.id).find((e) => e.action === 'participant.left' && e.actor === terminal.id),
        10_000,
      );
      expect(left.detail).toMatchObject({ reason: 'hung up by the court', by: judge.id, endpoint: 'sip' });
      await until('the button is gone', async () => (await button.count()) === 0, 10_000);
    } finally {
      lawyerSocket.close();
      phone.close();
      await judgePage?.context().close();
    }
  }, 60_000);
});
