// Livestream: glass-to-glass latency (a wall-clock barcode burned into the source camera, read back from
// the frames a real Chromium viewer presents through hls.js), CPU per stream at 720p and 480p beside a
// bare baseline (one ffmpeg re-encoding the same camera straight to HLS, no composition) in the same
// run, and how many hearings stream at once on this machine while staying real time.
import { localServer } from '../lib/local-server.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HearingServer } from '../../server/app/server.ts';
import { cpuSecondsOf, percentile, processCommandLine, trackCpu } from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import { launchChromium } from '../lib/chromium.ts';

export interface LivestreamOptions {
  /** Streams at once, tried in order until one falls behind real time. */
  steps: number[];
  seconds: number;
}

export const LIVESTREAM_DEFAULTS: LivestreamOptions = { steps: [1, 2, 3, 4], seconds: 15 };
const BITS = 20;
const FRAME_MS = 40;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 2): number => Number(v.toFixed(d));

/**
 * A 640x480 camera whose bottom row of boxes encodes the wall clock (40 ms units, 20 bits) from libavutil's
 * time(0) when the frame is drawn, and a tone: VP8 + Opus RTP to the given ports.
 */
function barcodeSource(videoPort: number, audioPort: number, ssrc: { video: number; audio: number }): ChildProcess {
  const boxes = Array.from(
    { length: BITS },
    (_, k) =>
      `drawbox=x=${10 + k * 30}:y=440:w=24:h=24:color=white:t=fill:enable='gte(mod(floor(time(0)*${1000 / FRAME_MS}/${2 ** k}),2),1)'`,
  );
  const graph = `[0:v]drawbox=x=0:y=430:w=640:h=50:color=black:t=fill,${boxes.join(',')}[v]`;
  return spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=s=640x480:r=25',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'sine=f=440:r=48000',
      '-filter_complex',
      graph,
      '-map',
      '[v]',
      '-c:v',
      'libvpx',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-b:v',
      '800k',
      '-g',
      '50',
      '-ssrc',
      String(ssrc.video),
      '-payload_type',
      '96',
      '-f',
      'rtp',
      `rtp://127.0.0.1:${videoPort}?pkt_size=1200`,
      '-map',
      '1:a',
      '-c:a',
      'libopus',
      '-b:a',
      '32k',
      '-ssrc',
      String(ssrc.audio),
      '-payload_type',
      '111',
      '-f',
      'rtp',
      `rtp://127.0.0.1:${audioPort}`,
    ],
    { stdio: 'ignore' },
  );
}

/** A hearing with one participant whose camera and microphone are a barcode source, streamed live. */
async function streamedHearing(server: HearingServer, n: number, size: '720p' | '480p'): Promise<{ id: string; source: ChildProcess }> {
  server.config.live.size = size;
  const hearing = server.hearings.create(
    { caseNumber: `LIVE-BENCH-${n}`, title: 'livestream benchmark', asr: { engine: 'off', language: 'en' }, streamable: true },
    'bench',
  );
  const party = await server.hearings.addParticipant(hearing.id, { name: `Speaker ${n}`, role: 'party' }, 'bench');
  const room = await server.plane.room(hearing.id);
  const ports: number[] = [];
  let video: { getStats(): Promise<{ packetCount?: number }[]> } | undefined;
  const ssrc = { video: 0x40000000 + n * 2, audio: 0x40000001 + n * 2 };
  for (const kind of ['video', 'audio'] as const) {
    const transport = await room.createPlainTransport(party.id, 'send', { comedia: true });
    const codec =
      kind === 'audio'
        ? { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }
        : { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] };
    const producer = await room.produce(
      party.id,
      transport.id,
      kind,
      { codecs: [codec], encodings: [{ ssrc: kind === 'audio' ? ssrc.audio : ssrc.video }] },
      kind === 'audio' ? 'mic' : 'camera',
    );
    if (kind === 'video') video = producer as never;
    ports.push(transport.tuple.localPort);
  }
  const source = barcodeSource(ports[0]!, ports[1]!, ssrc);
  // As in a courtroom, the camera is up before the stream starts.
  for (let i = 0; i < 100 && !((await video!.getStats())[0]?.packetCount ?? 0); i++) await sleep(100);
  server.hearings.transition(hearing.id, 'waiting_room', 'bench');
  server.hearings.transition(hearing.id, 'open', 'bench');
  await server.live.act(hearing.id, 'approve', 'bench');
  await server.live.act(hearing.id, 'start', 'bench');
  return { id: hearing.id, source };
}

