import { describe, expect, it } from 'vitest';
import { createHearing, startTestServer } from './helpers/server.ts';
import { cspViolations, openJoin, stats, twoPartyHearing, waitForMediaFrom, withServerAndBrowser } from './helpers/browser.ts';
import { sleep } from './helpers/wait.ts';

describe('real browsers in one hearing', () => {
  const ctx = withServerAndBrowser();

  it("two participants receive each other's audio and video; a viewer cannot publish", async () => {
    const { server, browser } = ctx;
    const { id: hearingId, participants } = await createHearing(server, [
      { name: 'Judge Wang', role: 'judge' },
      { name: 'Party Li', role: 'party' },
      { name: 'Observer Zhao', role: 'viewer' },
    ]);
    const [judge, party, viewer] = participants as [(typeof participants)[0], (typeof participants)[0], (typeof participants)[0]];

    const judgePage = await openJoin(browser, judge.joinUrl);
    const partyPage = await openJoin(browser, party.joinUrl);
    await waitForMediaFrom(judgePage, party.id);
    await waitForMediaFrom(partyPage, judge.id);
    // The token left the address bar once the page had it; the page works under its security policy.
    expect(judgePage.url()).toBe(`${server.url}/join`);
    expect(cspViolations(judgePage)).toEqual([]);
    expect(cspViolations(partyPage)).toEqual([]);

    const viewerPage = await openJoin(browser, viewer.joinUrl);
    // The viewer receives both publishers...
    await waitForMediaFrom(viewerPage, judge.id);
    await waitForMediaFrom(viewerPage, party.id);
    // ...but the server refuses it a send transport and any produce.
    const attempt = await viewerPage.evaluate(() => (window as any).hearingClient.request('createTransport', { direction: 'send' }));
    expect(attempt.error.code).toBe('forbidden');
    const produce = await viewerPage.evaluate(() =>
      (window as any).hearingClient.request('produce', {
        transportId: 'x',
        kind: 'audio',
        source: 'mic',
        rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000 }] },
      }),
    );
    expect(produce.error.code).toBe('forbidden');
    expect(await viewerPage.evaluate(() => (window as any).hearingClient.publish())).toMatch(/^refused/);

    // Nobody receives anything from the viewer.
    for (const page of [judgePage, partyPage]) {
      expect((await stats(page)).filter((s) => s.participantId === viewer.id)).toEqual([]);
    }
    // The page shows each remote participant with name and role.
    await expect(judgePage.locator(`#tile-${party.id} .label`).textContent()).resolves.toBe('Party Li · 当事人');

    // Judge and party each publish audio + video; the viewer nothing.
    expect(
      server.plane
        .get(hearingId)
        ?.producers()
        .map((p) => p.participantId)
        .sort(),
    ).toEqual([judge.id, judge.id, party.id, party.id].sort());
    // The party signs the frozen transcript on its own device (a WebCrypto key made at join).
    const frozen = await judgePage.evaluate(() => (window as any).hearingClient.request('freezeTranscript', {}));
    expect(frozen.result.version).toBe(1);
    await partyPage.waitForFunction(() => (window as any).hearingClient.state().joined);
    await expect.poll(() => partyPage.evaluate(() => (window as any).hearingClient.signTranscript())).toMatchObject({ valid: true });
    await judgePage.screenshot({ path: 'test-results/browser-hearing-judge.png' }).catch(() => undefined);
    await judgePage.context().close();
    await partyPage.context().close();
    await viewerPage.context().close();
  });

  it('browsers rejoin by themselves after a server restart (same data dir, same port)', async () => {
    const { judge, party, judgePage, partyPage } = await twoPartyHearing(ctx.server, ctx.browser);
    const { port } = new URL(ctx.server.url);
    const { dataDir, rtcMinPort, rtcMaxPort } = ctx.server.config;
    await ctx.server.close();
    await sleep(1000);
    ctx.server = await startTestServer({ port: Number(port), dataDir, rtcMinPort, rtcMaxPort });

    for (const page of [judgePage, partyPage]) {
      await page.waitForFunction(() => (window as any).hearingClient.state().joins >= 2, undefined, { timeout: 30_000 });
    }
    await waitForMediaFrom(judgePage, party.id);
    await waitForMediaFrom(partyPage, judge.id);
  });
});
