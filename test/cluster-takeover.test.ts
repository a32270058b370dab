// Split brain: a node whose hearing was taken over while it was away — cut off from Redis (a partition:
// its pages still reach it) or frozen (SIGSTOP: its media workers and recorder process run on) — comes
// back. It must give the hearing up: send its pages to the node that holds it now, close its room, and
// write nothing more into the record, which the other node carries on; the record then verifies with
// the takeover as its interruption and no line or file of the node that lost it after that.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { accountOnFailure, launchBrowser, openJoin, waitForMediaFrom } from './helpers/browser.ts';
import {
  clusterCall as call,
  clusterNodeEnv,
  clusterView as view,
  hostOf,
  startClusterNode,
  type ClusterNode,
} from '../benchmarks/lib/cluster-nodes.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';
import { until } from './helpers/wait.ts';
import { verifyRecord } from '../recordings/verify.ts';

/** Redis as one node sees it: through a proxy this test can cut (connections reset, new ones refused) and heal. */
async function cuttableProxy(targetPort: number): Promise<{ url: string; cut: () => void; heal: () => void; close: () => Promise<void> }> {
  const open = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = net.connect(targetPort, '127.0.0.1');
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    cut: () => {
      cut = true;
      for (const s of open) s.destroy();
    },
    heal: () => (cut = false),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A manifest line or a hearing-log entry, read field by field. */
type Line = any;

describe('a node that comes back after its hearing was taken over', () => {
  let redis: TestRedis;
  let pg: TestPostgres;
  let proxy: Awaited<ReturnType<typeof cuttableProxy>>;
  const sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearing-shared-'));
  let a: ClusterNode;
  let b: ClusterNode;
  let browser: Browser;
  let cases = 0;
  // A failure says what the pages show and logged, and what each node said last.
  accountOnFailure(() => undefined);
  const told = (n: ClusterNode) =>
    `--- ${n.id} said last:\n${n.process
      .output()
      .split('\n')
      .filter((l) => !/^\s*$/.test(l))
      .slice(-25)
      .join('\n')}`;

  beforeAll(async () => {
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    proxy = await cuttableProxy(Number(new URL(redis.url).port));
    // No recognizer: nothing here looks at the transcript.
    const env = async (i: number, id: string, redisUrl: string) => ({
      ...(await clusterNodeEnv(i, id, { redisUrl, databaseUrl: pg.url, sharedDir })),
      HEARING_ASR_ENGINE: 'off',
    });
    // Node A reaches Redis only through the proxy.
    [a, b] = await Promise.all([
      env(0, 'node-a', proxy.url).then((e) => startClusterNode(0, 'node-a', {}, e)),
      env(1, 'node-b', redis.url).then((e) => startClusterNode(1, 'node-b', {}, e)),
    ]);
    // A page knows the other nodes it may ask (and its content security policy lets it) as A knew them when
    // it served the page: a node registered after A's last heartbeat is not among them yet.
    await until(
      'node A names node B to its pages',
      async () => {
        const csp = (await fetch(`${a.url}/join`)).headers.get('content-security-policy') ?? '';
        return /connect-src[^;]*/.exec(csp)?.[0].includes(b.url) ?? false;
      },
      10_000,
    );
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    for (const n of [a, b]) n?.process.child.kill('SIGCONT');
    for (const n of [a, b]) n?.process.child.kill('SIGKILL');
    await Promise.all([a, b].map((n) => n?.process.exited));
    await proxy?.close();
    await redis?.stop();
    await pg?.stop();
  });

  /** A hearing placed on node A (created through B), in session with a judge and a party whose pages see each other. */
  async function hearingOnA(title: string): Promise<{ id: string; dir: string; pages: Page[]; judge: string; party: string }> {
    let id: string | undefined;
    for (let i = 0; i < 6 && !id; i++) {
      const r = await call(b.url, 'POST', '/api/v1/hearings', { caseNumber: `(2026)京0105民初${5000 + cases++}号`, title });
      expect(r.status).toBe(201);
      if (hostOf(await view(b.url), r.body.id) === 'node-a') id = r.body.id as string;
    }
    expect(id, 'a hearing placed on node A').toBeDefined();
    const add = async (name: string, role: string) => {
      const r = await call(b.url, 'POST', `/api/v1/hearings/${id}/participants`, { name, role });
      expect(r.status).toBe(201);
      expect(r.body.joinUrl.startsWith(`${a.url}/join`)).toBe(true);
      return r.body as { id: string; joinUrl: string };
    };
    const judge = await add('王法官', 'judge');
    const party = await add('张三', 'party');
    for (const to of ['waiting_room', 'open']) {
      const r = await call(b.url, 'POST', `/api/v1/hearings/${id}/transitions`, { to });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const pages = [await openJoin(browser, judge.joinUrl), await openJoin(browser, party.joinUrl)];
    await waitForMediaFrom(pages[0]!, party.id, 30_000);
    await waitForMediaFrom(pages[1]!, judge.id, 30_000);
    const dir = path.join(sharedDir, 'hearings', id!);
    await until(
      'node A recording both tracks',
      () => fs.existsSync(dir) && ['audio', 'video'].every((k) => lines(dir).some((l) => l.type === 'segment' && l.kind === k)),
      20_000,
    );
    return { id: id!, dir, pages, judge: judge.id, party: party.id };
  }

  const lines = (dir: string): Line[] =>
    fs
      .readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);

  /** The pages leave A by themselves for B (A told them, or they found it) and see and hear each other there. */
  async function onB(h: { pages: Page[]; judge: string; party: string }): Promise<void> {
    try {
      for (const page of h.pages) await until('the page on node B', () => page.url().startsWith(`${b.url}/join`), 20_000);
      await waitForMediaFrom(h.pages[0]!, h.party, 30_000);
      await waitForMediaFrom(h.pages[1]!, h.judge, 30_000);
    } catch (error) {
      (error as Error).message += `\n${told(a)}\n${told(b)}`;
      throw error;
    }
  }

  /**
   * Closed through B: the record verifies, signed, with A's loss as its interruption, and after it only B's
   * tracks (the pages' new ones): no segment of a track A recorded.
   */
  async function closedAndVerified(h: { id: string; dir: string; pages: Page[] }): Promise<Line> {
    for (const page of h.pages) await page.context().close();
    expect((await call(b.url, 'POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'closed' })).status).toBe(200);
    await until('the signature', () => fs.existsSync(path.join(h.dir, 'signature.json')), 15_000);
    expect(verifyRecord(h.dir).problems).toEqual([]);
    const all = lines(h.dir);
    const interruptions = all.filter((l) => l.event === 'interruption');
    expect(interruptions).toHaveLength(1);
    const interruption = interruptions[0];
    expect(interruption).toMatchObject({ cause: 'node lost', node: 'node-a', movedTo: 'node-b' });
    const before = new Set(all.filter((l) => l.seq < interruption.seq && l.type === 'segment').map((l) => l.track));
    const after = all.filter((l) => l.seq > interruption.seq && l.type === 'segment');
    expect(before.size).toBeGreaterThanOrEqual(2);
    expect(after.filter((l) => before.has(l.track))).toEqual([]);
    expect(new Set(after.map((l) => l.kind))).toEqual(new Set(['audio', 'video']));
    return interruption;
  }

  const relinquished = async (id: string): Promise<Line> =>
    (await call(b.url, 'GET', `/api/v1/hearings/${id}/events`)).body.events.find((e: Line) => e.action === 'hearing.relinquished');

  it('cut off from Redis with its hearing adjourned: it sees the hearing moved, sends its pages to the new node and closes its room', async () => {
    const h = await hearingOnA('断开 Redis');
    expect((await call(b.url, 'POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'adjourned' })).status).toBe(200);
    await until('the record paused on A', () => lines(h.dir).some((l) => l.event === 'record.paused'), 15_000);
    const mark = a.process.output().length;

    // A is up and its pages reach it, but it cannot reach Redis: its entry expires, B takes the hearing.
    proxy.cut();
    await until('the hearing on node B', async () => hostOf(await view(b.url), h.id) === 'node-b', 15_000);
    // A, still cut off, learns it from the store (its record is paused: no line of its own tells it) and
    // gives the hearing up; its pages go to B.
    await a.process.waitFor(`[cluster] hearing ${h.id} is held by node-b now`, 10_000, mark);
    await onB(h);
    await until('no room left on node A', async () => (await (await fetch(`${a.url}/healthz`)).json()).hearingsOpen === 0, 10_000);
    expect(await relinquished(h.id)).toMatchObject({
      actor: 'system',
      detail: { node: 'node-a', heldBy: 'node-b', pages: 2, why: 'the store names node-b as its host' },
    });

    // Redis back: A registers again without the hearing; the judge goes on on B.
    proxy.heal();
    await a.process.waitFor('[cluster] node node-a re-registered', 15_000, mark);
    const v = await view(a.url);
    expect(hostOf(v, h.id)).toBe('node-b');
    expect(v.nodes.find((n) => n.id === 'node-a')!.hearings).not.toContain(h.id);
    expect((await call(a.url, 'POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'open' })).status).toBe(200);
    await until(
      'B recording both tracks',
      () => {
        const all = lines(h.dir);
        const at = all.find((l) => l.event === 'interruption')?.seq ?? Infinity;
        return ['audio', 'video'].every((k) => all.some((l) => l.seq > at && l.type === 'segment' && l.kind === k));
      },
      20_000,
    );
    await closedAndVerified(h);
  }, 150_000);

  it('frozen (SIGSTOP) with its hearing in session: after it thaws, nothing it recorded meanwhile enters the record, and its pages go to the new node', async () => {
    const h = await hearingOnA('冻结');
    const mark = a.process.output().length;
    a.process.child.kill('SIGSTOP');
    try {
      // B takes over once A's entry has expired (A answers no health check, but does not refuse connections).
      await until('the hearing on node B', async () => hostOf(await view(b.url), h.id) === 'node-b', 15_000);
      await until('the takeover in the record', () => lines(h.dir).some((l) => l.event === 'interruption'), 10_000);
      // A's media worker and recorder process run on while A is frozen: segments keep closing.
      const tracksDir = path.join(h.dir, 'tracks');
      const files = () => fs.readdirSync(tracksDir).flatMap((t) => fs.readdirSync(path.join(tracksDir, t)).map((f) => `${t}/${f}`));
      const atTakeover = new Set(files());
      await until(
        'a segment closed on A after the takeover',
        () => files().some((f) => !atTakeover.has(f) && !f.endsWith('.part')),
        15_000,
      );
    } finally {
      a.process.child.kill('SIGCONT');
    }
    await a.process.waitFor(`[cluster] hearing ${h.id} is held by node-b now`, 10_000, mark);
    await onB(h);
    await until('node A let the hearing go', async () => (await relinquished(h.id)) !== undefined, 15_000);
    const event = await relinquished(h.id);
    expect(event.detail).toMatchObject({ node: 'node-a', heldBy: 'node-b', pages: 2 });
    // What A closed after the takeover is set aside, out of the record's folder, not lost.
    const setAside = event.detail.setAside as { dir: string; files: string[] };
    expect(setAside.files.length).toBeGreaterThan(0);
    for (const f of setAside.files) {
      expect(fs.existsSync(path.join(sharedDir, setAside.dir, f)), f).toBe(true);
      expect(fs.existsSync(path.join(h.dir, f)), f).toBe(false);
    }
    await closedAndVerified(h);
  }, 150_000);
});
