import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../server/app/server.ts';
import { configFromEnv } from '../../server/app/config.ts';
import { verifyRecord } from '../../recordings/verify.ts';
import type { ManifestLine } from '../../recordings/manifest.ts';
import { childPids, cpuSecondsOf, processPssMiB } from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import type { LoadProfile, SendTarget } from '../forwarding/messages.ts';
import { ask } from '../forwarding/systems.ts';

export type Writer = 'mux' | 'ffmpeg';

export interface RecordingOptions {
  /**
   * Recorded tracks per step (half audio, half video), tried in order until one loses media: first with
   * the in-process muxer, then the same steps with one ffmpeg per track (the baseline, in the same run).
   */
  steps: number[];
  seconds: number;
  workers: number;
}

export const RECORDING_DEFAULTS: RecordingOptions = { steps: [100, 200, 400, 600, 800, 1000], seconds: 10, workers: 2 };
/** Issue 15's goals: 1,000 tracks on 2 cores, at most 2 MiB of recorder memory per track. */
const TARGET_TRACKS_PER_CORE = 500;
const TARGET_RSS_MIB_PER_TRACK = 2;
const WARMUP_S = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface StepResult {
  writer: Writer;
  tracks: number;
  hearings: number;
  seconds: number;
  recorderCpuSeconds: number;
  mediasoupCpuSeconds: number;
  cpuPctPerTrack: number;
  /**
   * Resident memory of the recorder and its ffmpeg processes at the end of the window, MiB: their
   * proportional set size (shared pages counted once in all, not once per process).
   */
  rssMiB: number;
  rssMiBPerTrack: number;
  minCoverage: number;
  segments: number;
  gaps: number;
  stalls: number;
  /** ffmpeg exits, muxer errors and track start failures. */
  writerErrors: number;
  /** The first few writer failure messages, for diagnosis. */
  failures: string[];
  verified: boolean;
  lossFree: boolean;
  dataDir: string | null;
}

