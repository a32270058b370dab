// Realistic hearings with real WebRTC clients (headless Chromium running our browser client, fake camera
// and microphone) joining through the public REST API and signaling: join time, time to first remote
// frame, signaling round trip, and — when the target is a server this scenario started — server CPU per
// participant. This is the load-test tool operators point at their own deployment:
//   npm run bench -- hearing --target https://hearings.example --api-key … --hearings 20 --participants 6
// With `--bots N`, N of each hearing's participants are bots (benchmarks/bots/: real WebRTC transports,
// pre-encoded media, no browser), in a process of their own whose CPU is reported apart; the rest are
// browser pages, for what a person sees.
import fs from 'node:fs';
import os from 'node:os';
import type { Browser, Page } from 'playwright-core';
import type { HearingServer } from '../../server/app/server.ts';
import { localServer } from '../lib/local-server.ts';
import { configFromEnv } from '../../server/app/config.ts';
import {
  coresBusy,
  cpuSecondsOf,
  machineCpu,
  percentile,
  processCommandLine,
  processName,
  processPssMiB,
  processRssMiB,
  processTree,
} from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import { rest } from '../lib/rest.ts';
import { joinLink, launchChromium } from '../lib/chromium.ts';
import { BotRunner, type BotReport } from '../bots/runner.ts';
import type { ReceivePath } from '../bots/bot.ts';

/** What the join page exposes to a harness (a function predicate: the page's policy forbids eval). */

export interface HearingLoadOptions {
  /** A running deployment (its base URL); without it, a local server is started for the run. */
  target?: string;
  apiKey?: string;
  hearings: number;
  participants: number;
  seconds: number;
  /** Chromium processes the pages are spread over. */
  browsers: number;
  /** Of each hearing's participants, how many are bots (the judge is a browser page). */
  bots?: number;
  /** How the bots read what they receive: from the clear RTP header (default) or through werift's SRTP path. */
  botReceive?: ReceivePath;
  /**
   * How many hearings have browser pages (the first ones; all unless given): the others are bots only,
   * so that a capacity run measures the server, not a browser per hearing on the load machine.
   */
  pages?: number;
  /** Ramp: one hearing more each step (holding `seconds` at each) up to `hearings`, until the stop rule. */
  ramp?: boolean;
  stop?: StopRule;
  /** The local server transcribes (its configured engine); off otherwise. Not for a `--target`. */
  transcription?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 1): number => Number(v.toFixed(d));
const pct = (list: number[], q: number): number => round(percentile(list, q));

interface Joined {
  page: Page;
  joinMs: number;
  firstFrameMs: number;
  rttMs: number[];
}

/** One participant: open the join link, wait until joined, then until a remote video frame is decoded. */
async function join(browser: Browser, joinUrl: string, expectRemote: boolean): Promise<Joined> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  const t0 = Date.now();
  await joinLink(page, joinUrl);
  const joinMs = Date.now() - t0;
  if (expectRemote) {
    await page.waitForFunction(
      'window.hearingClient.stats().then((s) => s.some((x) => x.kind === "video" && x.framesDecoded > 0))',
      undefined,
      { timeout: 60_000, polling: 100 },
    );
  }
  const firstFrameMs = Date.now() - t0;
  const rttMs = (await page.evaluate(`(async () => {
    const out = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await window.hearingClient.request('ping', {});
      out.push(performance.now() - t);
    }
    return out;
  })()`)) as number[];
  return { page, joinMs, firstFrameMs, rttMs };
}

/**
 * The server's own processes: this process, which hosts it, and every process it started (media workers,
 * the recorder and its ffmpegs, speech recognizers, the stream's encoder) — not the bots' processes nor
 * the browsers, which this process started too.
 */
const serverPids = (runners: BotRunner[]): number[] => {
  const load = new Set(runners.flatMap((r) => (r.pid ? processTree(r.pid) : [])));
  return processTree(process.pid).filter((pid) => !load.has(pid) && !isBrowser(pid));
};

