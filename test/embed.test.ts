// Embedding for court platforms: the example platform page (/embed-example) mounts a hearing with the
// SDK (/client/hearing-sdk.js); the participant joins inside the iframe by clicking, and the platform's
// page receives the hearing's events. The token is in no address.
import { describe, expect, it } from 'vitest';
import { afterAll, beforeAll } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { api, createHearing, startTestServer } from './helpers/server.ts';
import { launchBrowser } from './helpers/browser.ts';
import { JFK, speechIngest } from './helpers/speech.ts';
import { enroll, face } from './helpers/faces.ts';
import type { HearingServer } from '../server/app/server.ts';

/** The events the example page lists: `{type, data}` from each item. */
async function events(page: Page): Promise<{ type: string; data: Record<string, any> }[]> {
  return page.getByRole('list', { name: '庭审事件' }).evaluate((list) =>
    [...list.querySelectorAll('li')].map((li) => {
      const text = li.textContent ?? '';
      const json = text.slice(text.indexOf('{'));
      return { type: (li as HTMLElement).dataset.type ?? '', data: JSON.parse(json) };
    }),
  );
}

describe('embedding a hearing in a court platform page', () => {
  const ctx = {} as { server: HearingServer; browser: Browser };
  beforeAll(async () => {
    // The platform's page is served by this server here: it may frame the join page.
    ctx.server = await startTestServer({ frameAncestors: "'self'" });
    ctx.browser = await launchBrowser();
  });
  afterAll(async () => {
    await ctx.browser?.close();
    await ctx.server?.close();
  });

  it('the example page mounts the hearing, the judge joins in it, and the page receives joined, stateChanged, identity, transcript, left and error', async () => {
    const { server } = ctx;
    const h = await createHearing(server, [
      { name: '王法官', role: 'judge' },
      { name: '李四', role: 'party' },
    ]);
    const [judge, speaker] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0]];
    const context = await ctx.browser.newContext({ permissions: ['camera', 'microphone'] });
    const page = await context.newPage();
    await page.goto(`${server.url}/embed-example#token=${encodeURIComponent(judge.token)}`);
    expect(page.url(), 'the token leaves the address bar').toBe(`${server.url}/embed-example`);
    const hearing = page.frameLocator('iframe[title="在线庭审"]');
    await hearing.getByRole('button', { name: '进入庭审' }).click();
    await page.locator('#events li[data-type="joined"]').waitFor();
    const iframeUrl = await page.locator('iframe').getAttribute('src');
    expect(iframeUrl).toBe(`${server.url}/join`);
    expect((await events(page)).find((e) => e.type === 'joined')!.data).toMatchObject({
      participantId: judge.id,
      role: 'judge',
      hearingId: h.id,
      state: 'scheduled',
    });

    // 李四 was enrolled with an ID photo; the court platform admits them by hand: the judge's page, and so
    // the platform's, hears the identity decision.
    const call = api(server);
    expect((await enroll(server, h.id, speaker.id, face('amy1'))).status).toBe(201);
    const decided = await call('POST', `/api/v1/hearings/${h.id}/participants/${speaker.id}/identity/decision`, {
      decision: 'admit',
      reason: '人工核对身份证件',
    });
    expect(decided.status).toBe(200);
    await page.locator('#events li[data-type="identity"]').waitFor();
    expect((await events(page)).find((e) => e.type === 'identity')!.data).toMatchObject({ participantId: speaker.id, status: 'verified' });

    // The judge opens the hearing inside the frame; 李四 speaks (real speech as RTP) and is transcribed.
    const speech = await speechIngest(server, h.id, speaker.id, JFK.file);
    await hearing.getByRole('button', { name: '候庭', exact: true }).click();
    await hearing.getByRole('button', { name: '开庭', exact: true }).click();
    await speech.play();
    await page.locator('#events li[data-type="transcript"]').first().waitFor({ timeout: 60_000 });
    const got = await events(page);
    expect(got.filter((e) => e.type === 'stateChanged').map((e) => e.data.state)).toEqual(['waiting_room', 'open']);
    expect(got.find((e) => e.type === 'transcript')!.data).toMatchObject({ participantId: speaker.id, speakerName: '李四', role: 'party' });

    // The platform closes the hearing: the page hears that the participant left.
    expect((await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'closed' })).status).toBe(200);
    await page.locator('#events li[data-type="left"]').waitFor();
    await context.close();

    // A token that does not work: the platform's page gets the error.
    const bad = await (await ctx.browser.newContext({ permissions: ['camera', 'microphone'] })).newPage();
    await bad.goto(`${server.url}/embed-example#token=not-a-token`);
    await bad.frameLocator('iframe').getByRole('button', { name: '进入庭审' }).click();
    await bad.locator('#events li[data-type="error"]').waitFor();
    expect((await events(bad)).find((e) => e.type === 'error')!.data.code).toBe('token_invalid');
    await bad.context().close();
  }, 150_000);
});
