// Screenshots of each role's page (zh-CN; desktop for the court, a phone for the others) for the README:
// `node --import tsx scripts/screenshots.ts` writes docs/screenshots/*.png. A real server, real
// Chromium with fake devices, the party's words from a real speech clip through the transcriber.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { configFromEnv } from '../server/app/config.ts';
import { startServer } from '../server/app/server.ts';
import { CHROMIUM_PATH, launchChromium, yieldingCpu } from '../benchmarks/lib/chromium.ts';
import { JFK, speechIngest } from '../test/helpers/speech.ts';

const OUT = path.resolve(import.meta.dirname, '../docs/screenshots');
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const DESKTOP = { viewport: { width: 1280, height: 800 } };

const server = await startServer({
  ...configFromEnv({}),
  port: 0,
  host: '127.0.0.1',
  dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'screenshots-')),
  demo: false,
  apiKey: 'screenshots-api-key-0123456789',
});
const call = async (method: string, route: string, body?: unknown) => {
  const r = await fetch(`${server.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${server.secrets.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await r.json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
};
// A browser per person, as in a court, each at the tests' lower priority (test/helpers/browser.ts).
const browsers: Browser[] = [];
// Their microphones hear a quiet room: Chromium's fake one beeps each second, and six speech recognizers
// decoding beeps left seven browsers on two cores so little CPU that pages went 20 s without answering
// the server's pings and were dropped. 李四's words come from a real clip below.
const quietRoom = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'quiet-')), 'quiet.wav');
execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'anoisesrc=a=0.002:d=600:r=48000', '-ac', '1', quietRoom]);
const pages: Page[] = [];
/** A page for one person: a browser of its own, or a context of its own in a browser already open (`beside`). */
const open = async (joinUrl: string, device: object, beside?: Page): Promise<Page> => {
  const browser =
    beside?.context().browser() ??
    (await launchChromium(
      ['--use-fake-device-for-media-stream=device-count=2', `--use-file-for-fake-audio-capture=${quietRoom}`],
      yieldingCpu(CHROMIUM_PATH),
    ));
  if (!beside) browsers.push(browser);
  const page = await (await browser.newContext({ permissions: ['camera', 'microphone'], ...device })).newPage();
  await page.goto(joinUrl);
  pages.push(page);
  return page;
};
const join = async (page: Page, button = '进入庭审') => {
  await page.getByRole('button', { name: button }).click();
  await page.waitForFunction(() => (window as any).hearingClient?.state().joined === true); // eslint-disable-line
};
const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage });

let hid = '';
try {
  const h = await call('POST', '/api/v1/hearings', {
    caseNumber: '(2026)京0105民初1234号',
    title: '张三诉李四买卖合同纠纷',
    streamable: true,
  });
  hid = h.id;
  const people: Record<string, { id: string; joinUrl: string }> = {};
  for (const [key, name, role] of [
    ['judge', '王法官', 'judge'],
    ['clerk', '李书记员', 'clerk'],
    ['party', '张三', 'party'],
    ['other', '李四', 'party'],
    ['lawyer', '赵律师', 'lawyer'],
    ['otherLawyer', 'Lawyer Qian', 'lawyer'],
    ['witness', '王五', 'witness'],
    ['interpreter', '孙翻译', 'interpreter'],
    ['viewer', '旁听者', 'viewer'],
  ] as const)
    people[key] = await call('POST', `/api/v1/hearings/${h.id}/participants`, { name, role });
  await call('PUT', `/api/v1/hearings/${h.id}/participants/${people.lawyer!.id}/represents`, { represents: [people.party!.id] });

  const check = await open(people.party!.joinUrl, PHONE);
  await check.getByRole('button', { name: '进入庭审' }).waitFor();
  await check.waitForFunction(() => (document.querySelector('video.preview') as HTMLVideoElement | null)?.readyState === 4);
  await shot(check, 'party-device-check-phone');
  await check.context().close();

  const judge = await open(people.judge!.joinUrl, DESKTOP);
  await join(judge);
  const clerk = await open(people.clerk!.joinUrl, DESKTOP);
  await join(clerk);
  const party = await open(people.party!.joinUrl, PHONE);
  await join(party);
  const lawyer = await open(people.lawyer!.joinUrl, PHONE);
  await join(lawyer);
  // The other side's lawyer reads the app in English.
  const lawyerEn = await open(`${people.otherLawyer!.joinUrl}&lang=en`, PHONE);
  await join(lawyerEn, 'Join the hearing');
  const witness = await open(people.witness!.joinUrl, PHONE);
  await join(witness);
  await witness.getByRole('heading', { name: '证人候传区' }).waitFor();
  await shot(witness, 'witness-waiting-phone');
  // The interpreter (a context of the witness's browser: an eighth Chromium would starve the others).
  const interpreter = await open(people.interpreter!.joinUrl, PHONE, witness);
  await join(interpreter);
  await judge.getByRole('button', { name: '候庭', exact: true }).click();
  await party.getByRole('heading', { name: '候庭中' }).waitFor();
  await shot(party, 'party-waiting-phone');
  // 李四 speaks from a terminal (real speech through the transcriber).
  const speech = await speechIngest(server, h.id, people.other!.id, JFK.file);
  await judge.getByRole('button', { name: '开庭', exact: true }).click();
  // Seven browsers on this machine: the decoders take their time to start.
  await speech.play(120_000);
  await clerk.getByRole('log', { name: '笔录' }).getByRole('listitem').filter({ hasText: '李四' }).first().waitFor({ timeout: 90_000 });
  const viewer = await open(people.viewer!.joinUrl, PHONE);
  await viewer.waitForFunction(() => (window as any).hearingClient?.state().joined === true); // eslint-disable-line
  // The judge approves and starts the public stream from the bench.
  await judge.getByRole('button', { name: '批准直播' }).click();
  await judge.getByRole('button', { name: '开始直播' }).click();
  await judge.getByRole('region', { name: '录制与直播' }).getByText('直播中').waitFor({ timeout: 120_000 });
  await viewer.waitForTimeout(2000); // the pictures settle (a screenshot, not a test)
  await shot(judge, 'judge-desktop', true);
  for (const [page, name] of [
    [clerk, 'clerk-desktop'],
    [party, 'party-phone'],
    [lawyer, 'lawyer-phone'],
    [lawyerEn, 'lawyer-phone-en'],
    [viewer, 'viewer-phone'],
    [interpreter, 'interpreter-phone'],
  ] as const)
    await shot(page, name);
  // The party chooses the interpretation (every listener may, once an interpreter is in the hearing).
  await party.getByRole('button', { name: '收听翻译' }).click();
  await party.getByText('正在收听翻译，原声已调低').waitFor();
  await shot(party, 'party-interpretation-phone');
  // The others' pages on a desktop (the same pages, widened).
  for (const [page, name] of [
    [party, 'party-desktop'],
    [lawyer, 'lawyer-desktop'],
    [witness, 'witness-waiting-desktop'],
    [interpreter, 'interpreter-desktop'],
    [viewer, 'viewer-desktop'],
  ] as const) {
    await page.setViewportSize(DESKTOP.viewport);
    await page.waitForTimeout(500); // the layout settles
    await shot(page, name);
  }
  // The bench on a phone (the same pages, narrowed).
  for (const [page, name] of [
    [judge, 'judge-phone'],
    [clerk, 'clerk-phone'],
  ] as const) {
    await page.setViewportSize(PHONE.viewport);
    await page.waitForTimeout(500); // the layout settles
    await shot(page, name);
  }
  // Signing on the phone: the clerk freezes, the party draws.
  await clerk.getByRole('button', { name: '冻结笔录以供签名' }).click();
  const pad = party.getByRole('img', { name: '在此处手写签名' });
  await pad.scrollIntoViewIfNeeded();
  const box = (await pad.boundingBox())!;
  await party.mouse.move(box.x + 30, box.y + box.height / 2);
  await party.mouse.down();
  for (let i = 1; i <= 14; i++) await party.mouse.move(box.x + 30 + i * 20, box.y + box.height / 2 + (i % 2 ? -30 : 30));
  await party.mouse.up();
  await party.screenshot({
    path: path.join(OUT, 'party-signing-phone.png'),
    clip: { x: 0, y: Math.max(0, box.y - 200), width: 390, height: 600 },
  });

  console.log(`screenshots in ${OUT}`);
} catch (error) {
  console.error(error);
  // Who dropped out, and why (a page too slow to answer the server's pings is dropped as `ping timeout`).
  const events = await call('GET', `/api/v1/hearings/${hid}/events`);
  for (const e of events.events ?? events) if (/disconnected|left/.test(e.action)) console.error(e.at, e.action, JSON.stringify(e.detail));
  // What each page showed when it failed.
  for (const [i, page] of pages.entries())
    if (!page.isClosed()) await page.screenshot({ path: path.join(os.tmpdir(), `screenshot-failed-${i}.png`), fullPage: true });
  process.exitCode = 1;
} finally {
  await Promise.all(browsers.map((b) => b.close()));
  await server.close();
}