/** One step: `tracks` tracks recorded at once from RTP ingest, through the real server and recorder. */
async function recordStep(tracks: number, writer: Writer, o: RecordingOptions, progress: (f: number) => void): Promise<StepResult> {
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
    recordWriter: writer,
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
    // CPU is measured in steady state: after every track's writer has started (an ffmpeg's start-up is
    // a one-off cost of a few hundred ms each, amortized over a real hearing).
    await sleep(WARMUP_S * 1000);
    const livePids = pids();
    const cpu0 = cpuSecondsOf(livePids);
    const ms0 = cpuSecondsOf(workerPids);
    await sleep(o.seconds * 1000);
    const recorderCpuSeconds = cpuSecondsOf(livePids) - cpu0;
    const rssMiB = pids().reduce((n, pid) => n + processPssMiB(pid), 0);
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
    let writerErrors = 0;
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
        else if (l.event === 'ffmpeg.exit' || l.event === 'recorder.muxer_error' || l.event === 'recorder.track_error') {
          writerErrors++;
          if (failures.length < 3) failures.push(String(l.message).slice(0, 300));
        }
      }
      const expectedTracks = targets.length / hearingIds.length;
      for (const d of perTrack.values()) minCoverage = Math.min(minCoverage, d / openSeconds);
      if (perTrack.size < Math.floor(expectedTracks)) minCoverage = 0;
    }
    const cpuPctPerTrack = ((recorderCpuSeconds / o.seconds) * 100) / targets.length;
    const lossFree = verified && gaps === 0 && writerErrors === 0 && minCoverage >= 0.95;
    keep = !lossFree;
    return {
      writer,
      tracks: targets.length,
      hearings: hearingIds.length,
      seconds: o.seconds,
      recorderCpuSeconds: Number(recorderCpuSeconds.toFixed(2)),
      mediasoupCpuSeconds: Number(mediasoupCpuSeconds.toFixed(2)),
      cpuPctPerTrack: Number(cpuPctPerTrack.toFixed(3)),
      rssMiB: Number(rssMiB.toFixed(1)),
      rssMiBPerTrack: Number((rssMiB / targets.length).toFixed(3)),
      minCoverage: Number((minCoverage === Infinity ? 0 : minCoverage).toFixed(3)),
      segments,
      gaps,
      stalls,
      writerErrors,
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

/** What one writer managed: its steps, up to the first that lost media. */
function best(steps: StepResult[]): {
  maxTracksNoLoss: number;
  cpuPctPerTrack: number | null;
  rssMiBPerTrack: number | null;
  stoppedAt: number | null;
} {
  const ok = steps.filter((s) => s.lossFree);
  const largest = ok.at(-1);
  return {
    maxTracksNoLoss: largest?.tracks ?? 0,
    cpuPctPerTrack: largest?.cpuPctPerTrack ?? null,
    rssMiBPerTrack: largest?.rssMiBPerTrack ?? null,
    stoppedAt: steps.find((s) => !s.lossFree)?.tracks ?? null,
  };
}

/**
 * Concurrent recordings: the most tracks recorded with nothing lost, CPU and memory per track — muxed
 * in the recorder process, then one ffmpeg per track on the same steps (the baseline).
 */
export async function recordingScenario(o: RecordingOptions, progress: Progress): Promise<ScenarioOutcome> {
  const steps: StepResult[] = [];
  const writers: Writer[] = ['mux', 'ffmpeg'];
  const total = o.steps.length * writers.length;
  for (const [w, writer] of writers.entries()) {
    for (const [i, tracks] of o.steps.entries()) {
      const done = w * o.steps.length + i;
      const step = await recordStep(tracks, writer, o, (f) => progress((done + f) / total, `${writer}: ${tracks} tracks`));
      steps.push(step);
      if (!step.lossFree) break;
    }
  }
  progress(1, 'done');
  const cores = os.availableParallelism();
  const mux = best(steps.filter((s) => s.writer === 'mux'));
  const ffmpeg = best(steps.filter((s) => s.writer === 'ffmpeg'));
  const summary = {
    maxTracksNoLoss: mux.maxTracksNoLoss,
    tracksPerCore: Number((mux.maxTracksNoLoss / cores).toFixed(1)),
    cpuPctPerTrack: mux.cpuPctPerTrack,
    rssMiBPerTrack: mux.rssMiBPerTrack,
    stoppedAt: mux.stoppedAt,
    limit: mux.stoppedAt === null ? 'no loss up to the largest step' : 'the next step lost media (see samples)',
    /** One ffmpeg per track, the same steps in the same run. */
    ffmpeg: { ...ffmpeg, tracksPerCore: Number((ffmpeg.maxTracksNoLoss / cores).toFixed(1)) },
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
      {
        name: 'rssMiBPerTrack',
        value: summary.rssMiBPerTrack ?? 0,
        target: `<= ${TARGET_RSS_MIB_PER_TRACK}`,
        ok: summary.rssMiBPerTrack !== null && summary.rssMiBPerTrack <= TARGET_RSS_MIB_PER_TRACK,
      },
    ],
    samples: { steps },
    table: {
      columns: [
        'writer',
        'tracks',
        'hearings',
        'recorder CPU s',
        'CPU % per track',
        'recorder RSS MiB',
        'RSS MiB per track',
        'mediasoup CPU s',
        'segments',
        'min coverage',
        'gaps',
        'writer errors',
        'verified',
        'nothing lost',
      ],
      rows: steps.map((s) => [
        s.writer === 'mux' ? 'in-process muxer' : 'ffmpeg per track',
        s.tracks,
        s.hearings,
        s.recorderCpuSeconds,
        s.cpuPctPerTrack,
        s.rssMiB,
        s.rssMiBPerTrack,
        s.mediasoupCpuSeconds,
        s.segments,
        s.minCoverage,
        s.gaps,
        s.writerErrors,
        String(s.verified),
        String(s.lossFree),
      ]),
    },
    chart: {
      title: 'Recorder CPU per recorded track (% of a core)',
      bars: steps.map((s) => ({ label: `${s.writer} ${s.tracks}`, value: s.cpuPctPerTrack })),
    },
  };
}
