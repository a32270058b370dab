// How long a participant waits for the hearing on each way there is to reach the server: a Chromium in a
// network namespace of the run's own, whose nftables rules leave it one path at a time — direct UDP,
// ICE-TCP (TCP to the media ports only), TURN over UDP, TCP and TLS (only the TURN port) — joins a hearing
// over HTTPS and waits for the judge's first frame; the judge's Chromium is on the host. Side by side in
// one run, direct UDP as the baseline. For the relayed paths, coturn's CPU per relayed Mbit/s while a call
// is held. Needs root (ip netns, nft), coturn and openssl (Debian's), as the reach tests do.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer, type HearingServer } from '../../server/app/server.ts';
import { configFromEnv } from '../../server/app/config.ts';
import { cpuSecondsOf, percentile } from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import { rest } from '../lib/rest.ts';
import { CHROMIUM_PATH, joinLink, launchChromium } from '../lib/chromium.ts';
import { createNetns, type TestNetns } from '../lib/netns.ts';
import type { TransportPath } from '../../client-demo/src/session.ts';

export const REACH_PATHS = ['direct', 'iceTcp', 'turnUdp', 'turnTcp', 'turnTls'] as const;
export type ReachPath = (typeof REACH_PATHS)[number];
export const REACH_DEFAULTS = { rounds: 5 };

export interface ReachOptions {
  paths: ReachPath[];
  /** Participants joining one after another on each path. */
  rounds: number;
  /** How long a relayed call is held to measure coturn's CPU. */
  holdSeconds: number;
}

/** What each path must show in the page's selected candidate pairs. */
const EXPECTED: Record<ReachPath, (u: TransportPath) => boolean> = {
  direct: (u) => u.local === 'host' && u.protocol === 'udp',
  // Chromium's active TCP candidate is learned by the server as it connects: `prflx` (or `host`).
  iceTcp: (u) => u.protocol === 'tcp' && u.relayProtocol === null,
  turnUdp: (u) => u.local === 'relay' && u.relayProtocol === 'udp',
  turnTcp: (u) => u.local === 'relay' && u.relayProtocol === 'tcp',
  turnTls: (u) => u.local === 'relay' && u.relayProtocol === 'tls',
};

const round = (v: number, d = 1): number => Number(v.toFixed(d));
const pct = (list: number[], q: number): number | null => (list.length ? round(percentile(list, q)) : null);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const used = (page: Page): Promise<TransportPath[]> => page.evaluate('window.hearingClient.paths()') as Promise<TransportPath[]>;
const bytes = (list: TransportPath[]): number => list.reduce((sum, u) => sum + u.bytesSent + u.bytesReceived, 0);

/** Opens the namespace's way out for one path (the HTTPS port always). */
function allow(net: TestNetns, server: HearingServer, p: ReachPath): void {
  const web = Number(new URL(server.url).port);
  const turn = server.config.turn?.mode === 'embedded' ? server.config.turn : undefined;
  if (!turn) throw new Error('the reach benchmark runs its own coturn');
  const media = `${server.config.rtcMinPort}-${server.config.rtcMaxPort}` as const;
  if (p === 'direct') net.openUp();
  if (p === 'iceTcp') net.onlyTcpTo([web, media]);
  if (p === 'turnUdp') net.onlyTo({ tcp: [web], udp: [turn.port] });
  if (p === 'turnTcp') net.onlyTcpTo([web, turn.port]);
  if (p === 'turnTls') net.onlyTcpTo([web, turn.tlsPort]);
}

/** One participant in the namespace: join → the judge's first decoded frame, and the path it took. */
async function joinOnce(browser: Browser, url: string, judgeId: string): Promise<{ page: Page; ms: number; used: TransportPath[] }> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  const t0 = Date.now();
  await joinLink(page, url);
  await page.waitForFunction(
    `window.hearingClient.stats().then((s) => s.some((x) => x.participantId === ${JSON.stringify(judgeId)} && x.kind === "video" && x.framesDecoded > 0))`,
    undefined,
    { timeout: 60_000, polling: 50 },
  );
  const ms = Date.now() - t0;
  // The receive transport's selected pair can show in its stats a moment after the first frame.
  let list = await used(page);
  for (let i = 0; i < 50 && list.length < 2; i++) {
    await sleep(100);
    list = await used(page);
  }
  return { page, ms, used: list };
}

