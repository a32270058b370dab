import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../server/app/server.ts';
import { configFromEnv } from '../../server/app/config.ts';
import { verifyRecord } from '../../recordings/verify.ts';
import type { ManifestLine } from '../../recordings/manifest.ts';
import { childPids, cpuSecondsOf } from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import type { LoadProfile, SendTarget } from '../forwarding/messages.ts';
import { ask } from '../forwarding/systems.ts';

export interface RecordingOptions {
  /** Recorded tracks per step (half audio, half video), tried in order until one loses media. */
  steps: number[];
  seconds: number;
  workers: number;
}

export const RECORDING_DEFAULTS: RecordingOptions = { steps: [20, 60, 100, 140, 200, 260], seconds: 10, workers: 2 };
const TARGET_TRACKS_PER_CORE = 50;
const WARMUP_S = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface StepResult {
  tracks: number;
  hearings: number;
  seconds: number;
  recorderCpuSeconds: number;
  mediasoupCpuSeconds: number;
  cpuPctPerTrack: number;
  minCoverage: number;
  segments: number;
  gaps: number;
  stalls: number;
  ffmpegExits: number;
  /** The first few ffmpeg failure messages, for diagnosis. */
  failures: string[];
  verified: boolean;
  lossFree: boolean;
  dataDir: string | null;
}

