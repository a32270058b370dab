// Three server processes on one Redis (started here on a loopback port): hearings created through one
// node are placed across all three, any node answers REST calls and join links for any hearing, a
// drained node takes no new hearing and stops once its hearing in session ends, the nodes register again
// after Redis restarts, and a node that cannot reach Redis at start says so and exits.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, openJoin, waitForMediaFrom } from './helpers/browser.ts';
import { freePort, startServerProcess } from './helpers/server-process.ts';
import {
  CLUSTER_API_KEY,
  clusterCall,
  clusterNodeEnv,
  clusterView,
  hostOf,
  startClusterNode,
  type ClusterNode,
  type ClusterView,
} from '../benchmarks/lib/cluster-nodes.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';
import { until } from './helpers/wait.ts';
import { refusal } from './helpers/socket.ts';
import { verifyRecord } from '../recordings/verify.ts';

const NAMES = ['node-a', 'node-b', 'node-c'] as const;

/** A GET from a loopback address of the caller's choosing (a client apart from the nodes themselves). */
function from(
  localAddress: string,
  base: string,
  route: string,
  key: string,
  headers: Record<string, string> = {},
): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(route, base), { localAddress, headers: { authorization: `Bearer ${key}`, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

type Node = ClusterNode;

const call = clusterCall;
const view = clusterView;
const counts = (v: ClusterView) => Object.fromEntries(v.nodes.map((n) => [n.id, n.load.hearings]));

describe.each([
  ['each with its own SQLite', false],
  ['sharing one PostgreSQL', true],
])('three nodes on one Redis, %s', (_title, shared) => {
  let redis: TestRedis;
  let pg: TestPostgres | undefined;
  // Records on a folder all three nodes use (a mount every machine has, in production).
  const sharedDir = shared ? fs.mkdtempSync(path.join(os.tmpdir(), 'hearing-shared-')) : undefined;
  let inSession: { id: string; judge: { id: string; joinUrl: string }; party: { id: string; joinUrl: string } } | undefined;
  const nodes: Node[] = [];
  let browser: Browser;
  const created: { id: string }[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    if (shared) pg = await startPostgres();
    const started = await Promise.all(
      NAMES.map((id, i) =>
        startClusterNode(i, id, { redisUrl: redis.url, ...(pg ? { databaseUrl: pg.url } : {}), ...(sharedDir ? { sharedDir } : {}) }),
      ),
    );
    nodes.push(...started);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    for (const n of nodes) n.process.child.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.process.exited));
    await redis?.stop();
    await pg?.stop();
  });

  it('places 30 hearings created through one node across all three; any node answers for any of them', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    // Refused before any placement: no key, a body that is no hearing (the node chosen refuses it, the count is taken back).
    expect((await call(a.url, 'POST', '/api/v1/hearings', { caseNumber: 'x' }, null)).status).toBe(401);
    const bad = await call(a.url, 'POST', '/api/v1/hearings', { title: 42 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBeTruthy();
    expect(counts(await view(a.url))).toEqual({ 'node-a': 0, 'node-b': 0, 'node-c': 0 });

    for (let i = 0; i < 30; i++) {
      const r = await call(a.url, 'POST', '/api/v1/hearings', {
        caseNumber: `(2026)京0105民初${1000 + i}号`,
        title: `合同纠纷 ${i}`,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      created.push(r.body);
    }
    const v = await view(b.url);
    expect(v.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b', 'node-c']);
    expect(counts(v)).toEqual({ 'node-a': 10, 'node-b': 10, 'node-c': 10 });
    expect(v.nodes.flatMap((n) => n.hearings).sort()).toEqual(created.map((h) => h.id).sort());
    for (const n of v.nodes) expect(n.load.workers).toBe(1);
    // Any node's metrics show the whole cluster.
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    for (const id of NAMES) expect(metrics).toContain(`hearing_cluster_node_hearings{node="${id}",draining="0"} 10`);

    // A hearing on node C: A and B answer for it (their calls passed on to C).
    const onC = created.find((h) => hostOf(v, h.id) === 'node-c')!;
    const viaA = await call(a.url, 'GET', `/api/v1/hearings/${onC.id}`);
    expect(viaA.status).toBe(200);
    expect(viaA.body.id).toBe(onC.id);
    expect((await call(b.url, 'POST', `/api/v1/hearings/${onC.id}/transitions`, { to: 'waiting_room' })).status).toBe(200);
    expect((await call(c.url, 'GET', `/api/v1/hearings/${onC.id}`)).body.state).toBe('waiting_room');
    expect((await call(a.url, 'GET', `/api/v1/hearings/${onC.id}/events`)).body.events?.length ?? 0).toBeGreaterThan(0);
    // Nobody moves a live node's hearing (the node itself holds its room and its participants).
    const taken = await call(a.url, 'POST', '/api/v1/admin/adopt', { hearingId: onC.id, from: 'node-c' });
    expect([taken.status, taken.body.error?.code]).toEqual([409, 'node_alive']);
    // A hearing nobody hosts is not found on any node.
    const missing = await call(a.url, 'GET', '/api/v1/hearings/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);

    // Someone guessing keys through A (from 127.0.0.2) is refused at C as themselves: past 20 failures in a
    // minute that address is blocked on both nodes, while another client's calls through A still reach C
    // (C counted the failures against the client A named, not against A).
    const onB = created.find((h) => hostOf(v, h.id) === 'node-b')!;
    for (let i = 0; i < 21; i++) expect((await from('127.0.0.2', a.url, `/api/v1/hearings/${onC.id}`, 'wrong-key')).status).toBe(401);
    expect((await from('127.0.0.2', a.url, `/api/v1/hearings/${onB.id}`, CLUSTER_API_KEY)).status).toBe(429);
    expect((await from('127.0.0.3', a.url, `/api/v1/hearings/${onC.id}`, CLUSTER_API_KEY)).status).toBe(200);
    // A forged claim of being passed on (no valid signature) counts against the sender's own address.
    for (let i = 0; i < 21; i++)
      await from('127.0.0.4', c.url, `/api/v1/hearings/${onC.id}`, 'wrong-key', {
        'x-hearing-forwarded-by': 'node-a',
        'x-hearing-client': `10.9.9.${i} ${Date.now()} AAAA`,
      });
    expect((await from('127.0.0.4', c.url, `/api/v1/hearings/${onC.id}`, CLUSTER_API_KEY)).status).toBe(429);
  });

  it.runIf(shared)('the shared store lists every hearing of the cluster on any node', async () => {
    for (const n of nodes) {
      const listed = (await call(n.url, 'GET', '/api/v1/hearings?limit=100')).body.hearings.map((h: { id: string }) => h.id);
      expect(listed.sort(), n.id).toEqual(created.map((h) => h.id).sort());
    }
  });

  it('participants join through a node that does not host their hearing and see and hear each other', async () => {
    const [a, , c] = nodes as [Node, Node, Node];
    const v = await view(a.url);
    const h = created.find((x) => hostOf(v, x.id) === 'node-c')!;
    // Participants added through A: C gives them their links (C's address).
    const add = async (name: string, role: string) => {
      const r = await call(a.url, 'POST', `/api/v1/hearings/${h.id}/participants`, { name, role });
      expect(r.status).toBe(201);
      expect(r.body.joinUrl.startsWith(`${c.url}/join?token=`)).toBe(true);
      return r.body as { id: string; joinUrl: string };
    };
    const judge = await add('王法官', 'judge');
    const party = await add('张三', 'party');
    expect((await call(a.url, 'POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'open' })).status).toBe(200);
    // The link as node A would give it: A sends the browser to C, where the hearing's media are.
    const throughA = (joinUrl: string) => `${a.url}/join?token=${new URL(joinUrl).searchParams.get('token')}`;
    const redirected = await call(a.url, 'GET', new URL(throughA(judge.joinUrl)).pathname + new URL(throughA(judge.joinUrl)).search);
    expect(redirected.status).toBe(302);
    expect(redirected.location?.startsWith(`${c.url}/join?token=`)).toBe(true);
    // A page that connected to A itself (not through the link) is refused: only C holds the hearing's media.
    const refused = await refusal(a.url, new URL(judge.joinUrl).searchParams.get('token')!);
    expect(refused.code).toBe('elsewhere');
    const judgePage = await openJoin(browser, throughA(judge.joinUrl));
    const partyPage = await openJoin(browser, throughA(party.joinUrl));
    expect(judgePage.url().startsWith(c.url)).toBe(true);
    await waitForMediaFrom(judgePage, party.id, 30_000);
    await waitForMediaFrom(partyPage, judge.id, 30_000);
    for (const page of [judgePage, partyPage]) await page.context().close();
    inSession = { id: h.id, judge, party };
  });

  it.runIf(shared)(
    'a node killed with SIGKILL: its hearings are placed on the live nodes within 10 s, the hearing goes on there, its record verifies with the interruption',
    async () => {
      const [a, , c] = nodes as [Node, Node, Node];
      const { id, judge, party } = inSession!;
      const throughA = (joinUrl: string) => `${a.url}/join?token=${new URL(joinUrl).searchParams.get('token')}`;
      const dir = path.join(sharedDir!, 'hearings', id);
      const lines = (): any[] =>
        fs
          .readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
      const segmentsOf = (after: number) => lines().filter((l) => l.type === 'segment' && l.seq > after);
      const both = (after: number) => ['audio', 'video'].every((k) => segmentsOf(after).some((l) => l.kind === k));
      // The two are in session on C, recorded onto the shared folder.
      const pages = [await openJoin(browser, throughA(judge.joinUrl)), await openJoin(browser, throughA(party.joinUrl))];
      await waitForMediaFrom(pages[0]!, party.id, 30_000);
      await until('C recording both tracks', () => fs.existsSync(dir) && both(0), 20_000);
      const onC = (await view(a.url)).nodes.find((n) => n.id === 'node-c')!.hearings;
      expect(onC).toContain(id);

      c.process.child.kill('SIGKILL');
      const killedAt = Date.now();
      await c.process.exited;
      await until(
        'every hearing of C on a live node',
        async () => {
          const v = await view(a.url);
          return onC.every((h) => ['node-a', 'node-b'].includes(hostOf(v, h) ?? ''));
        },
        12_000,
      );
      const replacedMs = Date.now() - killedAt;
      const v = await view(a.url);
      expect(v.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b']);
      const host = nodes.find((n) => n.id === hostOf(v, id))!;
      // The pages lost C; by themselves they ask the other nodes where the hearing went, go there and join
      // again without the device check, and see and hear each other.
      for (const page of pages) await until('the page on the new host', () => page.url().startsWith(`${host.url}/join`), 20_000);
      await waitForMediaFrom(pages[0]!, party.id, 30_000);
      await waitForMediaFrom(pages[1]!, judge.id, 30_000);
      const mediaBackMs = Date.now() - killedAt;
      console.log(
        `node C killed: its ${onC.length} hearings placed again after ${replacedMs} ms; media back (the pages moved by themselves) after ${mediaBackMs} ms`,
      );
      expect(replacedMs).toBeLessThan(10_000);
      // Found by its refusing connections after a missed heartbeat, not only when its entry expired.
      expect(
        nodes.filter((n) => n !== c).some((n) => n.process.output().includes('node node-c missed its heartbeat and refuses connections')),
      ).toBe(true);
      const moved = (await call(a.url, 'GET', `/api/v1/hearings/${id}/events`)).body.events.find((e: any) => e.action === 'hearing.moved');
      expect(moved?.detail).toEqual({ from: 'node-c', to: host.id });

      // The record: C's crash as an interruption naming the node, then the new host's own segments.
      const interruption = lines().find((l) => l.event === 'interruption');
      expect(interruption).toMatchObject({ cause: 'node lost', node: 'node-c', movedTo: host.id });
      await until('the new host recording both tracks', () => both(interruption.seq), 20_000);
      for (const page of pages) await page.context().close();
      expect((await call(a.url, 'POST', `/api/v1/hearings/${id}/transitions`, { to: 'closed' })).status).toBe(200);
      // Sealed by the lifecycle after the transition's answer.
      await until('the signature', () => fs.existsSync(path.join(dir, 'signature.json')), 15_000);
      const verified = await call(a.url, 'GET', `/api/v1/hearings/${id}/record/verify`);
      expect(verified.body, JSON.stringify(verified.body.problems)).toMatchObject({ ok: true, signed: true, finalized: true });
      expect(verifyRecord(dir).problems).toEqual([]);
    },
    90_000,
  );

  it('a drained node takes no new hearing, and stops once its hearing in session has ended', async () => {
    const [a, b] = nodes as [Node, Node, Node];
    const before = await view(a.url);
    const onB = created.find((x) => hostOf(before, x.id) === 'node-b')!;
    for (const to of ['waiting_room', 'open'])
      expect((await call(a.url, 'POST', `/api/v1/hearings/${onB.id}/transitions`, { to })).status).toBe(200);
    const drained = await call(b.url, 'POST', '/api/v1/admin/drain');
    expect(drained.status).toBe(202);
    expect(drained.body).toEqual({ draining: true, hearingsInSession: [onB.id] });
    expect((await view(a.url)).nodes.find((n) => n.id === 'node-b')?.draining).toBe(true);

    const fresh: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await call(b.url, 'POST', '/api/v1/hearings', { caseNumber: `(2026)京0105民初${2000 + i}号`, title: '排空后' });
      expect(r.status).toBe(201);
      fresh.push(r.body.id);
    }
    const during = await view(a.url);
    for (const id of fresh) expect(['node-a', 'node-c']).toContain(hostOf(during, id));
    expect(counts(during)['node-b']).toBe(counts(before)['node-b']);
    // Its hearing goes on there: B is up and answers for it.
    expect(b.process.child.exitCode).toBeNull();
    expect((await call(b.url, 'GET', `/api/v1/hearings/${onB.id}`)).body.state).toBe('open');

    // The judge closes it (the call through A reaches B) — on one store, adjourns it: B has nothing in
    // session and stops by itself.
    const mark = b.process.output().length;
    const end = shared ? 'adjourned' : 'closed';
    expect((await call(a.url, 'POST', `/api/v1/hearings/${onB.id}/transitions`, { to: end })).status).toBe(200);
    await b.process.waitFor('[server] drained', 15_000, mark);
    expect(await b.process.exited).toBe(0);
    await until('node B gone from the cluster', async () => !(await view(a.url)).nodes.some((n) => n.id === 'node-b'), 5_000);
    // On one store, what B still hosted (its scheduled hearings, the adjourned one) is taken over by the
    // live node, and the adjourned hearing goes on there: opened again and closed, its record (begun on B,
    // left cleanly) verifies, signed, with B's leaving as its interruption.
    if (shared) {
      const left = before.nodes.find((n) => n.id === 'node-b')!.hearings;
      expect(left).toContain(onB.id);
      await until(
        "B's hearings on node A",
        async () => {
          const v = await view(a.url);
          return left.every((id) => hostOf(v, id) === 'node-a');
        },
        10_000,
      );
      for (const to of ['open', 'closed'])
        expect((await call(a.url, 'POST', `/api/v1/hearings/${onB.id}/transitions`, { to })).status).toBe(200);
      const dir = path.join(sharedDir!, 'hearings', onB.id);
      await until('the signature', () => fs.existsSync(path.join(dir, 'signature.json')), 15_000);
      expect(verifyRecord(dir).problems).toEqual([]);
      const lines = fs
        .readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event?: string });
      expect(lines.find((l) => l.event === 'interruption')).toMatchObject({ cause: 'server restart', node: 'node-b', movedTo: 'node-a' });
    }
  });

  it('the nodes register again after Redis restarts, with their hearings, and placement goes on', async () => {
    // The nodes still up: A and C (each on its own SQLite), A alone (on one store, C was killed above).
    const live = nodes.filter((n) => n.process.child.exitCode === null && n.process.child.signalCode === null);
    expect(live.map((n) => n.id)).toEqual(shared ? ['node-a'] : ['node-a', 'node-c']);
    const last = live.at(-1)!;
    const before = await view(last.url);
    const marks = live.map((n) => n.process.output().length);
    await redis.stop();
    // Redis away: a new hearing is refused with a reason (nothing half-made), not a server error.
    const away = await call(last.url, 'POST', '/api/v1/hearings', { caseNumber: '(2026)京0105民初2999号', title: 'Redis 不在' });
    expect([away.status, away.body.error?.code]).toEqual([503, 'cluster_unavailable']);
    await redis.start();
    await Promise.all(live.map((n, i) => n.process.waitFor(`[cluster] node ${n.id} re-registered`, 15_000, marks[i])));
    const after = await view(last.url);
    expect(after.nodes.map((n) => n.id)).toEqual(live.map((n) => n.id));
    for (const n of live)
      expect(after.nodes.find((x) => x.id === n.id)!.hearings).toEqual(before.nodes.find((x) => x.id === n.id)!.hearings);
    // A hearing on A is still reached through the last node (its placement written again by A).
    const onA = after.nodes.find((n) => n.id === 'node-a')!.hearings[0]!;
    expect((await call(last.url, 'GET', `/api/v1/hearings/${onA}`)).status).toBe(200);
    const r = await call(last.url, 'POST', '/api/v1/hearings', { caseNumber: '(2026)京0105民初3000号', title: '重启后' });
    expect(r.status).toBe(201);
    expect(live.map((n) => n.id)).toContain(hostOf(await view(last.url), r.body.id));
  });

  it.runIf(!shared)('SIGTERM drains a node: it says so to the cluster and stops once its hearing in session has ended', async () => {
    const [a, , c] = nodes as [Node, Node, Node];
    const v = await view(a.url);
    const open = [];
    for (const id of v.nodes.find((n) => n.id === 'node-c')!.hearings) {
      const state = (await call(a.url, 'GET', `/api/v1/hearings/${id}`)).body.state as string;
      if (!['scheduled', 'adjourned', 'closed'].includes(state)) open.push(id);
    }
    expect(open).toHaveLength(1); // the hearing the two pages met in
    const mark = c.process.output().length;
    c.process.child.kill('SIGTERM');
    await c.process.waitFor('[server] SIGTERM: draining', 10_000, mark);
    await until(
      'node C draining in the cluster',
      async () => (await view(a.url)).nodes.find((n) => n.id === 'node-c')?.draining === true,
      5_000,
    );
    expect(c.process.child.exitCode).toBeNull();
    expect((await call(a.url, 'POST', `/api/v1/hearings/${open[0]}/transitions`, { to: 'closed' })).status).toBe(200);
    await c.process.waitFor('[server] drained', 15_000, mark);
    expect(await c.process.exited).toBe(0);
  });

  it('a server alone, drained, refuses new hearings with a reason and stops', async () => {
    const env = await clusterNodeEnv(1, 'alone', {});
    const alone = await startServerProcess(env);
    const base = `http://127.0.0.1:${env.PORT}`;
    try {
      expect((await call(base, 'GET', '/api/v1/cluster')).body.error.code).toBe('not_clustered');
      const h = (await call(base, 'POST', '/api/v1/hearings', { caseNumber: '(2026)京0105民初4000号', title: '单机' })).body;
      for (const to of ['waiting_room', 'open'])
        expect((await call(base, 'POST', `/api/v1/hearings/${h.id}/transitions`, { to })).status).toBe(200);
      expect((await call(base, 'POST', '/api/v1/admin/drain')).body).toEqual({ draining: true, hearingsInSession: [h.id] });
      const refused = await call(base, 'POST', '/api/v1/hearings', { caseNumber: '(2026)京0105民初4001号', title: '排空后' });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('draining');
      expect(alone.child.exitCode).toBeNull();
      expect((await call(base, 'POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'closed' })).status).toBe(200);
      await alone.waitFor('[server] drained', 10_000);
      expect(await alone.exited).toBe(0);
    } finally {
      alone.child.kill('SIGKILL');
    }
  });

  it.runIf(shared)('a node that cannot reach PostgreSQL at start says so and exits', async () => {
    const env = await clusterNodeEnv(1, 'node-b', {
      redisUrl: redis.url,
      databaseUrl: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
    });
    const failed = await startServerProcess(env).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(failed).toMatch(
      /cannot start: cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: connect ECONNREFUSED/,
    );
    expect(failed).toMatch(/the server exited \(1\)/);
  });

  it('a node that cannot reach Redis at start says so and exits', async () => {
    const env = await clusterNodeEnv(1, 'node-b', { redisUrl: `redis://127.0.0.1:${await freePort()}` });
    const failed = await startServerProcess(env).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(failed).toMatch(/cannot start: cluster: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/?: connect ECONNREFUSED/);
    expect(failed).toMatch(/the server exited \(1\)/);
  });
});
