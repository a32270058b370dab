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
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer, type HearingServer } from '../../server/app/server.ts';
import { configFromEnv } from '../../server/app/config.ts';
import { childPids, cpuSecondsOf, percentile } from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import { rest } from '../lib/rest.ts';
import { joinLink, launchChromium } from '../lib/chromium.ts';
import { BotRunner, type BotReport } from '../bots/runner.ts';

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
  /** Of each hearing's participants, how many are bots (the judge is always a browser page). */
  bots?: number;
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

/** The server's own processes (this process, which hosts it, its media workers, the recorder and its ffmpegs), not the browsers. */
const serverPids = (server: HearingServer): number[] => {
  const recorder = server.recorder.processPid;
  return [process.pid, ...server.plane.pool.workers.map((w) => w.worker.pid), ...(recorder ? [recorder, ...childPids(recorder)] : [])];
};

export async function hearingScenario(o: HearingLoadOptions, progress: Progress): Promise<ScenarioOutcome> {
  let server: HearingServer | undefined;
  let dataDir: string | undefined;
  let base = o.target?.replace(/\/$/, '');
  let apiKey = o.apiKey ?? process.env.HEARING_API_KEY;
  if (!base) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-hearing-'));
    server = await startServer({
      ...configFromEnv({}),
      port: 0,
      host: '127.0.0.1',
      dataDir,
      workers: 2,
      rtcMinPort: 30000,
      rtcMaxPort: 39999,
      apiKey: 'bench-api-key-0123456789',
      demo: false,
      asrEngine: 'off',
    });
    base = server.url;
    apiKey = server.secrets.apiKey;
  }
  if (!apiKey) throw new Error('--api-key (or HEARING_API_KEY) is needed with --target');
  const browsers = await Promise.all(Array.from({ length: o.browsers }, () => launchChromium()));
  const bots = o.bots ?? 0;
  // Bots in processes of their own, a few to each (a werift bot is single-threaded JavaScript: one process
  // holding them all falls behind reading its sockets, and the kernel drops what it has no room for).
  const runners = Array.from(
    { length: bots ? Math.min(os.availableParallelism(), Math.ceil((bots * o.hearings) / BOTS_PER_PROCESS)) : 0 },
    () => BotRunner.start(),
  );
  const botJoins: BotReport[] = [];
  const joined: Joined[] = [];
  const failures: string[] = [];
  try {
    const total = o.hearings * o.participants;
    let n = 0;
    for (let h = 0; h < o.hearings; h++) {
      const hearing = await rest(base, apiKey, 'POST', '/hearings', { caseNumber: `LOAD-${Date.now()}-${h}`, title: 'Load test hearing' });
      const links: string[] = [];
      const tokens: string[] = [];
      for (let p = 0; p < o.participants; p++) {
        const role = p === 0 ? 'judge' : p % 2 ? 'party' : 'lawyer';
        const created = await rest(base, apiKey, 'POST', `/hearings/${hearing.id}/participants`, {
          name: `${p >= o.participants - bots ? 'bot ' : ''}${role} ${p}`,
          role,
        });
        // The last `bots` participants are bots.
        if (p >= o.participants - bots) tokens.push(created.token);
        else links.push(created.joinUrl);
      }
      await rest(base, apiKey, 'POST', `/hearings/${hearing.id}/transitions`, { to: 'waiting_room' });
      await rest(base, apiKey, 'POST', `/hearings/${hearing.id}/transitions`, { to: 'open' });
      // Participants of a hearing join together, as they do at the start of a session.
      const [results, botResults] = await Promise.all([
        Promise.allSettled(
          links.map((url) => join(browsers[n++ % browsers.length]!, url.replace(/^https?:\/\/[^/]+/, base!), o.participants > 1)),
        ),
        Promise.all(tokens.map((token, i) => runners[(h * bots + i) % runners.length]!.join(base!, token))),
      ]);
      for (const r of results) {
        if (r.status === 'fulfilled') joined.push(r.value);
        else failures.push(String(r.reason).slice(0, 200));
      }
      for (const b of botResults) {
        botJoins.push(b);
        if (b.error) failures.push(`bot: ${b.error.code}: ${b.error.message}`.slice(0, 200));
      }
      progress((h + 1) / (o.hearings + 1), `${joined.length}/${total} joined`);
    }
    const pids = server ? serverPids(server) : [];
    const cpu0 = cpuSecondsOf(pids);
    const botsBefore = runners.length ? await reportAll(runners) : undefined;
    const udp0 = udpReceiveDrops();
    const heldFrom = Date.now();
    await sleep(o.seconds * 1000);
    const heldSeconds = (Date.now() - heldFrom) / 1000;
    const present = joined.length + botJoins.filter((b) => !b.error).length;
    const cpuPerParticipant = server ? ((cpuSecondsOf(serverPids(server)) - cpu0) / heldSeconds / Math.max(1, present)) * 100 : null;
    const botsNow = runners.length ? await reportAll(runners) : undefined;
    const udpDrops = udpReceiveDrops() - udp0;
    const botFigures =
      botsNow && botsBefore
        ? botStats(botsBefore.reports, botsNow.reports, o.participants, (botsNow.cpuSeconds - botsBefore.cpuSeconds) / heldSeconds)
        : null;
    progress(1, 'done');
    const summary = {
      target: o.target ?? 'local server started for this run',
      hearings: o.hearings,
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
      serverCpuPctPerParticipant: cpuPerParticipant === null ? null : round(cpuPerParticipant, 2),
      bots: botFigures ? { ...botFigures, processes: runners.length, machineUdpReceiveBufferDrops: udpDrops } : null,
    };
    const missing = botFigures ? botFigures.streamsExpected - botFigures.streamsReceived : 0;
    return {
      summary,
      targets: [
        { name: 'failures', value: failures.length, target: '= 0', ok: failures.length === 0 },
        ...(botFigures ? [{ name: 'botStreamsMissing', value: missing, target: '= 0', ok: missing === 0 }] : []),
      ],
      samples: {
        joins: joined.map((j) => ({ joinMs: j.joinMs, firstFrameMs: j.firstFrameMs, rttMs: j.rttMs })),
        failures,
        bots: botsNow?.reports ?? [],
      },
      table: {
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
    await server?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
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
        ? { ...s, packets: s.packets - b.packets, lost: s.lost - b.lost, frames: s.frames - b.frames, freezes: s.freezes - b.freezes }
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
