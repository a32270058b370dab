// A party's network drops for 5 s: their browser runs in a network namespace of the test's own. Twice:
// the signal is lost (every packet vanishes, nothing tells the browser), then the link goes down (the
// browser closes its connections). Each time the page shows a banner while it is cut off, and the media
// come back in both directions without a reload. Then the phone moves to another address for good (Wi-Fi
// to mobile data): the page resumes the same transports from there, with an ICE restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { api, createHearing, startTestServer, NO_ASR } from './helpers/server.ts';
import { accountOnFailure, CHROMIUM, launchBrowser, openJoin, stats, waitForMediaFrom } from './helpers/browser.ts';
import { createNetns, type TestNetns } from './helpers/netns.ts';
import { sleep, until } from './helpers/wait.ts';
import type { HearingServer } from '../server/app/server.ts';

/** What `page` has received from `from` so far (the baseline for "media again"). */
async function received(page: Page, from: string): Promise<{ audio: number; video: number }> {
  const s = await stats(page);
  return {
    audio: s.find((x) => x.participantId === from && x.kind === 'audio')?.packetsReceived ?? 0,
    video: s.find((x) => x.participantId === from && x.kind === 'video')?.framesDecoded ?? 0,
  };
}

describe('a party whose network drops', () => {
  const ctx = {} as { server: HearingServer; court: Browser; phone: Browser; net: TestNetns };
  beforeAll(async () => {
    ctx.net = createNetns();
    // The server on the host side of the link: the court's browser reaches it too (a local address).
    ctx.server = await startTestServer({ ...NO_ASR, host: ctx.net.hostIp, listenIp: ctx.net.hostIp, announcedIp: undefined });
    // Not a loopback address, and plain HTTP here (TLS is issue 14's): the camera needs a secure context.
    const secure = `--unsafely-treat-insecure-origin-as-secure=${ctx.server.url}`;
    ctx.court = await launchBrowser([secure]);
    ctx.phone = await launchBrowser([secure], ctx.net.wrap(CHROMIUM));
  });
  afterAll(async () => {
    await ctx.phone?.close();
    await ctx.court?.close();
    await ctx.server?.close();
    ctx.net?.remove();
  });
  accountOnFailure(() => ctx.server);

  it('sees a banner while cut off for 5 s (signal lost, link down), and after a move to another address; the media come back both ways on the same transports, without a rejoin', async () => {
    const { server, net } = ctx;
    const h = await createHearing(server, [
      { name: '王法官', role: 'judge' },
      { name: '张三', role: 'party' },
    ]);
    const [judge, party] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0]];
    for (const to of ['waiting_room', 'open']) await api(server)('POST', `/api/v1/hearings/${h.id}/transitions`, { to });
    const judgePage = await openJoin(ctx.court, judge.joinUrl);
    const partyPage = await openJoin(ctx.phone, party.joinUrl, { phone: true });
    await waitForMediaFrom(judgePage, party.id);
    await waitForMediaFrom(partyPage, judge.id);
    await partyPage.evaluate(() => ((window as any).beforeTheDrop = true));
    const joins = () => partyPage.evaluate(() => (window as any).hearingClient.state().joins as number);
    expect(await partyPage.getByRole('alert').count()).toBe(0);
    // The judge's list shows the party's connection (mediasoup's score of what arrives from them).
    const partyInList = judgePage.getByRole('region', { name: '参与人' }).getByRole('listitem').filter({ hasText: '张三' });
    await partyInList.getByText('信号良好').waitFor();

    /** 5 s cut off: the banner within them, the court receiving nothing of the party meanwhile. */
    const cutOff = async (cut: () => void, restore: () => void, banner: string): Promise<void> => {
      cut();
      const from = Date.now();
      try {
        await partyPage.getByRole('alert').filter({ hasText: banner }).waitFor({ timeout: 5000 });
        const before = (await received(judgePage, party.id)).video;
        await sleep(Math.max(0, 5000 - (Date.now() - from)));
        expect((await received(judgePage, party.id)).video - before, 'frames from the party while cut off').toBeLessThan(10);
      } finally {
        restore();
      }
      const backAt = Date.now();
      const [atJudge, atParty] = await Promise.all([received(judgePage, party.id), received(partyPage, judge.id)]);
      await Promise.all([waitForMediaFrom(judgePage, party.id, 30_000, atJudge), waitForMediaFrom(partyPage, judge.id, 30_000, atParty)]);
      await partyPage.getByRole('alert').waitFor({ state: 'detached', timeout: 30_000 });
      console.log(`${banner}: media back both ways ${Date.now() - backAt} ms after the network`);
    };

    const client = () =>
      partyPage.evaluate(
        () => (window as any).hearingClient.state() as { joins: number; resumes: number; iceRestarts: number; transports: string[] },
      );
    const { transports } = await client();
    expect(transports).toHaveLength(2);

    // The signal lost: the connections stay open and the media resume by themselves (no rejoin).
    await cutOff(
      () => net.silence(),
      () => net.unsilence(),
      '网络中断，音视频正在恢复',
    );
    expect(await joins()).toBe(1);
    // The link went down: the browser drops its connection and connects again; the server kept the party's
    // transports, producers and consumers, and the page resumes them (an ICE restart, no rejoin).
    await cutOff(
      () => net.down(),
      () => net.up(),
      '网络中断，正在重新连接',
    );
    // The media may be back (ICE found its way again) before the page's resume has restarted ICE on both
    // transports: the count is awaited, not read at once.
    await expect.poll(async () => (await client()).iceRestarts, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const afterDrop = await client();
    expect(afterDrop).toMatchObject({ joins: 1, transports });
    expect(afterDrop.resumes).toBeGreaterThanOrEqual(1);

    // The phone moves to another network for good (its address changes): the page finds its connection
    // dead by itself, connects from the new address and resumes the same transports with an ICE restart.
    // Every alert the page shows from now on, however briefly: reported, not required here — Chromium
    // may move its ICE to the new address by itself before the media were silent long enough for the
    // banner (CI runs 25 and 14 saw none within 20 s; the two cuts above require it).
    await partyPage.evaluate(() => {
      const seen: string[] = ((window as any).alertsSeen = []);
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[role="alert"]'))
          if (!seen.includes(el.textContent ?? '')) seen.push(el.textContent ?? '');
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const movedAt = Date.now();
    // What the page did about it (printed with the figures: which way it found the dead connection).
    const said: string[] = [];
    partyPage.on('console', (m) => void (m.text().startsWith('[hearing]') && said.push(`${Date.now() - movedAt} ms ${m.text()}`)));
    net.moveAddress();
    // Media again both ways: when each of the four came back. Each is counted from where it stopped (its
    // count once still for 500 ms: what was in flight at the move is decoded first, and is not "back").
    const back: Record<string, number> = {};
    const still = new Map<string, { count: number; since: number; stoppedAt?: number }>();
    const watch = (what: string, count: number, enough: number, at: number): void => {
      const s = still.get(what);
      if (!s || count !== s.count) {
        if (s?.stoppedAt !== undefined && count > s.stoppedAt + enough) back[what] ??= at;
        still.set(what, { count, since: at, stoppedAt: s?.stoppedAt });
      } else if (s.stoppedAt === undefined && at - s.since >= 500) s.stoppedAt = count;
    };
    await until(
      'media again both ways after the move',
      async () => {
        const [atJudge, atParty] = await Promise.all([received(judgePage, party.id), received(partyPage, judge.id)]);
        const at = Date.now() - movedAt;
        watch('soundToCourt', atJudge.audio, 10, at);
        watch('pictureToCourt', atJudge.video, 3, at);
        watch('soundToParty', atParty.audio, 10, at);
        watch('pictureToParty', atParty.video, 3, at);
        return Object.keys(back).length === 4;
      },
      30_000,
    );
    const backMs = Math.max(...Object.values(back));
    await until('resumed from the new address', async () => (await client()).resumes > afterDrop.resumes, 30_000);
    const alerts = await partyPage.evaluate(() => (window as any).alertsSeen as string[]);
    console.log(
      `address moved: media back both ways ${backMs} ms after the move (${JSON.stringify(back)}), resumed ${Date.now() - movedAt} ms after; alerts shown: ${JSON.stringify(alerts)}; the page: ${JSON.stringify(said)}`,
    );
    // The sound back both ways within 5 s (the figure): the page finds the dead connection by its
    // silence (looked at twice a second), makes a new one and restarts ICE; measured 2.1–2.9 s. The
    // pictures follow, counted from where they stopped: measured 2.6–5.0 s in 22 runs (2026-11-28, our
    // worker taking a stream back at once: scripts/mediasoup-patches), 3.8 and 5.2 s in CI runs, allowed 6. What is left after the
    // sound: the phone's browser sends its camera again up to 1 s after its sound (its encoder runs, no
    // packet arrives), and the court's browser takes a few hundred ms to decode the first pictures back.
    expect(Math.max(back.soundToCourt!, back.soundToParty!), 'the sound back both ways (ms after the move)').toBeLessThanOrEqual(5000);
    expect(backMs, 'the pictures back both ways (ms after the move)').toBeLessThanOrEqual(6000);
    const [atJudge, atParty] = await Promise.all([received(judgePage, party.id), received(partyPage, judge.id)]);
    await Promise.all([
      waitForMediaFrom(judgePage, party.id, 30_000, { audio: atJudge.audio + 25, video: atJudge.video + 10 }),
      waitForMediaFrom(partyPage, judge.id, 30_000, { audio: atParty.audio + 25, video: atParty.video + 10 }),
    ]);
    await partyPage.getByRole('alert').waitFor({ state: 'detached', timeout: 30_000 });
    await expect.poll(async () => (await client()).iceRestarts, { timeout: 30_000 }).toBeGreaterThanOrEqual(afterDrop.iceRestarts + 2);
    expect(await client()).toMatchObject({ joins: 1, transports });
    expect(server.plane.get(h.id)!.holdsTransports(party.id, transports), 'the same transports at the server').toBe(true);
    // The bench was told the party is back; the page was never reloaded.
    await judgePage.getByRole('region', { name: '提醒' }).getByText('张三已重新连接', { exact: false }).first().waitFor();
    expect(await partyPage.evaluate(() => (window as any).beforeTheDrop), 'the same page: no reload').toBe(true);
    // The court's record has each reconnect, and no leave or second join: only the media gaps between.
    const log = server.store
      .auditLog(h.id)
      .filter((e) => e.actor === party.id)
      .map((e) => e.action);
    expect(log.filter((a) => a === 'participant.joined')).toHaveLength(1);
    expect(log).not.toContain('participant.left');
    expect(log.filter((a) => a === 'participant.reconnected').length).toBeGreaterThanOrEqual(2);
    for (const page of [judgePage, partyPage]) await page.context().close();
  }, 150_000);
});
