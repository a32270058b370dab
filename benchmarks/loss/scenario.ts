// Loss: a publisher (headless Chromium, our browser client) on a lossy, delayed, jittery uplink to the
// server; a subscriber (another Chromium page) and the record on clean paths. Per loss level, beside a
// 0 % baseline in the same run: what the uplink lost, what mediasoup's NACK repaired, what the subscriber
// decoded (frames, freezes, audio concealment) and what reached the record (sequence gaps, decode errors,
// frames). Target: at 10 % loss and a 100 ms round trip, no video packet missing from the record.
// The impairment is a user-space relay (./impair.ts): this kernel has no netem.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { types } from 'mediasoup';
import { startServer, type HearingServer } from '../../server/app/server.ts';
import { configFromEnv } from '../../server/app/config.ts';
import { readManifest } from '../../recordings/manifest.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import { rest } from '../lib/rest.ts';
import { joinLink, launchChromium } from '../lib/chromium.ts';
import type { FromImpair, ImpairConfig, ImpairCounters, ToImpair } from './impair.ts';
import type { InboundStats } from '../../client-demo/src/stats.ts';

/** What the join page exposes to a harness (a function predicate: the page's policy forbids eval). */

export interface LossOptions {
  /** Loss levels in percent; a 0 % baseline is always run first. */
  levels: number[];
  /**
   * Each lossy level also on a server without Opus NACK (`HEARING_OPUS_NACK=0`: lost microphone packets
   * repaired by in-band FEC only, as before NACK was negotiated), side by side in the same run.
   */
  fecOnly: boolean;
  seconds: number;
  rttMs: number;
  jitterMs: number;
  /**
   * Each lossy level also with a mediasoup worker that asks a sender this many times for a lost packet
   * instead of 10 (built by scripts/build-worker.sh with HEARING_NACK_RETRIES, and run in a child process:
   * mediasoup takes its worker binary once per process), the recorder holding a hole as long as the
   * repairs may take. Off when undefined.
   */
  nackRetries?: number;
}

export const LOSS_DEFAULTS: LossOptions = { levels: [1, 5, 10, 20], fecOnly: true, seconds: 20, rttMs: 100, jitterMs: 10 };

/** mediasoup's own number of NACK retries for a lost packet (MaxNackRetries in RTC/NackGenerator.cpp). */
export const WORKER_NACK_RETRIES = 10;

const IMPAIR_IP = '127.0.0.2';
const RTC_PORTS = { min: 47000, max: 47039 };
const WARMUP_MS = 5000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 2): number => Number(v.toFixed(d));

/** What the subscriber page's client reports per consumer (the browser's inbound-rtp statistics). */
type TrackStats = InboundStats & { kind: 'audio' | 'video' };

export interface LossRow {
  lossPct: number;
  /** How lost microphone packets are repaired: asked for again (NACK) and FEC, or FEC alone. */
  audioRepair: 'nack+fec' | 'fec';
  /** How many times the server's media worker asks for a lost packet (mediasoup's 10, or a patched build's). */
  workerNackRetries: number;
  /** How long the recorder holds a hole in a track for its repair before it is a gap (ms). */
  recordHoldMs: number;
  rttMs: number;
  uplinkRtpPackets: number;
  uplinkRtpDropped: number;
  /** At the server's producers (summed over simulcast layers): lost before repair, repaired by NACK. */
  serverPacketsLost: number;
  serverPacketsRepaired: number;
  serverNacks: number;
  /** Of those: microphone packets repaired (retransmitted on the server's NACK). */
  serverAudioRepaired: number;
  /** Video packets (any simulcast layer) the server never got, even after NACK: unrepairable downstream. */
  serverVideoNeverReceived: number;
  subscriberFps: number;
  subscriberFreezes: number;
  subscriberFreezeSeconds: number;
  subscriberVideoLost: number;
  subscriberAudioConcealedPct: number;
  recordVideoGapPackets: number;
  /**
   * Of those, the ones lost while serverVideoNeverReceived was traced (2 s after the window opened, to
   * its end): beside it, what was lost between the server and the record rather than before the server.
   */
  recordVideoGapPacketsTraced: number;
  recordAudioGapPackets: number;
  recordVideoDecodeErrors: number;
  recordVideoFrames: number;
  /** Frames after a gap and before the next key frame (decodable, but built on missing data). */
  recordVideoDamagedFrames: number;
  recordVideoSeconds: number;
}

