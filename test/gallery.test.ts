// A hearing larger than a node: two server processes on one Redis (started here on loopback), each
// serving one gallery participant (viewer or lawyer) of a hearing itself (HEARING_GALLERY_AFTER=1). The
// next ones receive from the other node, piped there once from the hosting node; their pages talk to the
// hosting node only, and a lawyer's camera and microphone go to it. A picture protected from the public
// reaches the gallery node only when someone there may see it; when the gallery node stops or is killed,
// its participants' pages join again and are served by the hosting node, all of it in the record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openJoin, stats, waitForMediaFrom } from './helpers/browser.ts';
import { clusterCall, clusterNodeEnv, clusterView, hostOf, startClusterNode, type ClusterNode } from '../benchmarks/lib/cluster-nodes.ts';
import { GALLERY_RETRY_MS } from '../server/cluster/gallery.ts';
import { freePort } from './helpers/server-process.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { until } from './helpers/wait.ts';

const call = clusterCall;

interface Path {
  direction: 'send' | 'recv';
  local: string;
  remote: string | null;
  bytesReceived: number;
}
/** The address and port the page's receive transport reaches (where its media come from). */
const recvFrom = async (page: Page): Promise<{ port: number; bytesReceived: number; local: string }> => {
  const paths = (await page.evaluate(() =>
    (window as unknown as { hearingClient: { paths(): Promise<unknown> } }).hearingClient.paths(),
  )) as Path[];
  const recv = paths.find((p) => p.direction === 'recv');
  if (!recv?.remote) throw new Error(`no receive path: ${JSON.stringify(paths)}`);
  return { port: Number(recv.remote.split(':').at(-1)), bytesReceived: recv.bytesReceived, local: recv.local };
};

