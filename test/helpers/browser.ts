import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium, headless, with fake camera and microphone (see shared/FEASIBILITY.md); playwright gives it a fresh profile. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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

export interface RemoteTrackStats {
  participantId: string;
  kind: 'audio' | 'video';
  packetsReceived: number;
  framesDecoded: number;
}

export async function openJoin(browser: Browser, joinUrl: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.warn('[page error]', error.message));
  await page.goto(joinUrl);
  await page.waitForFunction(() => (window as any).hearingClient?.state().joined === true, undefined, { timeout: 30_000 });
  return page;
}

export function stats(page: Page): Promise<RemoteTrackStats[]> {
  return page.evaluate(() => (window as any).hearingClient.stats());
}

/** Waits until the page receives audio packets and decodes video frames from `from`, beyond a baseline. */
export async function waitForMediaFrom(page: Page, from: string, timeoutMs = 30_000, baseline = { audio: 0, video: 0 }): Promise<RemoteTrackStats[]> {
  const deadline = Date.now() + timeoutMs;
  let last: RemoteTrackStats[] = [];
  while (Date.now() < deadline) {
    last = await stats(page);
    const audio = last.find((s) => s.participantId === from && s.kind === 'audio');
    const video = last.find((s) => s.participantId === from && s.kind === 'video');
    if (audio && video && audio.packetsReceived > baseline.audio && video.framesDecoded > baseline.video) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no media from ${from} within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}