async function startImpair(config: ImpairConfig): Promise<{ child: ChildProcess; counters: () => Promise<ImpairCounters> }> {
  const child = fork(fileURLToPath(new URL('./impair.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
  const started = await new Promise<FromImpair>((resolve, reject) => {
    child.once('message', (m: FromImpair) => resolve(m));
    child.once('exit', (code) => reject(new Error(`the impairment relay exited (${code})`)));
    child.send({ type: 'start', config } satisfies ToImpair);
  });
  if (started.type !== 'started' || started.ports !== config.portMax - config.portMin + 1) {
    child.kill('SIGKILL');
    throw new Error(
      `the impairment relay could not listen on ${config.listenIp}:${config.portMin}-${config.portMax}: ${JSON.stringify(started)}`,
    );
  }
  const counters = (): Promise<ImpairCounters> =>
    new Promise((resolve) => {
      child.once('message', (m: FromImpair) => m.type === 'counters' && resolve(m.counters));
      child.send({ type: 'counters' } satisfies ToImpair);
    });
  return { child, counters };
}

async function joinPage(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  await joinLink(page, url);
  return page;
}

const subscriberStats = async (page: Page, from: string): Promise<TrackStats[]> =>
  ((await page.evaluate('window.hearingClient.stats()')) as (TrackStats & { participantId: string })[]).filter(
    (s) => s.participantId === from,
  );

async function producerStats(
  server: HearingServer,
  hearingId: string,
  participantId: string,
): Promise<{ lost: number; repaired: number; nacks: number; audioRepaired: number }> {
  const room = server.plane.get(hearingId);
  const out = { lost: 0, repaired: 0, nacks: 0, audioRepaired: 0 };
  for (const p of room?.producers().filter((x) => x.participantId === participantId) ?? []) {
    for (const s of (await room!.findProducer(p.producerId)?.getStats()) ?? []) {
      out.lost += s.packetsLost;
      out.repaired += s.packetsRepaired;
      out.nacks += s.nackCount;
      if (p.kind === 'audio') out.audioRepaired += s.packetsRepaired;
    }
  }
  return out;
}

/**
 * Follows every packet the publisher's video producer receives (mediasoup 'rtp' trace events, repaired
 * ones included) and, at stop, counts the sequence numbers of each layer that never arrived. Packets
 * still within a repair window at the start or the end (2 s) are not judged.
 */
async function traceVideo(server: HearingServer, hearingId: string, participantId: string): Promise<{ stop: () => Promise<number> }> {
  const room = server.plane.get(hearingId);
  const info = room?.producers().find((p) => p.participantId === participantId && p.kind === 'video');
  const producer = info && room!.findProducer(info.producerId);
  if (!producer) throw new Error('the publisher has no video producer');
  const seen = new Map<number, { first: number; last: number; seqs: Set<number> }>();
  const startedAt = Date.now();
  producer.on('trace', (t: types.ProducerTraceEventData) => {
    const p = t.info as { ssrc?: number; sequenceNumber?: number; isRtx?: boolean };
    if (t.type !== 'rtp' || p.ssrc === undefined || p.sequenceNumber === undefined) return;
    const layer = seen.get(p.ssrc) ?? { first: -1, last: -1, seqs: new Set<number>() };
    layer.seqs.add(p.sequenceNumber);
    // Window bounds from original (not repaired) packets, 2 s in and until 2 s before the end.
    if (!p.isRtx && Date.now() - startedAt > 2000) {
      if (layer.first < 0) layer.first = p.sequenceNumber;
      layer.last = p.sequenceNumber;
    }
    seen.set(p.ssrc, layer);
  });
  await producer.enableTraceEvent(['rtp']);
  return {
    stop: async () => {
      const lasts = new Map([...seen].map(([ssrc, l]) => [ssrc, l.last]));
      await sleep(2000); // repairs of the last packets may still come
      await producer.enableTraceEvent([]);
      let missing = 0;
      for (const [ssrc, l] of seen) {
        const last = lasts.get(ssrc)!;
        if (l.first < 0 || last < 0) continue;
        for (let q = l.first; q !== last; q = (q + 1) & 0xffff) if (!l.seqs.has(q)) missing++;
      }
      return missing;
    },
  };
}

/**
 * The publisher's video in the record: decode errors ffmpeg reports, frames, and the frames damaged by a
 * gap (after a lost packet and before the next key frame: they refer to what is missing).
 */
function recordedVideo(
  dir: string,
  segments: { file: string; start: string }[],
  gapTimes: number[],
): { errors: number; frames: number; damaged: number } {
  let errors = 0;
  const frames: { at: number; key: boolean }[] = [];
  for (const s of segments) {
    const file = path.join(dir, s.file);
    const log = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    errors += log.split('\n').filter((l) => l.trim()).length;
    const packets = execFileSync(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file],
      { encoding: 'utf8' },
    );
    for (const line of packets.trim().split('\n')) {
      const [pts, flags] = line.split(',');
      if (pts && Number.isFinite(Number(pts)))
        frames.push({ at: Date.parse(s.start) + Number(pts) * 1000, key: (flags ?? '').includes('K') });
    }
  }
  frames.sort((a, b) => a.at - b.at);
  const damaged = new Set<number>();
  for (const g of gapTimes) {
    for (let i = frames.findIndex((f) => f.at >= g); i >= 0 && i < frames.length && !frames[i]!.key; i++) damaged.add(i);
  }
  return { errors, frames: frames.length, damaged: damaged.size };
}

async function runLevel(server: HearingServer, browser: Browser, lossPct: number, o: LossOptions): Promise<LossRow> {
  // The 0 % baseline is a clean path: no delay, no jitter either.
  const rttMs = lossPct === 0 ? 0 : o.rttMs;
  const impair = await startImpair({
    listenIp: IMPAIR_IP,
    targetIp: '127.0.0.1',
    portMin: RTC_PORTS.min,
    portMax: RTC_PORTS.max,
    lossPct,
    rttMs,
    jitterMs: lossPct === 0 ? 0 : o.jitterMs,
    seed: 1000 + lossPct,
  });
  const pages: Page[] = [];
  try {
    const base = server.url;
    const key = server.secrets.apiKey;
    const hearing = await rest(base, key, 'POST', '/hearings', {
      caseNumber: `LOSS-${lossPct}-${Date.now()}`,
      title: `loss ${lossPct} %`,
      asr: { engine: 'off', language: 'en' },
    });
    const publisher = await rest(base, key, 'POST', `/hearings/${hearing.id}/participants`, { name: 'Publisher', role: 'party' });
    const subscriber = await rest(base, key, 'POST', `/hearings/${hearing.id}/participants`, { name: 'Subscriber', role: 'viewer' });
    await rest(base, key, 'POST', `/hearings/${hearing.id}/transitions`, { to: 'waiting_room' });
    await rest(base, key, 'POST', `/hearings/${hearing.id}/transitions`, { to: 'open' });
    pages.push(await joinPage(browser, publisher.joinUrl));
    pages.push(await joinPage(browser, subscriber.joinUrl));
    const sub = pages[1]!;
    await sub.waitForFunction(
      `window.hearingClient.stats().then((s) => s.some((x) => x.participantId === ${JSON.stringify(publisher.id)} && x.kind === 'video' && x.framesDecoded > 0))`,
      undefined,
      { timeout: 60_000, polling: 200 },
    );
    await sleep(WARMUP_MS);
    const s0 = await subscriberStats(sub, publisher.id);
    const p0 = await producerStats(server, hearing.id, publisher.id);
    const c0 = await impair.counters();
    const trace = await traceVideo(server, hearing.id, publisher.id);
    const t0 = Date.now();
    await sleep(o.seconds * 1000);
    const t1 = Date.now();
    const neverReceived = await trace.stop();
    const s1 = await subscriberStats(sub, publisher.id);
    const p1 = await producerStats(server, hearing.id, publisher.id);
    const c1 = await impair.counters();
    const elapsed = (Date.now() - t0) / 1000;
    await rest(base, key, 'POST', `/hearings/${hearing.id}/transitions`, { to: 'closed' });
    await server.recorder.settled(hearing.id);

    const delta = (kind: 'audio' | 'video', f: keyof Omit<TrackStats, 'kind'>): number =>
      (s1.find((s) => s.kind === kind)?.[f] ?? 0) - (s0.find((s) => s.kind === kind)?.[f] ?? 0);
    const dir = server.recorder.dirOf(hearing.id);
    const lines = readManifest(dir).lines as unknown as Record<string, unknown>[];
    const mine = (l: Record<string, unknown>): boolean => l.participantId === publisher.id;
    const gaps = (kind: string): Record<string, unknown>[] =>
      lines.filter((l) => l.event === 'gap' && mine(l) && String(l.track).includes(`-${kind}-`));
    const gapPackets = (kind: string): number => gaps(kind).reduce((n, l) => n + Number(l.missing), 0);
    const videoSegments = lines.filter((l) => l.type === 'segment' && mine(l) && l.kind === 'video');
    const video = recordedVideo(
      dir,
      videoSegments.map((l) => ({ file: String(l.file), start: String(l.start) })),
      gaps('video').map((l) => Date.parse(String(l.at))),
    );
    return {
      lossPct,
      audioRepair: server.config.opusNack ? 'nack+fec' : 'fec',
      workerNackRetries: Number(process.env.HEARING_BENCH_NACK_RETRIES ?? WORKER_NACK_RETRIES),
      recordHoldMs: server.config.recordHoldMs,
      rttMs,
      uplinkRtpPackets: c1.up.rtp - c0.up.rtp,
      uplinkRtpDropped: c1.up.rtpDropped - c0.up.rtpDropped,
      serverPacketsLost: p1.lost - p0.lost,
      serverPacketsRepaired: p1.repaired - p0.repaired,
      serverNacks: p1.nacks - p0.nacks,
      serverAudioRepaired: p1.audioRepaired - p0.audioRepaired,
      serverVideoNeverReceived: neverReceived,
      subscriberFps: round(delta('video', 'framesDecoded') / elapsed, 1),
      subscriberFreezes: delta('video', 'freezeCount'),
      subscriberFreezeSeconds: round(delta('video', 'totalFreezesDuration')),
      subscriberVideoLost: delta('video', 'packetsLost'),
      subscriberAudioConcealedPct: round((100 * delta('audio', 'concealedSamples')) / Math.max(1, delta('audio', 'totalSamplesReceived'))),
      recordVideoGapPackets: gapPackets('video'),
      // A gap is written when the recorder gives up on the hole (recordHoldMs after the loss).
      recordVideoGapPacketsTraced: gaps('video')
        .filter((l) => {
          const lostAt = Date.parse(String(l.at)) - server.config.recordHoldMs;
          return lostAt >= t0 + 2000 && lostAt <= t1;
        })
        .reduce((n, l) => n + Number(l.missing), 0),
      recordAudioGapPackets: gapPackets('audio'),
      recordVideoDecodeErrors: video.errors,
      recordVideoFrames: video.frames,
      recordVideoDamagedFrames: video.damaged,
      recordVideoSeconds: round(
        videoSegments.reduce((n, l) => n + Number(l.durationSeconds), 0),
        1,
      ),
    };
  } finally {
    for (const p of pages)
      await p
        .context()
        .close()
        .catch(() => undefined);
    impair.child.kill('SIGKILL');
  }
}

/** One server at a time on the impairment relay's ports: ours, or one without Opus NACK. */
async function lossServer(opusNack: boolean, recordHoldMs?: number): Promise<HearingServer> {
  return startServer({
    ...configFromEnv({}),
    port: 0,
    host: '127.0.0.1',
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-loss-')),
    workers: 1,
    rtcMinPort: RTC_PORTS.min,
    rtcMaxPort: RTC_PORTS.max,
    listenIp: '127.0.0.1',
    announcedIp: IMPAIR_IP,
    apiKey: 'bench-api-key-0123456789',
    demo: false,
    opusNack,
    ...(recordHoldMs ? { recordHoldMs } : {}),
  });
}

/** The levels on one server (in this process, with the worker binary this process was started with). */
export async function lossLevelsOnServer(
  levels: number[],
  o: LossOptions & { opusNack: boolean; recordHoldMs?: number },
  progress: (done: number, what: string) => void,
): Promise<LossRow[]> {
  const browser = await launchChromium();
  const rows: LossRow[] = [];
  try {
    const server = await lossServer(o.opusNack, o.recordHoldMs);
    try {
      for (const lossPct of levels) {
        progress(rows.length, `${lossPct} % loss${lossPct ? `, ${o.rttMs} ms RTT` : ' (baseline)'}${o.opusNack ? '' : ', FEC only'}`);
        rows.push(await runLevel(server, browser, lossPct, o));
      }
    } finally {
      await server.close();
      fs.rmSync(server.config.dataDir, { recursive: true, force: true });
    }
  } finally {
    await browser.close();
  }
  return rows;
}

/**
 * The lossy levels with a worker that asks `retries` times for a lost packet: the worker is built (or
 * taken from the build cache) by scripts/build-worker.sh, and the levels run in a child process started
 * with MEDIASOUP_WORKER_BIN pointing at it. The recorder holds a hole as long as the repairs may take:
 * `retries` round trips (mediasoup asks again each RTT) and a margin.
 */
async function lossLevelsWithRetries(
  retries: number,
  levels: number[],
  o: LossOptions,
  progress: (done: number, what: string) => void,
): Promise<LossRow[]> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const bin = path.join(os.tmpdir(), `mediasoup-worker-nack${retries}`);
  progress(0, `mediasoup worker asking ${retries} times for a lost packet (built once, about 6 minutes)`);
  execFileSync('bash', [path.join(root, 'scripts/build-worker.sh')], {
    env: { ...process.env, HEARING_NACK_RETRIES: String(retries), HEARING_WORKER_OUT: bin },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const recordHoldMs = Math.max(2000, retries * (o.rttMs + o.jitterMs) + 1000);
  const child = fork(fileURLToPath(new URL('./long-nack.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, MEDIASOUP_WORKER_BIN: bin, HEARING_BENCH_NACK_RETRIES: String(retries) },
  });
  return new Promise<LossRow[]>((resolve, reject) => {
    child.on('message', (m: FromLongNack) => {
      if (m.type === 'progress') progress(m.done, `${m.what}, worker asking ${retries} times`);
      else if (m.type === 'rows') resolve(m.rows);
      else reject(new Error(`the run with a worker asking ${retries} times failed: ${m.message}`));
    });
    child.once('exit', (code) => reject(new Error(`the run with a worker asking ${retries} times exited (${code})`)));
    child.send({ levels, options: { ...o, opusNack: true, recordHoldMs } } satisfies ToLongNack);
  });
}

export interface ToLongNack {
  levels: number[];
  options: LossOptions & { opusNack: boolean; recordHoldMs: number };
}
export type FromLongNack =
  { type: 'progress'; done: number; what: string } | { type: 'rows'; rows: LossRow[] } | { type: 'error'; message: string };

export async function lossScenario(o: LossOptions, progress: Progress): Promise<ScenarioOutcome> {
  const rows: LossRow[] = [];
  const levels = [0, ...o.levels.filter((l) => l > 0)];
  const lossy = levels.filter((l) => l > 0);
  const total = levels.length + (o.fecOnly ? lossy.length : 0) + (o.nackRetries ? lossy.length : 0);
  const step = (done: number, what: string) => progress((rows.length + done) / total, what);
  rows.push(...(await lossLevelsOnServer(levels, { ...o, opusNack: true }, step)));
  if (o.fecOnly && lossy.length) rows.push(...(await lossLevelsOnServer(lossy, { ...o, opusNack: false }, step)));
  if (o.nackRetries && lossy.length) rows.push(...(await lossLevelsWithRetries(o.nackRetries, lossy, o, step)));
  progress(1, 'done');
  const baseline = rows[0]!;
  const row = (lossPct: number, audioRepair: LossRow['audioRepair'], retries = WORKER_NACK_RETRIES): LossRow | undefined =>
    rows.find((r) => r.lossPct === lossPct && r.audioRepair === audioRepair && r.workerNackRetries === retries);
  const at10 = row(10, 'nack+fec');
  const at20 = row(20, 'nack+fec');
  const fecAt10 = row(10, 'fec');
  const fecAt20 = row(20, 'fec');
  const summary = {
    rttMs: o.rttMs,
    jitterMs: o.jitterMs,
    baselineRecordVideoGapPackets: baseline.recordVideoGapPackets,
    baselineSubscriberFps: baseline.subscriberFps,
    ...(at10 && {
      uplinkLossAt10Pct: round((100 * at10.uplinkRtpDropped) / Math.max(1, at10.uplinkRtpPackets), 1),
      recordVideoGapPacketsAt10Pct: at10.recordVideoGapPackets,
      recordVideoDecodeErrorsAt10Pct: at10.recordVideoDecodeErrors,
      subscriberFpsRatioAt10Pct: round(at10.subscriberFps / Math.max(0.1, baseline.subscriberFps)),
      subscriberAudioConcealedPctAt10Pct: at10.subscriberAudioConcealedPct,
      recordAudioGapPacketsAt10Pct: at10.recordAudioGapPackets,
    }),
    ...(at20 && { recordVideoGapPacketsAt20Pct: at20.recordVideoGapPackets, recordAudioGapPacketsAt20Pct: at20.recordAudioGapPackets }),
    ...(fecAt10 && { fecOnlyRecordAudioGapPacketsAt10Pct: fecAt10.recordAudioGapPackets }),
    ...(fecAt20 && { fecOnlyRecordAudioGapPacketsAt20Pct: fecAt20.recordAudioGapPackets }),
    ...(o.nackRetries && {
      longNack: {
        workerNackRetries: o.nackRetries,
        recordHoldMs: row(10, 'nack+fec', o.nackRetries)?.recordHoldMs ?? row(20, 'nack+fec', o.nackRetries)?.recordHoldMs ?? null,
        recordVideoGapPacketsAt10Pct: row(10, 'nack+fec', o.nackRetries)?.recordVideoGapPackets ?? null,
        recordVideoGapPacketsAt20Pct: row(20, 'nack+fec', o.nackRetries)?.recordVideoGapPackets ?? null,
        serverVideoNeverReceivedAt10Pct: row(10, 'nack+fec', o.nackRetries)?.serverVideoNeverReceived ?? null,
        serverVideoNeverReceivedAt20Pct: row(20, 'nack+fec', o.nackRetries)?.serverVideoNeverReceived ?? null,
      },
    }),
  };
  const targets = [
    {
      name: 'baseline: video packets missing from the record at 0 %',
      value: baseline.recordVideoGapPackets,
      target: '= 0',
      ok: baseline.recordVideoGapPackets === 0,
    },
    ...(at10
      ? [
          {
            name: 'video packets missing from the record at 10 % loss',
            value: at10.recordVideoGapPackets + at10.recordVideoDecodeErrors,
            target: '= 0',
            ok: at10.recordVideoGapPackets + at10.recordVideoDecodeErrors === 0,
          },
          {
            name: 'audio packets missing from the record at 10 % loss',
            value: at10.recordAudioGapPackets,
            target: '= 0',
            ok: at10.recordAudioGapPackets === 0,
          },
        ]
      : []),
  ];
  const columns: (keyof LossRow)[] = [
    'lossPct',
    'audioRepair',
    'workerNackRetries',
    'recordHoldMs',
    'rttMs',
    'uplinkRtpPackets',
    'uplinkRtpDropped',
    'serverPacketsLost',
    'serverPacketsRepaired',
    'serverNacks',
    'serverAudioRepaired',
    'serverVideoNeverReceived',
    'subscriberFps',
    'subscriberFreezes',
    'subscriberFreezeSeconds',
    'subscriberVideoLost',
    'subscriberAudioConcealedPct',
    'recordVideoGapPackets',
    'recordVideoGapPacketsTraced',
    'recordAudioGapPackets',
    'recordVideoDecodeErrors',
    'recordVideoDamagedFrames',
    'recordVideoFrames',
    'recordVideoSeconds',
  ];
  return {
    summary,
    targets,
    samples: { rows },
    table: { columns, rows: rows.map((r) => columns.map((c) => r[c])) },
    chart: {
      title: 'Video packets missing from the record, by uplink loss %',
      bars: rows.map((r) => ({
        label: `${r.lossPct} %${r.audioRepair === 'fec' ? ' (FEC only)' : ''}${r.workerNackRetries !== WORKER_NACK_RETRIES ? ` (NACK ×${r.workerNackRetries})` : ''}`,
        value: r.recordVideoGapPackets,
      })),
    },
  };
}