/** One step: `tracks` tracks recorded at once from RTP ingest, through the real server and recorder. */
async function recordStep(tracks: number, o: RecordingOptions, progress: (f: number) => void): Promise<StepResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-recording-'));
  const server = await startServer({
    ...configFromEnv({}),
    port: 0,
    host: '127.0.0.1',
    dataDir,
    workers: o.workers,
    rtcMinPort: 30000,
    rtcMaxPort: 39999,
    recordPortMin: 20000,
    recordPortMax: 26999,
    apiKey: 'bench-api-key-0123456789',
    demo: false,
  });
  let keep = false;
  const sender = fork(fileURLToPath(new URL('../forwarding/sender.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
  try {
    const participants = Math.ceil(tracks / 2);
    const hearingIds: string[] = [];
    const targets: SendTarget[] = [];
    for (let p = 0; p < participants; p++) {
      if (p % 10 === 0)
        hearingIds.push(
          server.hearings.create(
            { caseNumber: `BENCH-${p}`, title: 'Recording benchmark', asr: { engine: 'off', language: 'en' } },
            'bench',
          ).id,
        );
      const hearingId = hearingIds.at(-1)!;
      const party = await server.hearings.addParticipant(hearingId, { name: `Party ${p}`, role: 'party' }, 'bench');
      const room = await server.plane.room(hearingId);
      for (const kind of ['audio', 'video'] as const) {
        if (targets.length >= tracks) break;
        const transport = await room.createPlainTransport(party.id, 'send', { comedia: true });
        const ssrc = 0x30000000 + targets.length;
        const payloadType = kind === 'audio' ? 111 : 96;
        const codec =
          kind === 'audio'
            ? { mimeType: 'audio/opus', payloadType, clockRate: 48000, channels: 2 }
            : { mimeType: 'video/VP8', payloadType, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] };
        await room.produce(party.id, transport.id, kind, { codecs: [codec], encodings: [{ ssrc }] }, kind === 'audio' ? 'mic' : 'camera');
        targets.push({ ip: '127.0.0.1', port: transport.tuple.localPort, ssrc, payloadType, kind, producer: targets.length });
      }
    }
    // Media flows first, as in a real courtroom; then every hearing opens, which starts recording.
    const profile: LoadProfile = {
      seconds: o.seconds + WARMUP_S + 1,
      audio: { pps: 50, bytes: 120 },
      video: { fps: 30, kbps: 600, mtu: 1100, keyFrameEverySeconds: 2 },
    };
    const sending = ask(sender, { type: 'start', targets, profile }, (o.seconds + 30) * 1000);
    await sleep(500);
    const pids = (): number[] => [server.recorder.processPid!, ...childPids(server.recorder.processPid!)];
    const workerPids = server.plane.pool.workers.map((w) => w.worker.pid);
    const opened = Date.now();
    for (const id of hearingIds) {
      server.hearings.transition(id, 'waiting_room', 'bench');
      server.hearings.transition(id, 'open', 'bench');
    }
    const timer = setInterval(() => progress(Math.min(0.95, (Date.now() - opened) / 1000 / (o.seconds + WARMUP_S))), 250);
    // CPU is measured in steady state: after every track's ffmpeg has started (their start-up is a
    // one-off cost of a few hundred ms each, amortized over a real hearing).
    await sleep(WARMUP_S * 1000);
    const livePids = pids();
    const cpu0 = cpuSecondsOf(livePids);
    const ms0 = cpuSecondsOf(workerPids);
    await sleep(o.seconds * 1000);
    const recorderCpuSeconds = cpuSecondsOf(livePids) - cpu0;
    const mediasoupCpuSeconds = cpuSecondsOf(workerPids) - ms0;
    const openSeconds = (Date.now() - opened) / 1000;
    clearInterval(timer);
    for (const id of hearingIds) server.hearings.transition(id, 'closed', 'bench');
    await sending;
    for (let i = 0; i < 200 && !hearingIds.every((id) => fs.existsSync(path.join(server.recorder.dirOf(id), 'signature.json'))); i++)
      await sleep(100);

    let minCoverage = Infinity;
    let segments = 0;
    let gaps = 0;
    let stalls = 0;
    let ffmpegExits = 0;
    const failures: string[] = [];
    let verified = true;
    for (const id of hearingIds) {
      const dir = server.recorder.dirOf(id);
      verified &&= verifyRecord(dir).ok;
      const lines = fs
        .readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ManifestLine);
      const perTrack = new Map<string, number>();
      for (const l of lines) {
        if (l.type === 'segment') {
          segments++;
          perTrack.set(l.track, (perTrack.get(l.track) ?? 0) + l.durationSeconds);
        } else if (l.event === 'gap' || l.event === 'recorder.backlog_dropped') gaps++;
        else if (l.event === 'stall' || l.event === 'track.no_media') stalls++;
        else if (l.event === 'ffmpeg.exit') {
          ffmpegExits++;
          if (failures.length < 3) failures.push(String(l.message).slice(0, 300));
        }
      }
      const expectedTracks = targets.length / hearingIds.length;
      for (const d of perTrack.values()) minCoverage = Math.min(minCoverage, d / openSeconds);
      if (perTrack.size < Math.floor(expectedTracks)) minCoverage = 0;
    }
    const cpuPctPerTrack = ((recorderCpuSeconds / o.seconds) * 100) / targets.length;
    const lossFree = verified && gaps === 0 && ffmpegExits === 0 && minCoverage >= 0.95;
    keep = !lossFree;
    return {
      tracks: targets.length,
      hearings: hearingIds.length,
      seconds: o.seconds,
      recorderCpuSeconds: Number(recorderCpuSeconds.toFixed(2)),
      mediasoupCpuSeconds: Number(mediasoupCpuSeconds.toFixed(2)),
      cpuPctPerTrack: Number(cpuPctPerTrack.toFixed(3)),
      minCoverage: Number((minCoverage === Infinity ? 0 : minCoverage).toFixed(3)),
      segments,
      gaps,
      stalls,
      ffmpegExits,
      failures,
      verified,
      lossFree,
      /** Kept for inspection when something was lost. */
      dataDir: lossFree ? null : dataDir,
    };
  } finally {
    sender.kill();
    await server.close();
    if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Concurrent recordings: CPU per recorded track and the most tracks recorded with nothing lost. */
export async function recordingScenario(o: RecordingOptions, progress: Progress): Promise<ScenarioOutcome> {
  const steps: StepResult[] = [];
  for (const [i, tracks] of o.steps.entries()) {
    const step = await recordStep(tracks, o, (f) => progress((i + f) / o.steps.length, `${tracks} tracks`));
    steps.push(step);
    if (!step.lossFree) break;
  }
  progress(1, 'done');
  const ok = steps.filter((s) => s.lossFree);
  const maxTracksNoLoss = ok.length ? Math.max(...ok.map((s) => s.tracks)) : 0;
  const cores = os.availableParallelism();
  const largest = ok.at(-1);
  const summary = {
    maxTracksNoLoss,
    tracksPerCore: Number((maxTracksNoLoss / cores).toFixed(1)),
    cpuPctPerTrack: largest?.cpuPctPerTrack ?? null,
    stoppedAt: steps.find((s) => !s.lossFree)?.tracks ?? null,
    limit: ok.length === steps.length ? 'no loss up to the largest step' : 'the next step lost media (see samples)',
  };
  return {
    summary,
    targets: [
      {
        name: 'tracksPerCore',
        value: summary.tracksPerCore,
        target: `>= ${TARGET_TRACKS_PER_CORE}`,
        ok: summary.tracksPerCore >= TARGET_TRACKS_PER_CORE,
      },
    ],
    samples: { steps },
    table: {
      columns: [
        'tracks',
        'hearings',
        'recorder+ffmpeg CPU s',
        'CPU % per track',
        'mediasoup CPU s',
        'segments',
        'min coverage',
        'gaps',
        'ffmpeg exits',
        'verified',
        'nothing lost',
      ],
      rows: steps.map((s) => [
        s.tracks,
        s.hearings,
        s.recorderCpuSeconds,
        s.cpuPctPerTrack,
        s.mediasoupCpuSeconds,
        s.segments,
        s.minCoverage,
        s.gaps,
        s.ffmpegExits,
        String(s.verified),
        String(s.lossFree),
      ]),
    },
    chart: {
      title: 'Recorder CPU per recorded track (% of a core)',
      bars: steps.map((s) => ({ label: `${s.tracks} tracks`, value: s.cpuPctPerTrack })),
    },
  };
}
