// Peer: the same hearing on our server and on Janus 1.1.2 (VideoRoom), side by side in one run, with the
// same clients: headless Chromium pages, each publishing the same barcode camera (a canvas carrying the
// wall clock, VP8 simulcast in two layers) and its fake microphone (Opus), and receiving every other
// participant. Per system and uplink loss: the server's CPU per participant (every process of it: ours is
// the whole server — REST, signaling, media workers, the recorder writing every track; Janus is one
// process), glass-to-glass latency read from the barcodes each page presents, frame rate and freezes, and
// join → first remote frame. The pages run in a network namespace of the benchmark's own; loss is dropped
// at random from all UDP they send (nftables: this kernel has no netem). Both servers listen on the host
// side of its veth pair (Janus never offers loopback candidates).
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { percentile, processTree, trackCpu } from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import { rest } from '../lib/rest.ts';
import { CHROMIUM_PATH, joinLink, launchChromium, yieldingCpu } from '../lib/chromium.ts';
import { createNetns, type TestNetns } from '../lib/netns.ts';
import { CAMERA_JS, READER_JS, type VideoReading } from './page.ts';
import { ADAPTER_JS, JANUS_JS, janusRoom, startJanus, type JanusProcess } from './janus.ts';
import { JANUS_PAGE } from './janus-client.ts';
import type { FromOurs, ToOurs } from './ours.ts';

export interface PeerOptions {
  participants: number;
  seconds: number;
  /** Uplink loss levels in per cent (each system at each). */
  lossLevels: number[];
  /** The systems run (all three unless given: a smoke run may leave one out). */
  systems?: System[];
}

export const PEER_DEFAULTS: PeerOptions = { participants: 3, seconds: 20, lossLevels: [0, 5] };
/**
 * `ours`: the whole server, recording every track; `ours-unrecorded`: the same with the recording paused
 * by the judge (what Janus does: forwarding only); `janus`: Janus's VideoRoom.
 */
export type System = 'ours' | 'ours-unrecorded' | 'janus';
const SYSTEMS: System[] = ['ours', 'ours-unrecorded', 'janus'];
const WARMUP_MS = 5000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 1): number => Number(v.toFixed(d));

export interface PeerRow {
  system: System;
  lossPct: number;
  participants: number;
  /** Server CPU, per cent of one core, per participant. */
  cpuPerParticipantPct: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  /** Barcodes read, of frames presented (a frame too blurred to read is left out). */
  latencySamples: number;
  fps: number;
  freezes: number;
  frozenMs: number;
  /** The pages' main thread in tasks over 50 ms, ms per second (average of the pages). */
  pageLongTaskMsPerS: number;
  joinToFirstFrameP50Ms: number;
  joinToFirstFrameMaxMs: number;
}

/** Our server in a child process (its CPU apart from the benchmark's). */
async function startOurs(ip: string): Promise<{ pid: number; url: string; apiKey: string; stop(): Promise<void> }> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./ours.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
  const started = await new Promise<FromOurs>((resolve, reject) => {
    child.once('message', (m: FromOurs) => resolve(m));
    child.once('exit', (code) => reject(new Error(`our server exited at start (${code})`)));
    child.send({ type: 'start', ip, rtcPorts: [46000, 46199] } satisfies ToOurs);
  });
  if (started.type === 'error') throw new Error(`our server: ${started.message}`);
  return {
    pid: child.pid!,
    url: started.url,
    apiKey: started.apiKey,
    stop: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ type: 'stop' } satisfies ToOurs);
      }),
  };
}

