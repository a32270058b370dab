// Three nodes on one Redis and one PostgreSQL, records on a shared folder (issue 18), all on loopback:
// how evenly hearings created through one node are placed, what the cluster adds to creating a hearing
// (beside a server alone measured in the same run) and keeps in Redis per hearing, and failover — a
// hearing's node killed with SIGKILL while two Chromium pages are in it: until its hearings are placed
// again, and until the pages, moving by themselves, decode the other's picture on the new node.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { clusterCall, clusterNodeEnv, clusterView, hostOf, startClusterNode, type ClusterNode } from '../lib/cluster-nodes.ts';
import { BotRunner } from '../bots/runner.ts';
import { joinLink, launchChromium } from '../lib/chromium.ts';
import { percentile } from '../lib/proc.ts';
import { startPostgres } from '../lib/postgres.ts';
import { startRedis } from '../lib/redis.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';

export interface ClusterOptions {
  /** Hearings created through one node for the placement figures. */
  hearings: number;
  /** Failover rounds (a node killed each time, then started again). */
  rounds: number;
  /** Viewers (bots) of the hearing whose gallery is measured on its node alone, then mostly on a second node. */
  viewers: number;
  /** How long each gallery run is measured (ms). */
  galleryWindowMs?: number;
}

export const CLUSTER_DEFAULTS: ClusterOptions = { hearings: 30, rounds: 3, viewers: 40 };
/** How long each gallery run is measured (after every viewer receives every producer). */
const GALLERY_WINDOW_MS = 15_000;

const NAMES = ['node-a', 'node-b', 'node-c'];
const round = (v: number, d = 1): number => Number(v.toFixed(d));

/** Creates `n` hearings through `base`; the milliseconds each creation took (the answer included). */
async function createMany(base: string, n: number, label: string): Promise<{ ids: string[]; ms: number[] }> {
  const ids: string[] = [];
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await clusterCall(base, 'POST', '/api/v1/hearings', {
      caseNumber: `(2026)京0105民初${label}${i}号`,
      title: `集群 ${label} ${i}`,
    });
    ms.push(performance.now() - t);
    if (r.status !== 201) throw new Error(`creating a hearing through ${base}: ${r.status} ${JSON.stringify(r.body)}`);
    ids.push(r.body.id as string);
  }
  return { ids, ms };
}

