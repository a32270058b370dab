import { chromium, type Browser } from 'playwright-core';

/** Headless Chromium with a fake camera and microphone granted without asking (CHROMIUM_PATH or Debian's). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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