/** The page Janus's participants open (with janus.js and adapter.js), served on `ip`. */
async function servePage(ip: string): Promise<{ url: string; close(): Promise<void> }> {
  const files: Record<string, [string, string]> = {
    '/': ['text/html', JANUS_PAGE],
    '/janus.js': ['text/javascript', fs.readFileSync(JANUS_JS, 'utf8')],
    '/adapter.js': ['text/javascript', fs.readFileSync(ADAPTER_JS, 'utf8')],
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://${ip}:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface Participant {
  page: Page;
  openedAt: number;
}

/** Pages of one system, joined one after another; returns them once each shows every other's video. */
async function joinAll(
  system: System,
  browser: Browser,
  n: number,
  target: { ours?: { url: string; apiKey: string }; janus?: { pageUrl: string; wsUrl: string; room: number } },
): Promise<Participant[]> {
  const people: Participant[] = [];
  let joinUrls: string[] = [];
  if (system !== 'janus') {
    const { url, apiKey } = target.ours!;
    const api = (method: string, route: string, body?: unknown) => rest(url, apiKey, method, route, body);
    const h = await api('POST', '/hearings', {
      caseNumber: `PEER-${Date.now()}`,
      title: 'peer benchmark',
      asr: { engine: 'off', language: 'en' },
    });
    for (let i = 0; i < n; i++) {
      const p = await api('POST', `/hearings/${h.id}/participants`, { name: `P${i}`, role: i === 0 ? 'judge' : 'party' });
      joinUrls.push(p.joinUrl);
    }
    for (const to of ['waiting_room', 'open']) await api('POST', `/hearings/${h.id}/transitions`, { to });
  } else joinUrls = Array.from({ length: n }, () => target.janus!.pageUrl);
  for (let i = 0; i < n; i++) {
    const context = await browser.newContext({ permissions: ['camera', 'microphone'], bypassCSP: true });
    const page = await context.newPage();
    const openedAt = Date.now();
    if (system !== 'janus') {
      await joinLink(page, joinUrls[i]!);
      await page.evaluate(CAMERA_JS);
      await page.evaluate(READER_JS);
      const switched = await page.evaluate('window.hearingClient.switchCamera(window.barcodeCamera())');
      if (switched !== 'switched') throw new Error(`the barcode camera was not taken: ${String(switched)}`);
      await page.evaluate(`window.peerReader.start('.tile:not(.self) video')`);
    } else {
      await page.goto(joinUrls[i]!);
      await page.evaluate(`window.joinJanus(${JSON.stringify(target.janus!.wsUrl)}, ${target.janus!.room}, 'P${i}')`);
      await page.evaluate(`window.peerReader.start('video.remote')`);
    }
    people.push({ page, openedAt });
  }
  // Everyone sees everyone else.
  for (const p of people)
    await p.page.waitForFunction(`window.peerReader.report().filter((v) => v.firstAt !== undefined).length >= ${n - 1}`, undefined, {
      timeout: 60_000,
      polling: 200,
    });
  return people;
}

async function runSystem(system: System, o: PeerOptions, net: TestNetns, lossPct: number): Promise<PeerRow> {
  net.dropUdp(lossPct);
  let ours: Awaited<ReturnType<typeof startOurs>> | undefined;
  let janus: JanusProcess | undefined;
  let page: Awaited<ReturnType<typeof servePage>> | undefined;
  let room: Awaited<ReturnType<typeof janusRoom>> | undefined;
  let browser: Browser | undefined;
  // Whatever started is stopped, also when a later step fails (Janus holds fixed ports).
  try {
    if (system === 'janus') {
      janus = await startJanus({ iface: net.hostIf, rtpPorts: [46200, 46399], httpPort: 18088, wsIp: net.hostIp, wsPort: 18188 });
      page = await servePage(net.hostIp);
      room = await janusRoom(janus, o.participants);
    } else ours = await startOurs(net.hostIp);
    const origins = [ours?.url, page?.url].filter(Boolean).join(',');
    browser = await launchChromium([`--unsafely-treat-insecure-origin-as-secure=${origins}`], yieldingCpu(net.wrap(CHROMIUM_PATH)));
    const people = await joinAll(system, browser, o.participants, {
      ours,
      janus: janus && page && room ? { pageUrl: `${page.url}/`, wsUrl: janus.wsUrl, room: room.room } : undefined,
    });
    if (system === 'ours-unrecorded') {
      // The judge pauses the recording from the bench (the page's own request, as its button sends it).
      const paused = await people[0]!.page.evaluate(
        `window.hearingClient.request('pauseRecording', { reason: 'benchmark: forwarding only' })`,
      );
      if (!(paused as { result?: { recording: boolean } }).result)
        throw new Error(`the recording was not paused: ${JSON.stringify(paused)}`);
    }
    await sleep(WARMUP_MS);
    for (const p of people) await p.page.evaluate('window.peerReader.reset()');
    // Every process of the server's tree, followed through the window (one started meanwhile counts in full).
    const root = ours?.pid ?? janus!.pid;
    const cpu = trackCpu(() => processTree(root));
    const t0 = Date.now();
    await sleep(o.seconds * 1000);
    const cpuSeconds = cpu.stop();
    const wall = (Date.now() - t0) / 1000;
    const readings = (await Promise.all(people.map((p) => p.page.evaluate('window.peerReader.report()')))) as VideoReading[][];
    const videos = readings.flat();
    const latencies = videos.flatMap((v) => v.latencies);
    const firsts = people
      .slice(1)
      .map((p, i) => Math.min(...readings[i + 1]!.map((v) => v.firstAt ?? Infinity)) - p.openedAt)
      .filter(Number.isFinite);
    return {
      system,
      lossPct,
      participants: o.participants,
      cpuPerParticipantPct: round((100 * cpuSeconds) / wall / o.participants, 2),
      latencyP50Ms: round(percentile(latencies, 0.5)),
      latencyP95Ms: round(percentile(latencies, 0.95)),
      latencySamples: latencies.length,
      fps: round(videos.reduce((a, v) => a + v.frames / v.seconds, 0) / Math.max(1, videos.length)),
      freezes: videos.reduce((a, v) => a + v.freezes, 0),
      frozenMs: Math.round(videos.reduce((a, v) => a + v.frozenMs, 0)),
      pageLongTaskMsPerS: round(
        readings.reduce((a, page) => a + (page[0] ? page[0].longTaskMs / page[0].seconds : 0), 0) / Math.max(1, readings.length),
      ),
      joinToFirstFrameP50Ms: Math.round(percentile(firsts, 0.5)),
      joinToFirstFrameMaxMs: Math.round(Math.max(...firsts)),
    };
  } finally {
    await browser?.close();
    await room?.destroy();
    await page?.close();
    await janus?.stop();
    await ours?.stop();
  }
}

export async function peerScenario(o: PeerOptions, progress: Progress): Promise<ScenarioOutcome> {
  const net = createNetns();
  const rows: PeerRow[] = [];
  try {
    const runs = o.lossLevels.flatMap((loss) => (o.systems ?? SYSTEMS).map((system) => ({ system, loss })));
    for (const [i, run] of runs.entries()) {
      progress(i / runs.length, `${run.system} at ${run.loss} % uplink loss`);
      rows.push(await runSystem(run.system, o, net, run.loss));
    }
  } finally {
    net.remove();
  }
  progress(1, 'done');
  const at = (system: System, loss: number) => rows.find((r) => r.system === system && r.lossPct === loss);
  const clean = o.lossLevels[0]!;
  const janus = at('janus', clean);
  /** Ours ÷ Janus at the first loss level (null when either was not run). */
  const ratioOf = (system: System) => {
    const ours = at(system, clean);
    return ours && janus ? round(ours.cpuPerParticipantPct / Math.max(0.01, janus.cpuPerParticipantPct), 3) : null;
  };
  const ratio = ratioOf('ours');
  const unrecorded = ratioOf('ours-unrecorded');
  const g2g = {
    ours: at('ours', clean)?.latencyP95Ms ?? null,
    oursUnrecorded: at('ours-unrecorded', clean)?.latencyP95Ms ?? null,
    janus: janus?.latencyP95Ms ?? null,
  };
  const targets: ScenarioOutcome['targets'] = [];
  if (unrecorded !== null)
    targets.push({
      name: `CPU per participant, ours forwarding only ÷ Janus (${clean} % loss)`,
      value: unrecorded,
      target: '≤ 0.8',
      ok: unrecorded <= 0.8,
    });
  if (g2g.oursUnrecorded !== null && g2g.janus !== null)
    targets.push({
      name: `glass-to-glass p95, ours forwarding only − Janus (ms, ${clean} % loss)`,
      value: round(g2g.oursUnrecorded - g2g.janus),
      target: '< 0',
      ok: g2g.oursUnrecorded < g2g.janus,
    });
  return {
    summary: {
      participants: o.participants,
      seconds: o.seconds,
      lossLevels: o.lossLevels,
      ours: 'the whole server in its own process tree: REST, signaling, media workers, the recorder writing every track; transcription off',
      oursUnrecorded: 'the same, the recording paused by the judge (forwarding only, as Janus)',
      janus: 'Janus 1.1.2 VideoRoom (Debian), one process',
      cpuPerParticipantRatioVsJanus: ratio,
      cpuPerParticipantRatioVsJanusUnrecorded: unrecorded,
      glassToGlassP95Ms: g2g,
      rows,
    },
    targets,
    samples: rows,
    table: {
      columns: [
        'system',
        'uplink loss %',
        'CPU/participant %',
        'g2g p50 ms',
        'g2g p95 ms',
        'reads',
        'fps',
        'freezes',
        'frozen ms',
        'page long tasks ms/s',
        'join→frame p50 ms',
      ],
      rows: rows.map((r) => [
        r.system,
        r.lossPct,
        r.cpuPerParticipantPct,
        r.latencyP50Ms,
        r.latencyP95Ms,
        r.latencySamples,
        r.fps,
        r.freezes,
        r.frozenMs,
        r.pageLongTaskMsPerS,
        r.joinToFirstFrameP50Ms,
      ]),
    },
    chart: {
      title: 'server CPU per participant (% of a core)',
      bars: rows.map((r) => ({ label: `${r.system} ${r.lossPct} %`, value: r.cpuPerParticipantPct })),
    },
  };
}