describe('a hearing larger than a node: its gallery served by a second node', () => {
  let redis: TestRedis;
  const nodes: ClusterNode[] = [];
  let browser: Browser;
  const pages: Page[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    // Each node on an address of its own (127.0.0.1, 127.0.0.2), each with its own TURN server, which
    // relays to its own node's media only; every page is told to relay (as behind a strict firewall).
    for (const [i, id] of ['node-a', 'node-b'].entries()) {
      const ip = `127.0.0.${i + 1}`;
      const env = {
        ...(await clusterNodeEnv(i, id, { redisUrl: redis.url })),
        HEARING_GALLERY_AFTER: '1',
        // No transcript is looked at here: no recognizer on every microphone (NO_ASR in helpers/server.ts).
        HEARING_ASR_ENGINE: 'off',
        // A page closed without a goodbye keeps its media this long (the lawyer leaving, below).
        HEARING_RECONNECT_GRACE_S: '3',
        HEARING_HOST: ip,
        HEARING_LISTEN_IP: ip,
        HEARING_TURN: 'embedded',
        HEARING_TURN_POLICY: 'relay',
        HEARING_TURN_HOST: ip,
        HEARING_TURN_LISTEN_IP: ip,
        HEARING_TURN_PORT: String(await freePort()),
        HEARING_TURN_TLS_PORT: String(await freePort()),
        HEARING_TURN_RELAY_MIN: String(51000 + i * 200),
        HEARING_TURN_RELAY_MAX: String(51000 + i * 200 + 199),
      };
      nodes.push(await startClusterNode(i, id, { redisUrl: redis.url }, env));
    }
    // 127.0.0.2 is not "localhost" to Chromium: its pages may use the camera as on a secure origin.
    browser = await launchBrowser([`--unsafely-treat-insecure-origin-as-secure=${nodes.map((n) => n.url).join(',')}`]);
  }, 120_000);
  afterAll(async () => {
    for (const p of pages)
      await p
        .context()
        .close()
        .catch(() => undefined);
    await browser?.close();
    for (const n of nodes) n.process.child.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.process.exited));
    await redis?.stop();
  });

  it('a viewer and a lawyer beyond the node’s share receive from the other node, a protected picture goes there only while someone there may see it, and its loss sends them back to the host', async () => {
    const [a] = nodes as [ClusterNode, ClusterNode];
    const created = await call(a.url, 'POST', '/api/v1/hearings', { caseNumber: '(2026)京0105民初3001号', title: '旁听众多的案件' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const v = await clusterView(a.url);
    const host = nodes.find((n) => n.id === hostOf(v, id))!;
    const edge = nodes.find((n) => n !== host)!;
    const add = async (name: string, role: string) => {
      const r = await call(host.url, 'POST', `/api/v1/hearings/${id}/participants`, { name, role });
      expect(r.status).toBe(201);
      return r.body as { id: string; joinUrl: string };
    };
    const judge = await add('王法官', 'judge');
    const party = await add('张三', 'party');
    const first = await add('旁听甲', 'viewer');
    const second = await add('旁听乙', 'viewer');
    const lawyer = await add('赵律师', 'lawyer');
    for (const to of ['waiting_room', 'open'])
      expect((await call(host.url, 'POST', `/api/v1/hearings/${id}/transitions`, { to })).status).toBe(200);
    const events = async (): Promise<{ action: string; at: string; detail: Record<string, unknown> }[]> =>
      (await call(host.url, 'GET', `/api/v1/hearings/${id}/events`)).body.events;
    const inRange = (n: ClusterNode, port: number) =>
      port >= Number(n.env.HEARING_RTC_MIN_PORT) && port <= Number(n.env.HEARING_RTC_MAX_PORT);

    pages.push(await openJoin(browser, judge.joinUrl), await openJoin(browser, party.joinUrl));
    await waitForMediaFrom(pages[0]!, party.id, 30_000);
    // The first viewer: served by the hosting node itself.
    const firstPage = await openJoin(browser, first.joinUrl);
    pages.push(firstPage);
    await waitForMediaFrom(firstPage, judge.id, 30_000);
    await waitForMediaFrom(firstPage, party.id, 30_000);
    expect(inRange(host, (await recvFrom(firstPage)).port)).toBe(true);
    expect((await events()).some((e) => e.action === 'gallery.opened')).toBe(false);

    // The second: its page signals with the hosting node, its media come from the other node.
    const secondPage = await openJoin(browser, second.joinUrl);
    pages.push(secondPage);
    expect(secondPage.url().startsWith(host.url)).toBe(true);
    await waitForMediaFrom(secondPage, judge.id, 30_000);
    await waitForMediaFrom(secondPage, party.id, 30_000);
    const path = await recvFrom(secondPage);
    expect(inRange(edge, path.port), `port ${path.port}`).toBe(true);
    expect(path.bytesReceived).toBeGreaterThan(0);
    // Relayed by the gallery node's own TURN server (the hosting node's relays to its own address only).
    expect(path.local).toBe('relay');
    const opened = (await events()).find((e) => e.action === 'gallery.opened');
    expect(opened?.detail).toMatchObject({ node: edge.id, after: 1 });
    const seen = await clusterView(host.url);
    // The judge's and the party's cameras and microphones, piped once.
    expect(seen.galleries).toEqual([{ hearingId: id, node: edge.id, viewers: 1, piped: 4 }]);
    await until(
      'the gallery in the other node’s load',
      async () => {
        const load = (await clusterView(host.url)).nodes.find((n) => n.id === edge.id)!.load;
        return load.galleries === 1 && load.galleryViewers === 1;
      },
      6_000,
    );

    // A lawyer beyond the node's share: what they receive comes from the gallery node, what they send goes
    // to the hosting node.
    const lawyerPage = await openJoin(browser, lawyer.joinUrl);
    pages.push(lawyerPage);
    await waitForMediaFrom(lawyerPage, party.id, 30_000);
    await waitForMediaFrom(lawyerPage, judge.id, 30_000);
    expect(inRange(edge, (await recvFrom(lawyerPage)).port)).toBe(true);
    await waitForMediaFrom(pages[0]!, lawyer.id, 30_000);
    expect((await clusterView(host.url)).galleries).toEqual([{ hearingId: id, node: edge.id, viewers: 2, piped: 6 }]);

    // The party protected from the public: both viewers lose the picture (one on each node); the lawyer in the
    // gallery keeps it, so it is still piped there.
    const protect = await call(host.url, 'POST', `/api/v1/hearings/${id}/participants/${party.id}/protection`, { hidden: true });
    expect(protect.status).toBe(200);
    const partyVideo = async (page: Page) => (await stats(page)).some((s) => s.participantId === party.id && s.kind === 'video');
    await until(
      'no picture of the party at either viewer',
      async () => !(await partyVideo(firstPage)) && !(await partyVideo(secondPage)),
      10_000,
    );
    expect(await partyVideo(pages[0]!)).toBe(true); // the judge still sees the party
    await waitForMediaFrom(lawyerPage, party.id, 10_000, {
      audio: 0,
      video: (await stats(lawyerPage)).find((x) => x.participantId === party.id && x.kind === 'video')!.framesDecoded,
    });
    expect((await clusterView(host.url)).galleries[0]?.piped).toBe(6);
    // The lawyer leaves: nobody in the gallery may see the party's picture any more, and it is no longer
    // piped there (nor the lawyer's own camera and microphone, gone with them).
    await lawyerPage.context().close();
    pages.splice(pages.indexOf(lawyerPage), 1);
    // (At once when the page said goodbye; after the 3 s reconnect grace when it just went away.)
    await until('only what the viewer may see piped', async () => (await clusterView(host.url)).galleries[0]?.piped === 3, 15_000);

    // The gallery node stopped (SIGTERM): it tells the host before it goes, its viewer's page joins again and
    // is served by the host (no other node takes a gallery).
    edge.process.child.kill('SIGTERM');
    const stoppedAt = Date.now();
    expect(await edge.process.exited).toBe(0);
    await until('the gallery lost, in the record', async () => (await events()).some((e) => e.action === 'gallery.lost'), 15_000);
    const lost = (await events()).find((e) => e.action === 'gallery.lost');
    expect(lost?.detail).toMatchObject({ node: edge.id, viewers: 1, reason: `node ${edge.id} is stopping` });
    // Its page joined again (its old receive transport, to the node that left, is gone), now with media from the host.
    const fromHost = (page: Page) => async () => inRange(host, (await recvFrom(page).catch(() => ({ port: 0 }))).port);
    await until('the viewer’s media from the hosting node', fromHost(secondPage), 30_000);
    await waitForMediaFrom(secondPage, judge.id, 30_000);
    console.log(`gallery node stopped: the viewer has the judge again from the hosting node after ${Date.now() - stoppedAt} ms`);
    const unavailable = (await events()).find((e) => e.action === 'gallery.unavailable');
    expect(unavailable?.detail).toMatchObject({ servedBy: host.id });
    expect((await clusterView(host.url)).galleries).toEqual([]);
    // The first viewer never noticed: still receiving from the host.
    await waitForMediaFrom(firstPage, judge.id, 10_000);

    // The node back: once the host may try again, a third viewer is served there; the node then killed
    // (SIGKILL, nothing said): the host notices it gone, and the viewer is served by the host.
    const back = await startClusterNode(nodes.indexOf(edge), edge.id, { redisUrl: redis.url }, edge.env);
    nodes[nodes.indexOf(edge)] = back;
    const third = await add('旁听丙', 'viewer');
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(unavailable!.at) + GALLERY_RETRY_MS - Date.now())));
    const thirdPage = await openJoin(browser, third.joinUrl);
    pages.push(thirdPage);
    await waitForMediaFrom(thirdPage, judge.id, 30_000);
    expect(inRange(back, (await recvFrom(thirdPage)).port)).toBe(true);
    expect((await events()).filter((e) => e.action === 'gallery.opened').map((e) => e.detail.node)).toEqual([edge.id, edge.id]);
    back.process.child.kill('SIGKILL');
    const killedAt = Date.now();
    await back.process.exited;
    await until(
      'the killed gallery node noticed',
      async () => (await events()).filter((e) => e.action === 'gallery.lost').length === 2,
      15_000,
    );
    expect((await events()).filter((e) => e.action === 'gallery.lost')[1]?.detail).toMatchObject({
      node: edge.id,
      viewers: 1,
      // Noticed by the host's watch of the node, or by its next message to the node failing, whichever is first.
      reason: expect.stringMatching(new RegExp(`^node ${edge.id} (is gone|did not answer)`)),
    });
    await until('the third viewer’s media from the hosting node', fromHost(thirdPage), 30_000);
    await waitForMediaFrom(thirdPage, judge.id, 30_000);
    console.log(`gallery node killed: the viewer has the judge again from the hosting node after ${Date.now() - killedAt} ms`);
  }, 240_000);
});
