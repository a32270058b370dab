import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

/** One wrapper script per Chromium and nice value, written once per process. */
const wrappers = new Map<string, string>();

/**
 * The participants' browsers yield the CPU to the server under test: in a court they are on phones and PCs
 * elsewhere, not on the media server's two cores. Without it, five Chromiums starved the stream's encoder
 * of every frame for 20 s in CI (run 9), which no deployment would see. Playwright starts each browser in
 * a session of its own, which the kernel schedules as a group (autogroup) with an equal share against the
 * whole test process and its encoders: that group gets nice 10. Inside it, its threads get nice 10 too
 * (for kernels without autogroup), and without CAP_SYS_NICE (dropped from the bounding set, so root loses
 * it at exec) Chromium cannot undo that: as root it set its renderers back to 0 and its display and audio
 * threads to -8. (CI run 13: 22 min instead of 29, no stream failure. Run 14, at nice 5 with Chromium's
 * own thread priorities and a 10 fps camera: slower, and three stream and signaling time-outs.)
 *
 * Returns a wrapper to launch instead of `executablePath`. Not for a test that holds the browser's own
 * clock against the wall clock (the record's segments against the hearing's transitions): yielding, its
 * fake microphone made 1.6 s of sound in 5 s (run 13), which says nothing about the server.
 */
export function yieldingCpu(executablePath: string, nice = 10): string {
  const key = `${nice} ${executablePath}`;
  const made = wrappers.get(key);
  if (made) return made;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-')), 'chromium');
  wrappers.set(key, file);
  fs.writeFileSync(
    file,
    [
      '#!/bin/sh',
      `echo ${nice} 2>/dev/null > /proc/self/autogroup`,
      `exec setpriv --bounding-set -sys_nice -- nice -n ${nice} ${executablePath} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return file;
}

type JoinedPage = { hearingClient?: { state(): { joined: boolean } } };

/**
 * Opens a join link the way a person does: a role that speaks passes the device check with its join
 * button (进入庭审, or "Join the hearing" in English), a viewer joins at once; resolves when joined.
 */
export async function joinLink(page: Page, url: string, o: { lang?: 'en'; timeoutMs?: number } = {}): Promise<void> {
  const timeout = o.timeoutMs ?? 60_000;
  const target = o.lang ? `${url}${url.includes('?') ? '&' : '?'}lang=${o.lang}` : url;
  // A browser on a machine whose interfaces change (another test's or benchmark's veth pair coming or
  // going) aborts a navigation under way with ERR_NETWORK_CHANGED (CI run 27): a person reloads.
  for (let attempt = 1; ; attempt++) {
    const error = await page.goto(target).then(
      () => undefined,
      (e: Error) => e,
    );
    if (!error) break;
    // Chromium may report it as its error page taking over the navigation (CI run 30): what it says is
    // read from that page, for the record.
    // Its text may not be drawn yet when the navigation is reported interrupted (CI stop 27: empty), so
    // the page is let load first; an error page that says nothing is taken as the network change it
    // most often is, and reloaded like the others (three attempts at most, each one printed).
    const errorPage = error.message.includes('chrome-error://');
    if (errorPage) await page.waitForLoadState('load', { timeout: 5_000 }).catch(() => undefined);
    // Chromium reloads a page its error page replaced after a network change by itself: when the page
    // is the one asked for again (a local run on 2026-11-27 read the app's own text there), it is used.
    const at = errorPage ? await page.evaluate(() => location.href).catch(() => '') : '';
    if (errorPage && at.split('?')[0] === target.split('?')[0]) {
      process.stderr.write(`joinLink: attempt ${attempt} was interrupted by Chromium's error page, which reloaded the page itself\n`);
      break;
    }
    const said = errorPage
      ? ((await page.evaluate(() => document.body?.innerText.replace(/\s+/g, ' ').slice(0, 200)).catch(() => '')) ?? '')
      : '';
    const changed = error.message.includes('ERR_NETWORK_CHANGED') || /ERR_NETWORK_CHANGED/.test(said) || (errorPage && said.trim() === '');
    if (attempt >= 3 || !changed) {
      throw errorPage ? new Error(`${error.message.split('\n')[0]}; the error page says: ${said}`) : error;
    }
    process.stderr.write(`joinLink: attempt ${attempt} ended on Chromium's error page (${said.trim() || 'no text'}); reloading\n`);
  }
  const join = page.getByRole('button', { name: o.lang === 'en' ? 'Join the hearing' : '进入庭审' });
  const joined = page.waitForFunction(() => (window as unknown as JoinedPage).hearingClient?.state().joined === true, undefined, {
    timeout,
  });
  const first = await Promise.race([joined.then(() => 'joined'), join.waitFor({ timeout }).then(() => 'check')]);
  if (first === 'check') await join.click({ timeout });
  await joined;
}