/** Whether the page, on `origin`, decodes a picture from someone. */
async function seesSomeone(page: Page, origin: string): Promise<boolean> {
  if (!page.url().startsWith(origin)) return false;
  return page
    .evaluate(() =>
      (window as unknown as { hearingClient?: { stats(): Promise<{ kind: string; framesDecoded: number }[]> } }).hearingClient
        ?.stats()
        .then((s) => s.some((x) => x.kind === 'video' && x.framesDecoded > 0)),
    )
    .then(
      (v) => v === true,
      () => false,
    );
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`cluster benchmark: ${what} not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** One failover: a hearing with two pages on its node, the node killed; placed-again and media-back times. */
async function failover(
  nodes: ClusterNode[],
  browser: Browser,
  r: number,
): Promise<{ placedMs: number; mediaBackMs: number; from: string; to: string }> {
  const entry = nodes[0]!;
  const h = await clusterCall(entry.url, 'POST', '/api/v1/hearings', { caseNumber: `(2026)京0105民初F${r}号`, title: `切换 ${r}` });
  const add = async (name: string, role: string) =>
    (await clusterCall(entry.url, 'POST', `/api/v1/hearings/${h.body.id}/participants`, { name, role })).body as {
      id: string;
      joinUrl: string;
    };
  const people = [await add('王法官', 'judge'), await add('张三', 'party')];
  for (const to of ['waiting_room', 'open']) await clusterCall(entry.url, 'POST', `/api/v1/hearings/${h.body.id}/transitions`, { to });
  const pages: Page[] = [];
  for (const p of people) {
    const page = await (await browser.newContext({ permissions: ['camera', 'microphone'] })).newPage();
    await joinLink(page, `${entry.url}/join?token=${new URL(p.joinUrl).searchParams.get('token')}`);
    pages.push(page);
  }
  const v = await clusterView(entry.url);
  const from = nodes.find((n) => n.id === hostOf(v, h.body.id))!;
  for (const page of pages) await until('the page seeing the other', () => seesSomeone(page, from.url), 30_000);
  // Asked through a node that stays up.
  const witness = nodes.find((n) => n !== from)!;
  from.process.child.kill('SIGKILL');
  const killed = performance.now();
  await from.process.exited;
  let placedMs = 0;
  let to: ClusterNode | undefined;
  await until(
    'the hearing placed again',
    async () => {
      const id = hostOf(await clusterView(witness.url), h.body.id);
      to = nodes.find((n) => n.id === id && n !== from);
      if (to) placedMs = performance.now() - killed;
      return to !== undefined;
    },
    30_000,
  );
  await until(
    'both pages seeing each other on the new node',
    async () => (await Promise.all(pages.map((p) => seesSomeone(p, to!.url)))).every(Boolean),
    30_000,
  );
  const mediaBackMs = performance.now() - killed;
  for (const page of pages) await page.context().close();
  await clusterCall(witness.url, 'POST', `/api/v1/hearings/${h.body.id}/transitions`, { to: 'closed' });
  // The killed node comes back (same name, same folders) for the next round.
  const again = await startClusterNode(nodes.indexOf(from), from.id, {}, from.env);
  nodes[nodes.indexOf(from)] = again;
  return { placedMs, mediaBackMs, from: from.id, to: to!.id };
}

/** The CPU seconds a node's media workers have used so far (its /metrics). */
async function workerCpuSeconds(node: ClusterNode): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^hearing_media_worker_cpu_seconds\{[^}]*\} ([0-9.e+-]+)$/gm)) sum += Number(m[1]);
  return sum;
}

interface GalleryRun {
  /** Viewers whose media the hosting node served, and the other node. */
  onHost: number;
  onGallery: number;
  /** Share of one core the media worker used during the window, per node. */
  hostWorkerPct: number;
  galleryWorkerPct: number;
  /** Over the window: packets every viewer received per second (all four streams), and the share lost. */
  packetsPerViewerPerS: number;
  lostPct: number;
  /** Viewers that received every producer in the window. */
  viewersComplete: number;
  /** The two bot processes' CPU over the window (% of a core): near 100 % each, they lose what the server sent. */
  botsCpuPct: number;
}

/**
 * One hearing on two fresh nodes of the cluster: a judge and a party (bots publishing the clips) and
 * `viewers` viewer bots; with `after`, the hosting node serves that many viewers itself and the next ones'
 * media come from the other node. The media workers' CPU over the window, and what the viewers received.
 */
async function galleryRun(label: string, viewers: number, after: number, windowMs: number): Promise<GalleryRun> {
  // A Redis of its own: the two nodes are the whole cluster (the placement benchmark's nodes are not
  // candidates for the gallery).
  const redis = await startRedis();
  const redisUrl = redis.url;
  const pair: ClusterNode[] = [];
  // Two bot processes (the viewers alternate): one werift process receiving every stream of 40 viewers is
  // itself the bottleneck (it loses packets the server sent).
  const runners = [BotRunner.start(), BotRunner.start()];
  try {
    for (const [i, side] of ['a', 'b'].entries()) {
      const id = `${label}-${side}`;
      const env = { ...(await clusterNodeEnv(4 + i, id, { redisUrl })), HEARING_GALLERY_AFTER: String(after) };
      pair.push(await startClusterNode(4 + i, id, { redisUrl }, env));
    }
    const entry = pair[0]!;
    const h = await clusterCall(entry.url, 'POST', '/api/v1/hearings', { caseNumber: `(2026)京0105民初G${label}号`, title: '旁听' });
    if (h.status !== 201) throw new Error(`creating the gallery hearing: ${h.status} ${JSON.stringify(h.body)}`);
    const hearingId = h.body.id as string;
    const v = await clusterView(entry.url);
    const host = pair.find((n) => n.id === hostOf(v, hearingId))!;
    const other = pair.find((n) => n !== host)!;
    const add = async (name: string, role: string) => {
      const r = await clusterCall(host.url, 'POST', `/api/v1/hearings/${hearingId}/participants`, { name, role });
      if (r.status !== 201) throw new Error(`adding ${role}: ${r.status} ${JSON.stringify(r.body)}`);
      return new URL(r.body.joinUrl as string).searchParams.get('token')!;
    };
    for (const to of ['waiting_room', 'open']) await clusterCall(host.url, 'POST', `/api/v1/hearings/${hearingId}/transitions`, { to });
    for (const [name, role] of [
      ['王法官', 'judge'],
      ['张三', 'party'],
    ] as const) {
      const joined = await runners[0]!.join(host.url, await add(name, role));
      if (joined.error) throw new Error(`the ${role} bot: ${joined.error.message}`);
    }
    const viewerIds = new Set<string>();
    for (let v = 0; v < viewers; v++) {
      const joined = await runners[v % 2]!.join(host.url, await add(`旁听${v + 1}`, 'viewer'), { publish: false });
      if (joined.error) throw new Error(`viewer bot ${v + 1}: ${joined.error.message}`);
      viewerIds.add(joined.participantId);
    }
    /** Every viewer's report, and the bot processes' CPU seconds so far. */
    const reportAll = async () => {
      const all = await Promise.all(runners.map((r) => r.report()));
      return {
        reports: all.flatMap((a) => a.reports).filter((r) => viewerIds.has(r.participantId)),
        cpuSeconds: all.reduce((sum, a) => sum + a.cpuSeconds, 0),
      };
    };
    const streams = (r: { received: { packets: number }[] }) => r.received.filter((x) => x.packets > 0).length;
    await until(
      'every viewer receiving the four streams',
      async () => (await reportAll()).reports.every((r) => streams(r) === 4),
      60_000,
      500,
    );
    const before = await reportAll();
    const cpu0 = await Promise.all([workerCpuSeconds(host), workerCpuSeconds(other)]);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const after1 = await reportAll();
    const cpu1 = await Promise.all([workerCpuSeconds(host), workerCpuSeconds(other)]);
    const seconds = (performance.now() - t0) / 1000;
    const gallery = (await clusterView(host.url)).galleries.find((g) => g.hearingId === hearingId);
    if (gallery && gallery.node !== other.id) throw new Error(`the gallery is on ${gallery.node}, not on ${other.id}`);
    const onGallery = gallery?.viewers ?? 0;
    let packets = 0;
    let lost = 0;
    let complete = 0;
    for (const r of after1.reports) {
      const was = before.reports.find((x) => x.participantId === r.participantId)!;
      let streamsUp = 0;
      for (const s of r.received) {
        const prev = was.received.find((x) => x.producerId === s.producerId);
        const got = s.packets - (prev?.packets ?? 0);
        packets += got;
        lost += s.lost - (prev?.lost ?? 0);
        if (got > 0) streamsUp++;
      }
      if (streamsUp === 4) complete++;
    }
    return {
      onHost: viewers - onGallery,
      onGallery,
      hostWorkerPct: round(((cpu1[0]! - cpu0[0]!) / seconds) * 100),
      galleryWorkerPct: round(((cpu1[1]! - cpu0[1]!) / seconds) * 100),
      packetsPerViewerPerS: round(packets / viewers / seconds),
      lostPct: round((100 * lost) / Math.max(1, packets + lost), 2),
      viewersComplete: complete,
      botsCpuPct: round(((after1.cpuSeconds - before.cpuSeconds) / seconds) * 100),
    };
  } finally {
    await Promise.all(runners.map((r) => r.close()));
    for (const n of pair) n.process.child.kill('SIGKILL');
    await Promise.all(pair.map((n) => n.process.exited));
    await redis.stop();
  }
}

export async function clusterScenario(o: ClusterOptions, progress: Progress = () => undefined): Promise<ScenarioOutcome> {
  const redis = await startRedis();
  const pg = await startPostgres();
  const sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-shared-'));
  const nodes: ClusterNode[] = [];
  let alone: ClusterNode | undefined;
  let browser: Browser | undefined;
  const redisClient = new Redis(redis.url, { lazyConnect: true });
  try {
    progress(0.02, 'starting three nodes and a server alone');
    nodes.push(
      ...(await Promise.all(NAMES.map((id, i) => startClusterNode(i, id, { redisUrl: redis.url, databaseUrl: pg.url, sharedDir })))),
    );
    // The baseline: the same server, alone (its own SQLite), started the same way.
    alone = await startClusterNode(3, 'alone', {});
    await redisClient.connect();
    const memory = async () => Number(/used_memory:(\d+)/.exec(await redisClient.info('memory'))?.[1] ?? 0);

    progress(0.1, `creating ${o.hearings} hearings through node-a`);
    const before = await memory();
    const clustered = await createMany(nodes[0]!.url, o.hearings, 'C');
    const redisBytesPerHearing = (await memory()) - before;
    const single = await createMany(alone.url, o.hearings, 'S');
    const v = await clusterView(nodes[1]!.url);
    const hearingsPerNode = Object.fromEntries(v.nodes.map((n) => [n.id, clustered.ids.filter((id) => n.hearings.includes(id)).length]));
    const perNode = Object.values(hearingsPerNode);
    const imbalance = Math.max(...perNode) - Math.min(...perNode);

    browser = await launchChromium();
    const rounds: Awaited<ReturnType<typeof failover>>[] = [];
    for (let r = 0; r < o.rounds; r++) {
      progress(0.3 + (0.65 * r) / o.rounds, `failover round ${r + 1} of ${o.rounds}`);
      rounds.push(await failover(nodes, browser, r));
    }
    // A hearing larger than a node: its viewers all on the hosting node, then all but one on a second node.
    progress(0.9, `a hearing with ${o.viewers} viewers: on its node alone, then its gallery on a second node`);
    const windowMs = o.galleryWindowMs ?? GALLERY_WINDOW_MS;
    const galleryOff = await galleryRun('alone', o.viewers, o.viewers + 1, windowMs);
    const galleryOn = await galleryRun('gallery', o.viewers, 1, windowMs);
    const media = rounds.map((x) => x.mediaBackMs);
    const placed = rounds.map((x) => x.placedMs);
    const createP50 = percentile(clustered.ms, 0.5);
    const aloneP50 = percentile(single.ms, 0.5);
    const summary = {
      nodes: NAMES.length,
      hearings: o.hearings,
      hearingsPerNode,
      imbalance,
      createMs: {
        cluster: { p50: round(createP50), p95: round(percentile(clustered.ms, 0.95)) },
        alone: { p50: round(aloneP50), p95: round(percentile(single.ms, 0.95)) },
      },
      controlPlaneMsPerHearing: round(createP50 - aloneP50),
      redisBytesPerHearing: Math.round(redisBytesPerHearing / o.hearings),
      failoverRounds: rounds.map((x) => ({
        from: x.from,
        to: x.to,
        placedMs: Math.round(x.placedMs),
        mediaBackMs: Math.round(x.mediaBackMs),
      })),
      placedMsP50: Math.round(percentile(placed, 0.5)),
      placedMsP95: Math.round(percentile(placed, 0.95)),
      failoverMsP50: Math.round(percentile(media, 0.5)),
      failoverMsP95: Math.round(percentile(media, 0.95)),
      gallery: { viewers: o.viewers, windowS: windowMs / 1000, onHostAlone: galleryOff, withGallery: galleryOn },
    };
    progress(1, 'done');
    return {
      summary,
      targets: [
        {
          name: 'gallery: hosting node’s media worker with its gallery elsewhere, vs all viewers on it (% of a core)',
          value: galleryOn.hostWorkerPct,
          target: `< ${galleryOff.hostWorkerPct} (all on the host, same run)`,
          ok: galleryOn.hostWorkerPct < galleryOff.hostWorkerPct && galleryOn.viewersComplete === o.viewers,
        },
        { name: 'placement imbalance (hearings, most − fewest)', value: imbalance, target: '≤ 1', ok: imbalance <= 1 },
        {
          name: 'failover: hearing placed again, p95 (ms)',
          value: summary.placedMsP95,
          target: '≤ 10000',
          ok: summary.placedMsP95 <= 10_000,
        },
        {
          name: 'failover: kill → both pages see each other again, p95 (ms)',
          value: summary.failoverMsP95,
          target: '≤ 10000',
          ok: summary.failoverMsP95 <= 10_000,
        },
      ],
      samples: { createMsCluster: clustered.ms.map((x) => round(x)), createMsAlone: single.ms.map((x) => round(x)), rounds },
      table: {
        columns: ['measure', 'cluster (3 nodes)', 'server alone'],
        rows: [
          ['hearings per node', JSON.stringify(hearingsPerNode), o.hearings],
          [
            'create a hearing p50 / p95 (ms)',
            `${summary.createMs.cluster.p50} / ${summary.createMs.cluster.p95}`,
            `${summary.createMs.alone.p50} / ${summary.createMs.alone.p95}`,
          ],
          ['Redis bytes per hearing', summary.redisBytesPerHearing, '—'],
          ['failover: placed again p50 / p95 (ms)', `${summary.placedMsP50} / ${summary.placedMsP95}`, '—'],
          ['failover: media back p50 / p95 (ms)', `${summary.failoverMsP50} / ${summary.failoverMsP95}`, '—'],
          [
            `${o.viewers} viewers of one hearing: where their media are served`,
            `${galleryOn.onHost} on the hosting node, ${galleryOn.onGallery} on a second`,
            `${galleryOff.onHost} on the hosting node`,
          ],
          [
            'media worker CPU, hosting node / gallery node (% of a core)',
            `${galleryOn.hostWorkerPct} / ${galleryOn.galleryWorkerPct}`,
            `${galleryOff.hostWorkerPct} / —`,
          ],
          [
            'each viewer: packets/s, lost %, viewers with all 4 streams (bot processes’ CPU, % of a core)',
            `${galleryOn.packetsPerViewerPerS}, ${galleryOn.lostPct} %, ${galleryOn.viewersComplete} (${galleryOn.botsCpuPct})`,
            `${galleryOff.packetsPerViewerPerS}, ${galleryOff.lostPct} %, ${galleryOff.viewersComplete} (${galleryOff.botsCpuPct})`,
          ],
        ],
      },
      chart: {
        title: 'Failover, kill -9 → both pages see each other on the new node (ms)',
        bars: rounds.map((x, i) => ({ label: `round ${i + 1} (${x.from} → ${x.to})`, value: Math.round(x.mediaBackMs) })),
      },
    };
  } finally {
    await browser?.close();
    redisClient.disconnect();
    for (const n of [...nodes, ...(alone ? [alone] : [])]) n.process.child.kill('SIGKILL');
    await Promise.all([...nodes, ...(alone ? [alone] : [])].map((n) => n.process.exited));
    await redis.stop();
    await pg.stop();
    fs.rmSync(sharedDir, { recursive: true, force: true });
  }
}