export async function reachScenario(o: ReachOptions, progress: Progress): Promise<ScenarioOutcome> {
  if (process.getuid?.() !== 0) throw new Error('the reach benchmark makes a network namespace: run it as root');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-reach-'));
  const net = createNetns();
  const turnPort = 15000 + (process.pid % 400) * 2;
  let server: HearingServer | undefined;
  const browsers: Browser[] = [];
  try {
    server = await startServer({
      ...configFromEnv({}),
      port: 0,
      host: net.hostIp,
      listenIp: net.hostIp,
      dataDir,
      workers: 1,
      rtcMinPort: 42000,
      rtcMaxPort: 42999,
      apiKey: 'bench-api-key-0123456789',
      demo: false,
      asrEngine: 'off',
      tls: 'self-signed',
      turn: {
        mode: 'embedded',
        policy: 'all',
        host: net.hostIp,
        listenIp: net.hostIp,
        port: turnPort,
        tlsPort: turnPort + 1,
        relayMin: 52000,
        relayMax: 52499,
      },
    });
    const s = server;
    // The REST API over the server's own certificate.
    const call = (method: string, route: string, body: unknown) => rest(s.url, s.secrets.apiKey, method, route, body, s.tls!.cert);
    // The pages accept the generated certificate (the page's and TURN/TLS's), as a phone told to would.
    const court = await launchChromium(['--ignore-certificate-errors']);
    browsers.push(court);
    const phone = await launchChromium(['--ignore-certificate-errors'], net.wrap(CHROMIUM_PATH));
    browsers.push(phone);

    const byPath: Record<string, { ms: number[]; wrongPath: string[]; failures: string[]; cpuPctPerMbit?: number; mbit?: number }> = {};
    let done = 0;
    for (const p of o.paths) {
      const result: (typeof byPath)[string] = { ms: [], wrongPath: [], failures: [] };
      byPath[p] = result;
      allow(net, s, p);
      const hearing = await call('POST', '/hearings', { caseNumber: `REACH-${p}-${Date.now()}`, title: 'Reach' });
      const judge = await call('POST', `/hearings/${hearing.id}/participants`, { name: '法官', role: 'judge' });
      for (const to of ['waiting_room', 'open']) await call('POST', `/hearings/${hearing.id}/transitions`, { to });
      const judgePage = await (await court.newContext({ permissions: ['camera', 'microphone'] })).newPage();
      await joinLink(judgePage, judge.joinUrl);
      for (let r = 0; r < o.rounds; r++) {
        const party = await call('POST', `/hearings/${hearing.id}/participants`, { name: `当事人${r}`, role: 'party' });
        try {
          const joined = await joinOnce(phone, party.joinUrl, judge.id);
          result.ms.push(joined.ms);
          const wrong = joined.used.filter((u) => !EXPECTED[p](u));
          if (wrong.length !== 0 || joined.used.length !== 2) result.wrongPath.push(JSON.stringify(joined.used));
          // The first relayed call is held: coturn's CPU against what it relayed for this participant.
          const coturnPid = s.coturn?.pid;
          if (r === 0 && p.startsWith('turn') && coturnPid) {
            const [cpu0, bytes0] = [cpuSecondsOf([coturnPid]), bytes(await used(joined.page))];
            await sleep(o.holdSeconds * 1000);
            const cpu = cpuSecondsOf([coturnPid]) - cpu0;
            const mbit = ((bytes(await used(joined.page)) - bytes0) * 8) / 1e6 / o.holdSeconds;
            result.mbit = round(mbit, 2);
            result.cpuPctPerMbit = mbit > 0 ? round(((cpu / o.holdSeconds) * 100) / mbit, 2) : undefined;
          }
          await joined.page.context().close();
        } catch (error) {
          result.failures.push(String(error).slice(0, 200));
        }
        progress(++done / (o.paths.length * o.rounds), `${p} ${r + 1}/${o.rounds}`);
      }
      await judgePage.context().close();
    }

    const summary: Record<string, unknown> = {};
    for (const [p, r] of Object.entries(byPath)) {
      summary[p] = {
        joins: r.ms.length,
        firstFrameMsP50: pct(r.ms, 0.5),
        firstFrameMsP95: pct(r.ms, 0.95),
        ...(r.mbit !== undefined ? { relayedMbitPerS: r.mbit, coturnCpuPctPerMbit: r.cpuPctPerMbit ?? null } : {}),
        wrongPath: r.wrongPath.length,
        failures: r.failures.length,
      };
    }
    const rows = Object.entries(byPath).map(([p, r]) => [
      p,
      r.ms.length,
      pct(r.ms, 0.5) ?? '—',
      pct(r.ms, 0.95) ?? '—',
      r.mbit ?? '—',
      r.cpuPctPerMbit ?? '—',
    ]);
    const failures = Object.values(byPath).reduce((n, r) => n + r.failures.length, 0);
    const wrong = Object.values(byPath).reduce((n, r) => n + r.wrongPath.length, 0);
    return {
      summary,
      targets: [
        { name: 'failed joins', value: failures, target: '= 0', ok: failures === 0 },
        { name: 'joins on another path than the one left open', value: wrong, target: '= 0', ok: wrong === 0 },
      ],
      samples: byPath,
      table: { columns: ['path', 'joins', 'first frame p50 (ms)', 'p95 (ms)', 'relayed Mbit/s', 'coturn CPU % per Mbit/s'], rows },
      chart: {
        title: 'join → first remote frame, ms, p50',
        bars: Object.entries(byPath).map(([p, r]) => ({ label: p, value: pct(r.ms, 0.5) ?? 0 })),
      },
    };
  } finally {
    for (const b of browsers) await b.close().catch(() => undefined);
    await server?.close();
    net.remove();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
