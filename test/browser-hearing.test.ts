import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { HearingServer } from '../server/app.ts';
import { createHearing, startTestServer } from './helpers/server.ts';
import { launchBrowser, openJoin, stats, waitForMediaFrom } from './helpers/browser.ts';

describe('real browsers in one hearing', () => {
  let server: HearingServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('two participants receive each other\'s audio and video; a viewer cannot publish', async () => {
    const { id: hearingId, participants } = await createHearing(server, [
      { name: 'Judge Wang', role: 'judge' },
      { name: 'Party Li', role: 'party' },
      { name: 'Observer Zhao', role: 'viewer' },
    ]);
    const [judge, party, viewer] = participants as [typeof participants[0], typeof participants[0], typeof participants[0]];

    const judgePage = await openJoin(browser, judge.joinUrl);
    const partyPage = await openJoin(browser, party.joinUrl);
    await waitForMediaFrom(judgePage, party.id);
    await waitForMediaFrom(partyPage, judge.id);

    const viewerPage = await openJoin(browser, viewer.joinUrl);
    // The viewer receives both publishers...
    await waitForMediaFrom(viewerPage, judge.id);
    await waitForMediaFrom(viewerPage, party.id);
    // ...but the server refuses it a send transport and any produce.
    const attempt = await viewerPage.evaluate(() => (window as any).hearingClient.request('createTransport', { direction: 'send' }));
    expect(attempt.error.code).toBe('forbidden');
    const produce = await viewerPage.evaluate(() =>
      (window as any).hearingClient.request('produce', { transportId: 'x', kind: 'audio', source: 'mic', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000 }] } }),
    );
    expect(produce.error.code).toBe('forbidden');
    expect(await viewerPage.evaluate(() => (window as any).hearingClient.publish())).toMatch(/^refused/);

    // Nobody receives anything from the viewer.
    for (const page of [judgePage, partyPage]) {
      expect((await stats(page)).filter((s) => s.participantId === viewer.id)).toEqual([]);
    }
    // The page shows each remote participant with name and role.
    await expect(judgePage.locator(`#tile-${party.id} .label`).textContent()).resolves.toBe('Party Li · party');

    // Judge and party each publish audio + video; the viewer nothing.
    expect(server.plane.get(hearingId)?.producers().map((p) => p.participantId).sort()).toEqual([judge.id, judge.id, party.id, party.id].sort());
    await judgePage.screenshot({ path: 'test-results/browser-hearing-judge.png' }).catch(() => undefined);
    await judgePage.context().close();
    await partyPage.context().close();
    await viewerPage.context().close();
  });

  it('browsers rejoin by themselves after a server restart (same data dir, same port)', async () => {
    const { participants } = await createHearing(server, [
      { name: 'Judge Wang', role: 'judge' },
      { name: 'Party Li', role: 'party' },
    ]);
    const [judge, party] = participants as [(typeof participants)[0], (typeof participants)[0]];
    const judgePage = await openJoin(browser, judge.joinUrl);
    const partyPage = await openJoin(browser, party.joinUrl);
    await waitForMediaFrom(partyPage, judge.id);

    const { port } = new URL(server.url);
    const { dataDir, rtcMinPort, rtcMaxPort } = server.config;
    await server.close();
    await new Promise((r) => setTimeout(r, 1000));
    server = await startTestServer({ port: Number(port), dataDir, rtcMinPort, rtcMaxPort });

    for (const page of [judgePage, partyPage]) {
      await page.waitForFunction(() => (window as any).hearingClient.state().joins >= 2, undefined, { timeout: 30_000 });
    }
    await waitForMediaFrom(judgePage, party.id);
    await waitForMediaFrom(partyPage, judge.id);
  });
});
