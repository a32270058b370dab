import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium with a fake camera and microphone granted without asking (CHROMIUM_PATH or Debian's);
 * `executablePath`: e.g. a wrapper into a network namespace.
 */
export function launchChromium(extraArgs: string[] = [], executablePath = CHROMIUM_PATH): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-gpu',
      ...extraArgs,
    ],
  });
}

type JoinedPage = { hearingClient?: { state(): { joined: boolean } } };

/**
 * Opens a join link the way a person does: a role that speaks passes the device check with its join
 * button (进入庭审, or "Join the hearing" in English), a viewer joins at once; resolves when joined.
 */
export async function joinLink(page: Page, url: string, o: { lang?: 'en'; timeoutMs?: number } = {}): Promise<void> {
  const timeout = o.timeoutMs ?? 60_000;
  await page.goto(o.lang ? `${url}${url.includes('?') ? '&' : '?'}lang=${o.lang}` : url);
  const join = page.getByRole('button', { name: o.lang === 'en' ? 'Join the hearing' : '进入庭审' });
  const joined = page.waitForFunction(() => (window as unknown as JoinedPage).hearingClient?.state().joined === true, undefined, {
    timeout,
  });
  const first = await Promise.race([joined.then(() => 'joined'), join.waitFor({ timeout }).then(() => 'check')]);
  if (first === 'check') await join.click({ timeout });
  await joined;
}
