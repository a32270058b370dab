import fs from 'node:fs';
import type { RemoteTrackStats } from '../../client-demo/src/session.ts';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HearingServer } from '../../server/app/server.ts';
import type { Config } from '../../server/app/config.ts';
import { createHearing, startTestServer } from './server.ts';
import { magentaCamera } from './frames.ts';
import { CHROMIUM_PATH, joinLink, yieldingCpu } from '../../benchmarks/lib/chromium.ts';

/** Debian's Chromium, headless, with fake camera and microphone (see shared/FEASIBILITY.md); playwright gives it a fresh profile. */
export const CHROMIUM = CHROMIUM_PATH;

/**
 * `executablePath`: e.g. a wrapper that starts Chromium in a network namespace (test/helpers/netns.ts).
 * The browser yields the CPU to the server (`yieldingCpu`), unless `realTime`: for a test that holds the
 * browser's own clock against the wall clock.
 */
export async function launchBrowser(extraArgs: string[] = [], executablePath = CHROMIUM, realTime = false): Promise<Browser> {
  return chromium.launch({
    executablePath: realTime ? executablePath : yieldingCpu(executablePath),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}

/** What a page received of one remote track (the page's own type: `hearingClient.stats()`). */
export type { RemoteTrackStats };

const violations = new WeakMap<Page, string[]>();

/** The pages openJoin opened (for the account of a failed test), and the last lines each logged. */
const opened = new Map<Page, string[]>();

/**
 * What a failed browser test leaves to read: each open page's connection state and what it shows in its
 * status and alert areas, its last console lines, and the server's account of its hearings' connections.
 * It is added to the failure's own message, so that it stands beside the error at the end of the run's
 * output (a CI log is often read from its tail only), not among the lines printed while tests ran.
 */
export function accountOnFailure(server: () => HearingServer | undefined): void {
  beforeEach((test) => {
    opened.clear();
    test.onTestFailed(async ({ task }) => {
      const account = await accountOfFailure(server());
      const error = task.result?.errors?.[0];
      if (error) error.message += `\n${account}`;
      else console.warn(account);
    });
  });
}

async function accountOfFailure(server: HearingServer | undefined): Promise<string> {
  const lines: string[] = ['--- the browser test failed; its pages and hearings:'];
  for (const [page, logged] of opened) {
    if (page.isClosed()) {
      // Closed by the test's own clean-up before this account (its console is what is left).
      lines.push(`page (closed)`, ...logged.map((l) => `  console: ${l}`));
      continue;
    }
    const shown = await page
      .evaluate(() => ({
        url: location.pathname + location.search.replace(/token=[^&]+/, 'token=…'),
        state: (window as any).hearingClient?.state(),
        notices: [...document.querySelectorAll('[role=status], [role=alert]')]
          .map((e) => (e as HTMLElement).innerText.trim())
          .filter(Boolean),
      }))
      .catch((error: Error) => ({ error: error.message }));
    // The transports' ids and the participant's own id say nothing here.
    const state = { ...(shown as any).state, transports: undefined, self: (shown as any).state?.self?.name };
    lines.push(`page ${JSON.stringify({ ...shown, state })}`, ...logged.map((l) => `  console: ${l}`));
  }
  // Each recent hearing: its connection, pause and edit events, and its record's last event lines.
  for (const h of server?.hearings.list(3, 0) ?? []) {
    for (const e of server!.hearings
      .events(h.id)
      .filter((e) => /^(participant|signaling|media|record\.paus|record\.resum|transcript\.edit)/.test(e.action))
      .slice(-25))
      lines.push(`event ${e.at} ${e.action} ${e.actor} ${JSON.stringify(e.detail)}`);
    const manifest = path.join(server!.recorder.dirOf(h.id), 'manifest.jsonl');
    if (fs.existsSync(manifest))
      lines.push(
        ...fs
          .readFileSync(manifest, 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l.includes('"type":"event"'))
          .slice(-8)
          .map((l) => `record ${l.replace(/"(hearingId|prev|signature|headHash)":"[^"]*",?/g, '').slice(0, 300)}`),
      );
  }
  return lines.join('\n');
}

/** What the page's content security policy refused so far (console errors naming the policy). */
export const cspViolations = (page: Page): string[] => violations.get(page) ?? [];

/** A phone's screen (the parties' usual device): 390×844, touch. */
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } as const;

/**
 * Opens a join link as the person would: the device check (for a role that speaks) is passed with its
 * join button, then the page joins. `lang: 'en'` asks for the English app; `phone` a phone's screen.
 */
export async function openJoin(browser: Browser, joinUrl: string, o: { lang?: 'en'; phone?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], ...(o.phone ? PHONE : {}) });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.warn('[page error]', error.message));
  violations.set(page, []);
  const logged: string[] = [];
  opened.set(page, logged);
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) violations.get(page)!.push(m.text());
    logged.push(
      `${new Date().toISOString().slice(11, 23)} ${m.type()} ${m
        .text()
        .replace(/token=[^&\s'"]+/g, 'token=…')
        .slice(0, 400)}`,
    );
    if (logged.length > 20) logged.shift();
  });
  await joinLink(page, joinUrl, { lang: o.lang, timeoutMs: 30_000 }).catch(async (error: Error) => {
    const shown = await page.evaluate(() => document.body.innerText.slice(0, 400)).catch(() => '');
    const state = await page.evaluate(() => JSON.stringify((window as any).hearingClient?.state())).catch(() => '');
    throw new Error(`${error.message}\nthe page shows: ${shown}\nstate: ${state}`);
  });
  return page;
}