/**
 * What a server process does: its own Node process (REST, signaling and the control plane; in a local
 * run it also hosts this tool's driver), the media workers, the recorder, speech recognition (an ffmpeg
 * and a pocketsphinx per microphone), face checks, the evidence photo worker, the public stream's
 * encoder (any other ffmpeg), anything else.
 */
export type ServerPart = 'signaling' | 'media' | 'recorder' | 'asr' | 'faces' | 'images' | 'stream' | 'other';
export const SERVER_PARTS: ServerPart[] = ['signaling', 'media', 'recorder', 'asr', 'faces', 'images', 'stream', 'other'];

export function serverPart(pid: number, args = processCommandLine(pid)): ServerPart {
  if (pid === process.pid) return 'signaling';
  const name = processName(pid);
  // /proc/<pid>/comm keeps 15 characters: "mediasoup-worke".
  if (name.startsWith('mediasoup-work')) return 'media';
  if (/workers\/record\//.test(args)) return 'recorder';
  if (name.startsWith('pocketsphinx') || /\/asr-[^/\s]+\//.test(args)) return 'asr';
  if (/workers\/identity\//.test(args)) return 'faces';
  if (/evidence|workers\/images\//.test(args)) return 'images';
  if (name === 'ffmpeg') return 'stream';
  return 'other';
}

/** Per part of the server over a hold: % of a core, and memory at its end (RSS summed; PSS, shared pages counted once). */
export type ServerSplit = Record<ServerPart, { cpuPct: number; rssMiB: number; pssMiB: number; processes: number }>;

/**
 * The server's parts at a step, each with its share per hearing and per participant present: CPU (% of a
 * core) and memory (PSS, MiB; RSS counts the pages processes share once per process). Memory has a fixed
 * base (a process with nothing to do), so with a ramp each part also has what one more hearing added on
 * average from the first step to this one.
 */
function perPart(step: StepFigures | undefined, first: StepFigures | undefined) {
  if (!step?.server) return null;
  const added = first?.server && step.hearings > first.hearings ? step.hearings - first.hearings : 0;
  return Object.fromEntries(
    SERVER_PARTS.filter((p) => step.server![p].processes).map((p) => {
      const part = step.server![p];
      const before = first?.server?.[p];
      return [
        p,
        {
          ...part,
          cpuPctPerHearing: round(part.cpuPct / step.hearings, 2),
          cpuPctPerParticipant: round(part.cpuPct / Math.max(1, step.participants), 2),
          pssMiBPerParticipant: round(part.pssMiB / Math.max(1, step.participants), 2),
          ...(added && before
            ? {
                cpuPctPerAddedHearing: round((part.cpuPct - before.cpuPct) / added, 2),
                pssMiBPerAddedHearing: round((part.pssMiB - before.pssMiB) / added, 2),
              }
            : {}),
        },
      ];
    }),
  );
}

/** Each of `pids` now, its CPU since `before` (a process started meanwhile counts from 0), grouped by part. */
function splitServer(pids: number[], before: Map<number, number>, seconds: number): ServerSplit {
  const split = Object.fromEntries(SERVER_PARTS.map((p) => [p, { cpuPct: 0, rssMiB: 0, pssMiB: 0, processes: 0 }])) as ServerSplit;
  for (const pid of pids) {
    const part = split[serverPart(pid)];
    part.cpuPct += ((cpuSecondsOf([pid]) - (before.get(pid) ?? 0)) / seconds) * 100;
    part.rssMiB += processRssMiB(pid);
    part.pssMiB += processPssMiB(pid);
    part.processes++;
  }
  for (const p of Object.values(split)) {
    p.cpuPct = round(Math.max(0, p.cpuPct));
    p.rssMiB = round(p.rssMiB);
    p.pssMiB = round(p.pssMiB);
  }
  return split;
}

/** A browser's process (a process gone meanwhile has no name: not one). */
const isBrowser = (pid: number): boolean => /chrom|headless/i.test(processName(pid));

/**
 * When a ramp stops: a step with a failed join, more loss than `maxLossPct` (bots' packets, by sequence
 * numbers), or signaling round trips whose p95 (pages and bots, pinged at the end of the step's hold) is
 * over `maxRttMsP95`.
 */
export interface StopRule {
  maxLossPct: number;
  maxRttMsP95: number;
}

/** The rule: any loss, a p95 round trip over 200 ms, or a failed join. */
export const DEFAULT_STOP_RULE: StopRule = { maxLossPct: 0, maxRttMsP95: 200 };

/** What one step measured while its load was held. */
export interface StepFigures {
  hearings: number;
  /** Participants present (pages and bots joined) at this step. */
  participants: number;
  /** Joins that failed in this step. */
  failedJoins: number;
  /** Bots' packets lost while held (% of those there were); null without bots. */
  lossPct: number | null;
  rttMsP50: number | null;
  rttMsP95: number | null;
  /** Pings that got no answer. */
  rttFailed: number;
  /** Of a core: the server's processes (null against a `--target`), and the bots' processes. */
  serverCpuPct: number | null;
  /** The server's processes by part (null against a `--target`). */
  server: ServerSplit | null;
  botCpuPct: number | null;
  /** The whole machine while held, % of a core (all cores: os.availableParallelism() × 100). */
  machineCpuPct: number;
  streamsMissing: number;
  freezes: number;
  udpReceiveBufferDrops: number;
}

/** The limits a step broke (none: it held). */
export function brokenLimits(step: StepFigures, rule: StopRule): string[] {
  const broken: string[] = [];
  if (step.failedJoins > 0) broken.push(`${step.failedJoins} failed join${step.failedJoins > 1 ? 's' : ''}`);
  if (step.lossPct !== null && step.lossPct > rule.maxLossPct) broken.push(`loss ${step.lossPct} % > ${rule.maxLossPct} %`);
  if (step.rttFailed > 0) broken.push(`${step.rttFailed} unanswered ping${step.rttFailed > 1 ? 's' : ''}`);
  else if (step.rttMsP95 !== null && step.rttMsP95 > rule.maxRttMsP95)
    broken.push(`round trip p95 ${step.rttMsP95} ms > ${rule.maxRttMsP95} ms`);
  if (step.streamsMissing > 0) broken.push(`${step.streamsMissing} stream${step.streamsMissing > 1 ? 's' : ''} not received`);
  return broken;
}

/** Round trips pinged per page and per bot at the end of each step's hold. */
const PINGS = 3;

export async function hearingScenario(o: HearingLoadOptions, progress: Progress): Promise<ScenarioOutcome> {
  let server: HearingServer | undefined;
  let local: Awaited<ReturnType<typeof localServer>> | undefined;
  let base = o.target?.replace(/\/$/, '');
  let apiKey = o.apiKey ?? process.env.HEARING_API_KEY;
  if (!base) {
    local = await localServer('hearing', { asrEngine: o.transcription ? configFromEnv({}).asrEngine : 'off' });
    server = local.server;
    base = server.url;
    apiKey = server.secrets.apiKey;
  }
  if (!apiKey) throw new Error('--api-key (or HEARING_API_KEY) is needed with --target');
  try {
    // Before any load: the deployment answers and takes the key (a wrong one is a clear error, not a
    // hundred failed joins).
    await preflight(base, apiKey);
  } catch (error) {
    await local?.close();
    throw error;
  }
  const rule = o.stop ?? DEFAULT_STOP_RULE;
  const pages = Math.min(o.pages ?? o.hearings, o.hearings);
  /** Bots of hearing `h`: all its participants once the hearings with pages are made. */
  const botsIn = (h: number): number => (h < pages ? (o.bots ?? 0) : o.participants);
  const bots = Array.from({ length: o.hearings }, (_, h) => botsIn(h)).reduce((a, b) => a + b, 0);
  const browsers = await Promise.all(Array.from({ length: pages > 0 ? o.browsers : 0 }, () => launchChromium()));
  // Bots in processes of their own, a few to each (a werift bot is single-threaded JavaScript: one process
  // holding them all falls behind reading its sockets, and the kernel drops what it has no room for).
  const runners = Array.from({ length: bots ? Math.min(os.availableParallelism(), Math.ceil(bots / BOTS_PER_PROCESS)) : 0 }, () =>
    BotRunner.start(),
  );
  const botJoins: BotReport[] = [];
  const joined: Joined[] = [];
  const failures: string[] = [];
  const steps: (StepFigures & { broken: string[] })[] = [];
  let lastBots: ReturnType<typeof botStats> | null = null;
  let lastReports: BotReport[] = [];
  try {
    const total = o.hearings * o.participants;
    let n = 0;
    let nextRunner = 0;
    /** Creates hearing `h`, opens it and joins its participants together, as at the start of a session. */
    const addHearing = async (h: number): Promise<number> => {
      const hearing = await rest(base, apiKey, 'POST', '/hearings', { caseNumber: `LOAD-${Date.now()}-${h}`, title: 'Load test hearing' });
      const links: string[] = [];
      const tokens: string[] = [];
      const botsHere = botsIn(h);
      for (let p = 0; p < o.participants; p++) {
        const role = p === 0 ? 'judge' : p % 2 ? 'party' : 'lawyer';
        const created = await rest(base, apiKey, 'POST', `/hearings/${hearing.id}/participants`, {
          name: `${p >= o.participants - botsHere ? 'bot ' : ''}${role} ${p}`,
          role,
        });
        // The last `botsHere` participants are bots.
        if (p >= o.participants - botsHere) tokens.push(created.token);
        else links.push(created.joinUrl);
      }
      await rest(base, apiKey, 'POST', `/hearings/${hearing.id}/transitions`, { to: 'waiting_room' });
      await rest(base, apiKey, 'POST', `/hearings/${hearing.id}/transitions`, { to: 'open' });
      const [results, botResults] = await Promise.all([
        Promise.allSettled(
          links.map((url) => join(browsers[n++ % browsers.length]!, url.replace(/^https?:\/\/[^/]+/, base), o.participants > 1)),
        ),
        Promise.all(
          tokens
            .map(() => runners[nextRunner++ % runners.length]!)
            .map((runner, i) => runner.join(base, tokens[i]!, { receive: o.botReceive })),
        ),
      ]);
      let failed = 0;
      for (const r of results) {
        if (r.status === 'fulfilled') joined.push(r.value);
        else {
          failed++;
          failures.push(String(r.reason).slice(0, 200));
        }
      }
      for (const b of botResults) {
        botJoins.push(b);
        if (b.error) {
          failed++;
          failures.push(`bot: ${b.error.code}: ${b.error.message}`.slice(0, 200));
        }
      }
      return failed;
    };
    // A ramp adds one hearing a step; without one, every hearing joins in the one step.
    const sizes = o.ramp ? Array.from({ length: o.hearings }, (_, i) => i + 1) : [o.hearings];
    let hearings = 0;
    for (const size of sizes) {
      let failedJoins = 0;
      for (; hearings < size; hearings++) failedJoins += await addHearing(hearings);
      progress(hearings / (o.hearings + 1), `${joined.length + botJoins.filter((b) => !b.error).length}/${total} joined`);
      const cpu0 = new Map((server ? serverPids(runners) : []).map((pid) => [pid, cpuSecondsOf([pid])]));
      const botsBefore = runners.length ? await reportAll(runners) : undefined;
      const udp0 = udpReceiveDrops();
      const machine0 = machineCpu();
      const heldFrom = Date.now();
      await sleep(o.seconds * 1000);
      const heldSeconds = (Date.now() - heldFrom) / 1000;
      const machine1 = machineCpu();
      const machineCpuPct = round(coresBusy(machine0, machine1) * 100);
      const present = joined.length + botJoins.filter((b) => !b.error).length;
      const split = server ? splitServer(serverPids(runners), cpu0, heldSeconds) : null;
      const serverCpuPct = split ? Object.values(split).reduce((sum, p) => sum + p.cpuPct, 0) : null;
      const botsNow = runners.length ? await reportAll(runners) : undefined;
      const udpDrops = udpReceiveDrops() - udp0;
      // Signaling under the held load: every page and every bot, a few round trips each.
      const [pagePings, botPings] = await Promise.all([
        Promise.all(joined.map((j) => pingPage(j.page))),
        Promise.all(runners.map((r) => r.ping(PINGS))),
      ]);
      const rtts = [...pagePings.flatMap((p) => p.rttMs), ...botPings.flatMap((p) => p.rttMs)];
      const bot =
        botsNow && botsBefore
          ? botStats(botsBefore.reports, botsNow.reports, o.participants, (botsNow.cpuSeconds - botsBefore.cpuSeconds) / heldSeconds)
          : null;
      lastBots = bot;
      lastReports = botsNow?.reports ?? [];
      const step: StepFigures = {
        hearings,
        participants: present,
        failedJoins,
        lossPct: bot ? bot.lossPct : null,
        rttMsP50: rtts.length ? pct(rtts, 0.5) : null,
        rttMsP95: rtts.length ? pct(rtts, 0.95) : null,
        rttFailed: [...pagePings, ...botPings].reduce((k, p) => k + p.failed, 0),
        serverCpuPct: serverCpuPct === null ? null : round(serverCpuPct),
        server: split,
        machineCpuPct,
        botCpuPct: bot && botsNow && botsBefore ? round(((botsNow.cpuSeconds - botsBefore.cpuSeconds) / heldSeconds) * 100) : null,
        streamsMissing: bot ? bot.streamsExpected - bot.streamsReceived : 0,
        freezes: bot ? bot.freezes : 0,
        udpReceiveBufferDrops: udpDrops,
      };
      const broken = brokenLimits(step, rule);
      steps.push({ ...step, broken });
      if (o.ramp && broken.length) break;
    }
    progress(1, 'done');
    const last = steps.at(-1)!;
    const held = o.ramp ? [...steps].reverse().find((s) => s.broken.length === 0) : undefined;
    const cores = os.availableParallelism();
    // What one server holds by its own CPU (the bots' left out): its cores over its share per hearing at
    // the largest step that held (an estimate: the load that is measured is the step itself).
    const perHearing = held?.serverCpuPct ? held.serverCpuPct / held.hearings : null;
    const summary = {
      target: o.target ?? 'local server started for this run',
      transcription: server ? !!o.transcription : null,
      hearings: last.hearings,
      participantsPerHearing: o.participants,
      joined: joined.length,
      failures: failures.length,
      joinMsP50: pct(
        joined.map((j) => j.joinMs),
        0.5,
      ),
      joinMsP95: pct(
        joined.map((j) => j.joinMs),
        0.95,
      ),
      firstFrameMsP50: pct(
        joined.map((j) => j.firstFrameMs),
        0.5,
      ),
      firstFrameMsP95: pct(
        joined.map((j) => j.firstFrameMs),
        0.95,
      ),
      signalingRttMsP50: pct(
        joined.flatMap((j) => j.rttMs),
        0.5,
      ),
      signalingRttMsP95: pct(
        joined.flatMap((j) => j.rttMs),
        0.95,
      ),
      serverCpuPctPerParticipant: last.serverCpuPct === null ? null : round(last.serverCpuPct / Math.max(1, last.participants), 2),
      // By part of the server, at the largest step that held (the last step without a ramp).
      serverProcesses: perPart(held ?? (o.ramp ? undefined : last), steps[0]),
      bots: lastBots
        ? {
            ...lastBots,
            receive: o.botReceive ?? 'headers',
            processes: runners.length,
            machineUdpReceiveBufferDrops: last.udpReceiveBufferDrops,
          }
        : null,
      stopRule: rule,
      steps,
      ramp: o.ramp
        ? {
            held: held ? { hearings: held.hearings, participants: held.participants } : null,
            stoppedAt: last.broken.length ? { hearings: last.hearings, by: last.broken } : null,
            serverCpuPctPerHearing: perHearing === null ? null : round(perHearing),
            hearingsPerServerByCpu: perHearing ? round((cores * 100) / perHearing) : null,
          }
        : null,
    };
    const missing = last.streamsMissing;
    return {
      summary,
      targets: [
        { name: 'failures', value: failures.length, target: '= 0', ok: failures.length === 0 },
        ...(lastBots ? [{ name: 'botStreamsMissing', value: missing, target: '= 0', ok: missing === 0 }] : []),
      ],
      samples: {
        joins: joined.map((j) => ({ joinMs: j.joinMs, firstFrameMs: j.firstFrameMs, rttMs: j.rttMs })),
        failures,
        bots: lastReports,
      },
      table: o.ramp
        ? {
            columns: [
              'hearings',
              'present',
              'loss %',
              'RTT p95 (ms)',
              'server CPU %',
              'of which (% of a core)',
              'bots CPU %',
              'machine CPU %',
              'broke',
            ],
            rows: steps.map((s) => [
              s.hearings,
              s.participants,
              s.lossPct ?? '',
              s.rttMsP95 ?? '',
              s.serverCpuPct ?? '',
              s.server
                ? SERVER_PARTS.filter((p) => s.server![p].processes)
                    .map((p) => `${p} ${s.server![p].cpuPct}`)
                    .join(' · ')
                : '',
              s.botCpuPct ?? '',
              s.machineCpuPct,
              s.broken.join('; ') || 'held',
            ]),
          }
        : {
            columns: ['figure', 'p50', 'p95'],
            rows: [
              ['join (ms)', summary.joinMsP50, summary.joinMsP95],
              ['first remote frame (ms)', summary.firstFrameMsP50, summary.firstFrameMsP95],
              ['signaling round trip (ms)', summary.signalingRttMsP50, summary.signalingRttMsP95],
            ],
          },
      chart: {
        title: 'ms, p50',
        bars: [
          { label: 'join', value: summary.joinMsP50 },
          { label: 'first frame', value: summary.firstFrameMsP50 },
          { label: 'signaling RTT', value: summary.signalingRttMsP50 },
        ],
      },
    };
  } finally {
    await Promise.all(runners.map((r) => r.close()));
    for (const b of browsers) await b.close().catch(() => undefined);
    await local?.close();
  }
}

/** The deployment answers its REST API and takes the key: else a clear error, before any load is sent. */
async function preflight(base: string, apiKey: string): Promise<void> {
  let r: Response;
  try {
    r = await fetch(`${base}/api/v1/hearings`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new Error(`--target ${base} does not answer: ${(error as Error).cause ?? (error as Error).message}`);
  }
  if (r.status === 401 || r.status === 403)
    throw new Error(`--api-key is refused by ${base} (${r.status} ${(await r.text()).slice(0, 200)})`);
  if (!r.ok) throw new Error(`--target ${base} is not a hearing server: GET /api/v1/hearings answered ${r.status}`);
}

/** A page's signaling round trips (its own `ping`), and the ones that got no answer in 5 s. */
async function pingPage(page: Page): Promise<{ rttMs: number[]; failed: number }> {
  return (await page
    .evaluate(
      `(async () => {
      const rttMs = [];
      let failed = 0;
      for (let i = 0; i < ${PINGS}; i++) {
        const t = performance.now();
        try {
          await Promise.race([window.hearingClient.request('ping', {}), new Promise((_, no) => setTimeout(() => no(new Error('timeout')), 5000))]);
          rttMs.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
      return { rttMs, failed };
    })()`,
    )
    .catch(() => ({ rttMs: [], failed: PINGS }))) as { rttMs: number[]; failed: number };
}

/** Bots per bot process (see runners above). */
const BOTS_PER_PROCESS = 5;

/** Every runner's bots, and their CPU seconds together. */
async function reportAll(runners: BotRunner[]): Promise<{ reports: BotReport[]; cpuSeconds: number }> {
  const all = await Promise.all(runners.map((r) => r.report()));
  return { reports: all.flatMap((a) => a.reports), cpuSeconds: all.reduce((n, a) => n + a.cpuSeconds, 0) };
}

/** The machine's UDP datagrams dropped for want of room in a receiving socket's buffer (/proc/net/snmp). */
function udpReceiveDrops(): number {
  const lines = fs
    .readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  const i = names?.indexOf('RcvbufErrors') ?? -1;
  return i > 0 ? Number(values?.[i] ?? 0) : 0;
}

/**
 * What the bots received while the load was held (from `before` to `after`, the joins left out): each
 * should hear and see every other participant (2 streams each, all roles here publish), whole frames,
 * nothing lost; and what a bot costs (its process's CPU, % of a core).
 */
function botStats(before: BotReport[], after: BotReport[], participants: number, cpuCoreShare: number) {
  const ok = after.filter((r) => !r.error);
  const earlier = new Map(before.flatMap((r) => r.received.map((s) => [`${r.participantId}/${s.producerId}`, s] as const)));
  const streams = ok.flatMap((r) =>
    r.received.map((s) => {
      const b = earlier.get(`${r.participantId}/${s.producerId}`);
      return b
        ? {
            ...s,
            packets: s.packets - b.packets,
            // A late packet can fill a gap counted before the hold: that loss was not this hold's.
            lost: Math.max(0, s.lost - b.lost),
            frames: s.frames - b.frames,
            freezes: s.freezes - b.freezes,
            nacks: s.nacks - b.nacks,
            nackedPackets: s.nackedPackets - b.nackedPackets,
          }
        : s;
    }),
  );
  const flowing = streams.filter((s) => s.packets > 0);
  const packets = streams.reduce((n, s) => n + s.packets, 0);
  const lost = streams.reduce((n, s) => n + s.lost, 0);
  const joins = ok.map((r) => r.joinMs ?? 0);
  const latencies = streams.flatMap((s) => s.latencyMs);
  return {
    joined: ok.length,
    refused: after.length - ok.length,
    joinMsP50: pct(joins, 0.5),
    joinMsP95: pct(joins, 0.95),
    streamsExpected: ok.length * 2 * (participants - 1),
    streamsReceived: flowing.length,
    packetsReceived: packets,
    lossPct: packets + lost ? round((100 * lost) / (packets + lost), 3) : 0,
    videoFrames: streams.filter((s) => s.kind === 'video').reduce((n, s) => n + s.frames, 0),
    freezes: streams.reduce((n, s) => n + s.freezes, 0),
    nacksSent: streams.reduce((n, s) => n + s.nacks, 0),
    packetsNacked: streams.reduce((n, s) => n + s.nackedPackets, 0),
    jitterMsP95: pct(
      streams.map((s) => s.jitterMs),
      0.95,
    ),
    // Between bots of one process (one clock): their last samples at the end of the hold.
    latencyMsP50: pct(latencies, 0.5),
    latencyMsP95: pct(latencies, 0.95),
    latencySamples: latencies.length,
    packetsSent: ok.reduce((n, r) => n + r.sent.audio + r.sent.video, 0),
    cpuPctPerBot: ok.length ? round((cpuCoreShare * 100) / ok.length, 2) : null,
    /** Bots whose transports are not (all) connected at the end. */
    notConnected: ok
      .filter((r) => r.transports.send !== 'connected' || r.transports.recv !== 'connected')
      .map((r) => ({ participantId: r.participantId, ...r.transports })),
  };
}