/** Every ffmpeg whose command line mentions `needle` (the program of one hearing). */
function ffmpegPids(needle: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      const cmd = processCommandLine(pid);
      return cmd.startsWith('ffmpeg') && cmd.includes(needle);
    });
}

/** Glass-to-glass: the viewer page reads the barcode of each frame it presents. */
async function measureLatency(server: HearingServer, hearingId: string, seconds: number): Promise<number[]> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/watch/${hearingId}`);
    await page.waitForFunction(
      () => ((window as unknown as { watchClient?: { state(): { currentTime: number } } }).watchClient?.state().currentTime ?? 0) > 0.5,
      undefined,
      { timeout: 60_000 },
    );
    // Steady state: the player has had time to settle at its distance from the live edge (a viewer
    // watches for minutes; the first seconds after joining are not what they see).
    await sleep(10_000);
    // A string, not a function: the TypeScript loader would add helpers the page does not have.
    const script = `new Promise((resolve) => {
      const video = document.getElementById('player');
      const canvas = Object.assign(document.createElement('canvas'), { width: video.videoWidth, height: video.videoHeight });
      const g = canvas.getContext('2d', { willReadFrequently: true });
      const samples = [];
      // The source (640x480) fills the large area of the 720p program: 960x720, scaled by 1.5.
      const scale = video.videoHeight / 480;
      function read() {
        g.drawImage(video, 0, 0);
        let code = 0;
        for (let k = 0; k < ${BITS}; k++) {
          const r = g.getImageData(Math.round((10 + k * 30 + 12) * scale), Math.round((440 + 12) * scale), 1, 1).data[0];
          if (r > 128) code |= 1 << k;
        }
        const now = Math.floor(Date.now() / ${FRAME_MS}) % ${2 ** BITS};
        samples.push((((now - code) % ${2 ** BITS}) + ${2 ** BITS}) % ${2 ** BITS} * ${FRAME_MS});
      }
      function loop() {
        read();
        video.requestVideoFrameCallback(loop);
      }
      video.requestVideoFrameCallback(loop);
      setTimeout(() => resolve(samples), ${seconds * 1000});
    })`;
    return (await page.evaluate(script)) as number[];
  } finally {
    await browser.close();
  }
}

/** The baseline: one ffmpeg re-encodes the same kind of camera straight to HLS (no SFU, no composition). */
async function bareCpu(seconds: number, size: '720p' | '480p'): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-live-bare-'));
  const [w, h, kbps] = size === '720p' ? [1280, 720, 1800] : [854, 480, 900];
  const ff = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=s=640x480:r=25',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'sine=f=440:r=48000',
      '-vf',
      `scale=${w}:${h}`,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-tune',
      'zerolatency',
      '-g',
      '50',
      '-b:v',
      `${kbps}k`,
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      '-f',
      'hls',
      '-hls_time',
      '2',
      path.join(dir, 'bare.m3u8'),
    ],
    { stdio: 'ignore' },
  );
  await sleep(3000);
  const c0 = cpuSecondsOf([ff.pid!]);
  await sleep(seconds * 1000);
  const used = cpuSecondsOf([ff.pid!]) - c0;
  ff.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
  return used / seconds;
}

interface StepRow {
  step: string;
  streams: number;
  size: string;
  cpuPerStream: number;
  bareCpu: number;
  ratioVsBare: number;
  segmentsPerStream: number;
  expectedSegments: number;
  realTime: boolean;
}

/** `n` hearings streaming at once for `seconds`: program CPU per stream, segments published, and optionally latency. */
async function runStep(
  n: number,
  size: '720p' | '480p',
  seconds: number,
  withLatency: boolean,
): Promise<{ cpuPerStream: number; published: number[]; latency: number[]; elapsed: number }> {
  const { server, close } = await localServer('live');
  server.config.live.delaySeconds = 0;
  const streams: { id: string; source: ChildProcess }[] = [];
  try {
    for (let i = 0; i < n; i++) streams.push(await streamedHearing(server, i, size));
    await sleep(8000);
    // The program's encoders, followed through the window: a step down replaces one (the bench run of
    // 2026-11-27 05:40 read -6 % when the replaced one's time was subtracted).
    const cpu = trackCpu(() => streams.flatMap((s) => ffmpegPids(path.join('live-work', s.id))));
    const before = streams.map((s) => countPublished(server, s.id));
    const t0 = Date.now();
    const latency = withLatency ? await measureLatency(server, streams[0]!.id, seconds) : (await sleep(seconds * 1000), []);
    // The latency step also waits for the viewer to settle: CPU and segments are over the time that passed.
    const elapsed = (Date.now() - t0) / 1000;
    return {
      cpuPerStream: cpu.stop() / elapsed / n,
      published: streams.map((s, i) => countPublished(server, s.id) - before[i]!),
      latency,
      elapsed,
    };
  } finally {
    for (const s of streams) s.source.kill('SIGKILL');
    await close();
  }
}

export async function livestreamScenario(o: LivestreamOptions, progress: Progress): Promise<ScenarioOutcome> {
  const rows: StepRow[] = [];
  const row = (
    step: string,
    n: number,
    size: '720p' | '480p',
    r: { cpuPerStream: number; published: number[]; elapsed: number },
    bare: number,
  ): StepRow => ({
    step,
    streams: n,
    size,
    cpuPerStream: round(r.cpuPerStream * 100, 1),
    bareCpu: round(bare * 100, 1),
    ratioVsBare: round(r.cpuPerStream / bare),
    segmentsPerStream: Math.min(...r.published),
    expectedSegments: Math.round(r.elapsed),
    realTime: r.published.every((p) => p >= r.elapsed * 0.8),
  });
  const total = 2 + o.steps.filter((n) => n > 1).length;
  progress(0, '1 stream at 720p, with a viewer');
  const one = await runStep(1, '720p', o.seconds, true);
  const bare720 = await bareCpu(o.seconds, '720p');
  rows.push(row('720p', 1, '720p', one, bare720));
  progress(1 / total, '1 stream at 480p');
  const r480 = await runStep(1, '480p', o.seconds, false);
  rows.push(row('480p', 1, '480p', r480, await bareCpu(o.seconds, '480p')));
  let maxStreams = rows[0]!.realTime ? 1 : 0;
  for (const [i, n] of o.steps.filter((k) => k > 1).entries()) {
    progress((2 + i) / total, `${n} streams at 720p`);
    const r = row(`${n} at once`, n, '720p', await runStep(n, '720p', o.seconds, false), bare720);
    rows.push(r);
    if (!r.realTime) break;
    maxStreams = n;
  }
  progress(1, 'done');
  const latency = [...one.latency].sort((a, b) => a - b);
  const p = (q: number): number => round(percentile(latency, q) / 1000);
  const summary = {
    glassToGlassP50s: p(0.5),
    glassToGlassP95s: p(0.95),
    latencySamples: latency.length,
    delaySeconds: 0,
    cpuPctPerStream720p: rows[0]!.cpuPerStream,
    cpuPctPerStream480p: rows[1]!.cpuPerStream,
    bareCpuPct720p: rows[0]!.bareCpu,
    maxStreams720p: maxStreams,
  };
  return {
    summary,
    targets: [{ name: 'glassToGlassP50s', value: summary.glassToGlassP50s, target: '<= 4 (+ delay)', ok: summary.glassToGlassP50s <= 4 }],
    samples: { rows, latencyMs: latency },
    table: {
      columns: [
        'step',
        'streams',
        'size',
        'program CPU % per stream',
        'bare CPU %',
        'ratio vs bare',
        'segments per stream',
        'expected',
        'real time',
      ],
      rows: rows.map((r) => [
        r.step,
        r.streams,
        r.size,
        r.cpuPerStream,
        r.bareCpu,
        r.ratioVsBare,
        r.segmentsPerStream,
        r.expectedSegments,
        String(r.realTime),
      ]),
    },
    chart: { title: 'CPU % of a core per stream', bars: rows.map((r) => ({ label: r.step, value: r.cpuPerStream })) },
  };
}

/** Segments published so far (the media sequence plus the segments listed). */
function countPublished(server: HearingServer, hearingId: string): number {
  const file = path.join(server.live.publicDir(hearingId), 'video.m3u8');
  if (!fs.existsSync(file)) return 0;
  const text = fs.readFileSync(file, 'utf8');
  const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  return sequence + text.split('\n').filter((l) => l.endsWith('.ts')).length;
}