export function stats(page: Page): Promise<RemoteTrackStats[]> {
  return page.evaluate(() => (window as any).hearingClient.stats());
}

/** Waits until the page receives audio packets and decodes video frames from `from`, beyond a baseline. */
export async function waitForMediaFrom(
  page: Page,
  from: string,
  timeoutMs = 30_000,
  baseline = { audio: 0, video: 0 },
): Promise<RemoteTrackStats[]> {
  const deadline = Date.now() + timeoutMs;
  let last: RemoteTrackStats[] = [];
  while (Date.now() < deadline) {
    // A page that is loading (it moved to another node, it reloads) has no hooks yet: not yet, not an error.
    last = await page.evaluate(() => (window as any).hearingClient?.stats() ?? []).catch(() => []);
    const audio = last.find((s) => s.participantId === from && s.kind === 'audio');
    const video = last.find((s) => s.participantId === from && s.kind === 'video');
    if (audio && video && audio.packetsReceived > baseline.audio && video.framesDecoded > baseline.video) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no media from ${from} within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/**
 * A real server and a real Chromium for the tests of one describe block (started before, stopped
 * after). `ctx.server` may be replaced by a test (e.g. after a restart); the new one is stopped too.
 */
export function withServerAndBrowser(o: { realTime?: boolean; server?: Partial<Config> } = {}): {
  server: HearingServer;
  browser: Browser;
} {
  const ctx = {} as { server: HearingServer; browser: Browser };
  beforeAll(async () => {
    ctx.server = await startTestServer(o.server);
    ctx.browser = await launchBrowser([], CHROMIUM, o.realTime);
  });
  accountOnFailure(() => ctx.server);
  afterAll(async () => {
    await ctx.browser?.close();
    await ctx.server?.close();
  });
  return ctx;
}

/** A judge and a party join one hearing in two pages and receive each other's audio and video. */
export async function twoPartyHearing(server: HearingServer, browser: Browser) {
  const { id, participants } = await createHearing(server, [
    { name: 'Judge Wang', role: 'judge' },
    { name: 'Party Li', role: 'party' },
  ]);
  const [judge, party] = participants as [(typeof participants)[0], (typeof participants)[0]];
  const judgePage = await openJoin(browser, judge.joinUrl);
  const partyPage = await openJoin(browser, party.joinUrl);
  await waitForMediaFrom(judgePage, party.id);
  await waitForMediaFrom(partyPage, judge.id);
  return { id, judge, party, judgePage, partyPage };
}

/**
 * For livestream tests: a server with no legal delay, a browser for the court (default fake camera) and
 * one whose camera is pure magenta (the party, easy to find in a program frame).
 */
export function withLiveCourt(overrides: Partial<Config> = {}): { server: HearingServer; court: Browser; party: Browser } {
  const ctx = {} as { server: HearingServer; court: Browser; party: Browser };
  beforeAll(async () => {
    ctx.server = await startTestServer(overrides);
    ctx.server.config.live.delaySeconds = 0;
    // These tests look at the program's picture: on a machine short of CPU it may get smaller, not go.
    ctx.server.config.live.soundOnly = 'never';
    ctx.court = await launchBrowser();
    ctx.party = await launchBrowser([`--use-file-for-fake-video-capture=${magentaCamera()}`]);
  });
  accountOnFailure(() => ctx.server);
  afterAll(async () => {
    await ctx.court?.close();
    await ctx.party?.close();
    await ctx.server?.close();
  });
  return ctx;
}
