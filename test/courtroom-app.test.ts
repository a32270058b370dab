// The courtroom app as people use it: Chinese first (English on request), a phone for the parties,
// every control found by its visible name; axe-core finds no serious or critical problem on any page.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Page } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { api, createHearing, NO_ASR } from './helpers/server.ts';
import { launchBrowser, openJoin, PHONE, stats, waitForMediaFrom, withServerAndBrowser } from './helpers/browser.ts';
import { JFK, speechIngest } from './helpers/speech.ts';
import { until } from './helpers/wait.ts';
import { FACES_DIR } from './helpers/faces.ts';
import { quietMicrophone } from './helpers/frames.ts';
import { RECORDER_PEER } from '../workers/record/hearing-recording.ts';
import { LIVE_PEER } from '../workers/livestream/program.ts';
import { connect, request } from './helpers/socket.ts';

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now (rule id and where). */
async function accessibilityProblems(page: Page): Promise<string[]> {
  // evaluate() is not subject to the page's CSP (an injected <script> would be).
  await page.evaluate(AXE);
  const violations: { id: string; impact: string; nodes: { target: string[] }[] }[] = await page.evaluate(
    async () => (await (window as any).axe.run(document, { resultTypes: ['violations'] })).violations,
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Every visible button's box: inside the screen's width and overlapping no other. */
async function overlaps(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const boxes = [...document.querySelectorAll('button, select, textarea, input')]
      .map((e) => ({ name: (e as HTMLElement).innerText || e.getAttribute('aria-label') || e.tagName, r: e.getBoundingClientRect() }))
      .filter((b) => b.r.width > 0 && b.r.height > 0);
    const problems: string[] = [];
    if (document.documentElement.scrollWidth > width)
      problems.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${width})`);
    for (const b of boxes) if (b.r.left < 0 || b.r.right > width) problems.push(`${b.name} is cut off`);
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, c] = [boxes[i]!.r, boxes[j]!.r];
        if (a.left < c.right && c.left < a.right && a.top < c.bottom && c.top < a.bottom)
          problems.push(`${boxes[i]!.name} overlaps ${boxes[j]!.name}`);
      }
    return problems;
  });
}

describe('the courtroom app', () => {
  // Only the hearing by clicking is transcribed (its own hearing asks for it).
  const ctx = withServerAndBrowser({ server: NO_ASR });

  it('Chinese by default and English on request: each role sees its panels by name, and axe finds nothing serious', async () => {
    const words = {
      zh: {
        transcript: '笔录',
        mic: '麦克风',
        waitingRoom: '候庭',
        open: '开庭',
        join: '进入庭审',
        waiting: '候庭中',
        people: '参与人',
        witnessWaiting: '证人候传区',
      },
      en: {
        transcript: 'Transcript',
        mic: 'Microphone',
        waitingRoom: 'waiting room',
        open: 'in session',
        join: 'Join the hearing',
        waiting: 'Waiting area',
        people: 'Participants',
        witnessWaiting: 'Witness waiting area',
      },
    };
    for (const lang of ['zh', 'en'] as const) {
      const w = words[lang];
      const h = await createHearing(ctx.server, [
        { name: '王法官', role: 'judge' },
        { name: '李书记员', role: 'clerk' },
        { name: '张三', role: 'party' },
        { name: '旁听者', role: 'viewer' },
        { name: '王五', role: 'witness' },
      ]);
      const [judge, clerk, party, viewer, witness] = h.participants as [(typeof h.participants)[0], ...(typeof h.participants)[0][]];
      const o = lang === 'en' ? { lang: 'en' as const } : {};

      // The device check, as a party on a phone first sees it.
      const check = await (await ctx.browser.newContext({ permissions: ['camera', 'microphone'], ...PHONE })).newPage();
      await check.goto(lang === 'en' ? `${party!.joinUrl}&lang=en` : party!.joinUrl);
      await check.getByRole('button', { name: w.join }).waitFor();
      expect(await check.getAttribute('html', 'lang')).toBe(lang === 'en' ? 'en' : 'zh-CN');
      expect(new URL(check.url()).searchParams.get('token'), 'the token leaves the address bar').toBeNull();
      // The microphone's level moves (the fake microphone beeps); the preview plays the camera.
      const meter = check.getByRole('meter', { name: lang === 'en' ? 'Microphone level' : '麦克风音量' });
      await until('the level meter moves', async () => Number(await meter.getAttribute('value')) > 0.02, 10_000);
      await check.waitForFunction(() => (document.querySelector('video') as HTMLVideoElement | null)?.readyState === 4);
      expect(await accessibilityProblems(check), 'device check').toEqual([]);
      await check.context().close();

      // Everyone joins at once (as in a court), the witness too.
      const [judgePage, clerkPage, partyPage, viewerPage, witnessPage] = await Promise.all([
        openJoin(ctx.browser, judge.joinUrl, o),
        openJoin(ctx.browser, clerk!.joinUrl, o),
        openJoin(ctx.browser, party!.joinUrl, { ...o, phone: true }),
        openJoin(ctx.browser, viewer!.joinUrl, { ...o, phone: true }),
        openJoin(ctx.browser, witness!.joinUrl, { ...o, phone: true }),
      ]);
      const pages = { judge: judgePage, clerk: clerkPage, party: partyPage, viewer: viewerPage };
      // axe reads every page in Chinese; in English (the same structure, other words) the bench and a party.
      const axeToo = (who: string): boolean => lang === 'zh' || who === 'judge' || who === 'party';
      for (const [who, page] of Object.entries(pages)) {
        await page.getByRole('log', { name: w.transcript }).waitFor();
        await page.getByRole('heading', { name: w.people }).waitFor();
        if (axeToo(who)) expect(await accessibilityProblems(page), who).toEqual([]);
      }
      // The witness waits apart.
      await witnessPage.getByRole('heading', { name: w.witnessWaiting }).waitFor();
      if (axeToo('witness')) expect(await accessibilityProblems(witnessPage), 'witness').toEqual([]);
      await witnessPage.context().close();
      // Only the judge moves the hearing on, by the states' names.
      await pages.judge.getByRole('button', { name: w.waitingRoom, exact: true }).click();
      await pages.party.getByRole('heading', { name: w.waiting }).waitFor();
      await pages.judge.getByRole('button', { name: w.open, exact: true }).click();
      await pages.party.getByRole('heading', { name: w.waiting }).waitFor({ state: 'detached' });
      for (const page of [pages.clerk, pages.party, pages.viewer])
        expect(await page.getByRole('button', { name: w.open, exact: true }).count()).toBe(0);
      // Those who speak have their microphone button; the viewer has none.
      for (const page of [pages.judge, pages.clerk, pages.party]) await page.getByRole('button', { name: w.mic, exact: true }).waitFor();
      expect(await pages.viewer.getByRole('button', { name: w.mic, exact: true }).count()).toBe(0);
      expect(await accessibilityProblems(pages.judge), 'judge in session').toEqual([]);
      for (const page of Object.values(pages)) await page.context().close();
    }
  }, 240_000);

  it('on a phone every party control is on screen and clear of the others; muting (by the party, and by the judge) and the camera switch act on what is sent; the bench pauses the recording and runs the stream by clicking', async () => {
    const h = await createHearing(
      ctx.server,
      [
        { name: 'Judge Wang', role: 'judge' },
        { name: 'Party Li', role: 'party' },
        { name: 'Lawyer Zhao', role: 'lawyer' },
        { name: 'Interpreter Ma', role: 'interpreter' },
      ],
      { streamable: true },
    );
    type P = (typeof h.participants)[0];
    const [judge, party, lawyer, interpreter] = h.participants as [P, P, P, P];
    await api(ctx.server)('PUT', `/api/v1/hearings/${h.id}/participants/${lawyer.id}/represents`, { represents: [party.id] });
    // A phone with a front and a back camera.
    const phone = await launchBrowser(['--use-fake-device-for-media-stream=device-count=2']);
    try {
      const judgePage = await openJoin(ctx.browser, judge.joinUrl);
      const lawyerPage = await openJoin(ctx.browser, lawyer.joinUrl);
      const partyPage = await openJoin(phone, party.joinUrl, { phone: true });
      await judgePage.getByRole('button', { name: '候庭', exact: true }).click();
      await judgePage.getByRole('button', { name: '开庭', exact: true }).click();
      for (const name of ['麦克风', '摄像头', '切换前后摄像头', '申请与Lawyer Zhao私下沟通'])
        await partyPage.getByRole('button', { name, exact: true }).waitFor();
      expect(await overlaps(partyPage)).toEqual([]);
      await waitForMediaFrom(judgePage, party.id);

      const room = ctx.server.plane.get(h.id)!;
      const sent = (kind: 'audio' | 'video') => room.producers().find((p) => p.participantId === party.id && p.kind === kind);
      const camera = sent('video')!.producerId;
      // The microphone off: paused at the server (nobody receives it), on again: resumed.
      const mic = partyPage.getByRole('button', { name: '麦克风', exact: true });
      await expect.poll(() => mic.getAttribute('aria-pressed')).toBe('true');
      await mic.click();
      await expect.poll(() => mic.getAttribute('aria-pressed')).toBe('false');
      await until('the microphone paused at the server', () => sent('audio')?.paused === true, 10_000);
      await mic.click();
      await until('the microphone resumed at the server', () => sent('audio')?.paused === false, 10_000);

      // The judge mutes the party: paused at the server, the party is told and cannot turn it back on.
      await judgePage.getByRole('button', { name: '静音Party Li' }).click();
      await partyPage.getByRole('status').filter({ hasText: '审判员已将您的麦克风静音' }).waitFor();
      await until('the microphone paused by the judge', () => sent('audio')?.paused === true, 10_000);
      await expect.poll(() => mic.isDisabled()).toBe(true);
      const producerId = sent('audio')!.producerId;
      const refused = await partyPage.evaluate(
        (id) => (window as any).hearingClient.request('resumeProducer', { producerId: id }),
        producerId,
      );
      expect(refused.error?.code).toBe('muted_by_court');
      expect(sent('audio')!.paused).toBe(true);
      expect(await judgePage.getByRole('button', { name: '静音Judge Wang' }).count(), 'no judge mutes a judge').toBe(0);
      await judgePage.getByRole('button', { name: '取消静音Party Li' }).click();
      await until('the microphone back after the judge lifts the mute', () => sent('audio')?.paused === false, 10_000);
      // The page hears of it after the server (its own state follows the server's message).
      await expect.poll(() => mic.getAttribute('aria-pressed')).toBe('true');
      const log = ctx.server.store.auditLog(h.id).map((e) => e.action);
      expect(log).toEqual(expect.arrayContaining(['participant.muted', 'participant.unmuted']));

      // The other camera: the track sent is replaced (same producer), and the judge keeps seeing the party.
      const label = () =>
        partyPage.evaluate(
          () =>
            (document.querySelector('.tile.self video') as HTMLVideoElement).srcObject &&
            ((document.querySelector('.tile.self video') as HTMLVideoElement).srcObject as MediaStream).getVideoTracks()[0]!.label,
        );
      const before = await label();
      await partyPage.getByRole('button', { name: '切换前后摄像头' }).click();
      await until('another camera in the preview', async () => (await label()) !== before, 10_000);
      expect(sent('video')!.producerId, 'the same producer, a new track').toBe(camera);
      await waitForMediaFrom(judgePage, party.id);

      // The interpretation channel: the interpreter's voice goes on it; the party hears the original until
      // choosing the interpretation (then the floor is turned down); the record takes it, the stream never.
      const consumed: { peer: string; producerId: string }[] = [];
      room.router.observer.on('newtransport', (transport) =>
        transport.observer.on('newconsumer', (c) =>
          consumed.push({ peer: String(transport.appData.participantId), producerId: c.producerId }),
        ),
      );
      const interpreterPage = await openJoin(ctx.browser, interpreter.joinUrl);
      const interpretation = await until('the interpreter on the interpretation channel', () =>
        room.producers().find((p) => p.participantId === interpreter.id && p.kind === 'audio' && p.source === 'interpretation'),
      );
      await waitForMediaFrom(partyPage, interpreter.id);
      const channel = (who: string) =>
        partyPage.evaluate((id) => {
          const a = document.querySelector(`#tile-${id} audio`) as HTMLAudioElement;
          return { muted: a.muted, volume: a.volume };
        }, who);
      // The tiles apply the choice after they render (a busy CI machine showed the old state for a moment).
      const channelsAre = (what: string, interpreterHeard: { muted: boolean; volume: number }, floorVolume: number) =>
        until(
          what,
          async () => {
            const [i, j] = [await channel(interpreter.id), await channel(judge.id)];
            const ok = i.muted === interpreterHeard.muted && (interpreterHeard.muted || i.volume === interpreterHeard.volume);
            return ok && !j.muted && Math.abs(j.volume - floorVolume) < 0.01;
          },
          10_000,
        );
      await channelsAre('the original: the interpretation silent, the floor at full volume', { muted: true, volume: 1 }, 1);
      const listen = partyPage.getByRole('button', { name: '收听翻译' });
      await listen.click();
      expect(await listen.getAttribute('aria-pressed')).toBe('true');
      await channelsAre('the interpretation heard, the floor turned down', { muted: false, volume: 1 }, 0.2);
      expect(await interpreterPage.getByRole('button', { name: '收听翻译' }).count(), 'the interpreter hears the floor').toBe(0);
      await until('the record takes the interpretation', () =>
        consumed.some((c) => c.peer === RECORDER_PEER && c.producerId === interpretation.producerId),
      );
      const forged = await partyPage.evaluate(() =>
        (window as any).hearingClient.request('produce', {
          transportId: crypto.randomUUID(),
          kind: 'audio',
          source: 'interpretation',
          rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] },
        }),
      );
      expect(forged.error?.code, 'only an interpreter speaks on the interpretation channel').toBe('forbidden');

      // The bench: the recording paused and resumed, each with a reason; the stream approved, started,
      // a party protected from the public, then cut (asked once more). Only the court has these controls.
      const bench = judgePage.getByRole('region', { name: '录制与直播' });
      expect(await lawyerPage.getByRole('region', { name: '录制与直播' }).count()).toBe(0);
      const reason = bench.getByRole('textbox', { name: '原因（记入庭审记录）' });
      await bench.getByRole('button', { name: '暂停录制' }).click();
      await judgePage.getByRole('status').filter({ hasText: '请先填写原因' }).waitFor();
      expect(ctx.server.recorder.get(h.id)!.isRecording).toBe(true);
      await reason.fill('当事人身体不适');
      await bench.getByRole('button', { name: '暂停录制' }).click();
      await bench.getByRole('button', { name: '恢复录制' }).waitFor();
      expect(ctx.server.recorder.get(h.id)!.isRecording).toBe(false);
      await reason.fill('当事人已恢复');
      await bench.getByRole('button', { name: '恢复录制' }).click();
      await bench.getByRole('button', { name: '暂停录制' }).waitFor();
      expect(ctx.server.recorder.get(h.id)!.isRecording).toBe(true);
      const manifest = fs.readFileSync(path.join(ctx.server.recorder.dirOf(h.id), 'manifest.jsonl'), 'utf8');
      expect(manifest).toMatch(/"event":"record.paused","reason":"当事人身体不适"/);
      await bench.getByRole('button', { name: '批准直播' }).click();
      await bench.getByRole('button', { name: '开始直播' }).click();
      await bench.getByText('直播中').waitFor();
      // The program takes the courtroom's voices, not the interpretation.
      const judgeVoice = room.producers().find((p) => p.participantId === judge.id && p.kind === 'audio')!.producerId;
      await until('the program takes the judge', () => consumed.some((c) => c.peer === LIVE_PEER && c.producerId === judgeVoice));
      expect(consumed.filter((c) => c.peer === LIVE_PEER).map((c) => c.producerId)).not.toContain(interpretation.producerId);
      await bench.getByRole('button', { name: '保护Party Li（隐藏画面、变声）' }).click();
      await bench.getByRole('button', { name: '取消保护Party Li' }).waitFor();
      expect(ctx.server.store.protections(h.id).get(party.id)).toEqual({ hidden: true, voice: 'disguised' });
      await bench.getByRole('button', { name: '立即切断直播' }).click();
      await bench.getByRole('button', { name: '确认切断' }).click();
      await bench.getByText('已切断').waitFor();
      expect(ctx.server.live.status(h.id).state).toBe('cut');
      expect(
        ctx.server.store
          .auditLog(h.id)
          .map((e) => [e.action, e.actor])
          .filter(([a]) => /^(stream|record)\./.test(a!)),
      ).toEqual(
        expect.arrayContaining([
          ['record.pause_requested', judge.id],
          ['record.resume_requested', judge.id],
          ['stream.approved', judge.id],
          ['stream.started', judge.id],
          ['stream.protection', judge.id],
          ['stream.cut', judge.id],
        ]),
      );
      await judgePage.context().close();
      await lawyerPage.context().close();
      await interpreterPage.context().close();
    } finally {
      await phone.close();
    }
  }, 180_000);

  it('a blocked camera and microphone are explained, with a retry, not a blank page', async () => {
    const h = await createHearing(ctx.server, [{ name: '张三', role: 'party' }]);
    // No fake permission prompt: the browser refuses the camera and the microphone.
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--deny-permission-prompts'],
    });
    try {
      const page = await (await browser.newContext(PHONE)).newPage();
      await page.goto(h.participants[0]!.joinUrl);
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.innerText()).toContain('浏览器拒绝了访问');
      await page.getByRole('button', { name: '重试' }).waitFor();
      expect(await page.getByRole('button', { name: '进入庭审' }).count()).toBe(0);
      expect(await accessibilityProblems(page)).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('a refusal at connection is said in the page’s language, not in the server’s English', async () => {
    const h = await createHearing(ctx.server, [{ name: '张三', role: 'party' }]);
    for (const to of ['waiting_room', 'open', 'closed'])
      expect((await api(ctx.server)('POST', `/api/v1/hearings/${h.id}/transitions`, { to })).status).toBe(200);
    for (const [lang, said] of [
      [undefined, '本庭审已经结束。'],
      ['en', 'This hearing has ended.'],
    ] as const) {
      const page = await (await ctx.browser.newContext({ permissions: ['camera', 'microphone'] })).newPage();
      try {
        await page.goto(`${h.participants[0]!.joinUrl}${lang ? `&lang=${lang}` : ''}`);
        await page.getByRole('button', { name: lang ? 'Join the hearing' : '进入庭审' }).click();
        // Said where it is seen (an alert over the page), not only in the header's status line.
        await page.getByRole('alert').filter({ hasText: said }).waitFor({ timeout: 10_000 });
        expect(await page.getByText('hearing is closed').count()).toBe(0);
      } finally {
        await page.context().close();
      }
    }
  });

  it('a hearing by clicking: a party speaks, the clerk edits, the other party notes, submits a photo the clerk places, the judge calls the witness in (who saw and heard nothing before) and sends them back, signs by hand after the freeze; the judge closes and the 笔录 holds it all', async () => {
    const h = await createHearing(
      ctx.server,
      [
        { name: '王法官', role: 'judge' },
        { name: '李书记员', role: 'clerk' },
        { name: '张三', role: 'party' },
        { name: '李四', role: 'party' },
        { name: '旁听者', role: 'viewer' },
        { name: '王五', role: 'witness' },
      ],
      { asr: { engine: 'pocketsphinx', language: 'en' } },
    );
    const [judge, clerk, party, speaker, viewer, witness] = h.participants as [(typeof h.participants)[0], ...(typeof h.participants)[0][]];
    // A viewer in the hearing hears of no evidence (it is for the parties and the court).
    const viewerSocket = await connect(ctx.server.url, viewer!.token);
    await request(viewerSocket, 'join', {});
    const viewerHeard: string[] = [];
    for (const event of ['evidenceAdded', 'evidencePlaced']) viewerSocket.on(event, () => viewerHeard.push(event));
    // The pages' microphones hear a quiet room (only 李四 speaks): Chromium's own fake microphone beeps,
    // and every beeping microphone kept a recognizer decoding (four took 1.5–2 of the 2 cores, and the
    // pages went without media for seconds, the witness's for good, in two clean-clone runs).
    const quiet = await launchBrowser([`--use-file-for-fake-audio-capture=${quietMicrophone()}`]);
    onTestFinished(() => quiet.close());
    const judgePage = await openJoin(quiet, judge.joinUrl);
    const clerkPage = await openJoin(quiet, clerk!.joinUrl);
    const partyPage = await openJoin(quiet, party!.joinUrl, { phone: true });
    // The witness waits apart, on a phone.
    const witnessPage = await openJoin(quiet, witness!.joinUrl, { phone: true });
    await witnessPage.getByRole('heading', { name: '证人候传区' }).waitFor();
    // 李四 speaks from a terminal (real speech as RTP); the others' fake microphones only beep.
    const speech = await speechIngest(ctx.server, h.id, speaker!.id, JFK.file);
    await judgePage.getByRole('button', { name: '候庭', exact: true }).click();
    await judgePage.getByRole('button', { name: '开庭', exact: true }).click();
    await speech.play();

    const lineIn = (page: Page, text: RegExp) => page.getByRole('log', { name: '笔录' }).getByRole('listitem').filter({ hasText: text });
    // Whatever pocketsphinx made of the clip (its words vary with the packets' timing): 李四's first line.
    const spoken = /李四（当事人）/;
    await lineIn(clerkPage, spoken).first().waitFor({ timeout: 60_000 });
    await lineIn(judgePage, spoken).first().waitFor();
    // Meanwhile the witness saw and heard nothing: no picture, no sound, no line, no control to send anything.
    await waitForMediaFrom(judgePage, party!.id);
    expect(await stats(witnessPage)).toEqual([]);
    expect(await witnessPage.getByRole('figure').count()).toBe(0);
    expect(await lineIn(witnessPage, /./).count()).toBe(0);
    expect(await witnessPage.getByRole('button', { name: '麦克风', exact: true }).count()).toBe(0);
    expect(await judgePage.getByRole('listitem').filter({ hasText: '王五' }).innerText()).toContain('候传中');
    // The clerk corrects the line.
    await lineIn(clerkPage, spoken).first().getByRole('button', { name: '编辑李四（当事人）的发言' }).click();
    await clerkPage.getByRole('textbox', { name: '发言内容' }).fill('我的同胞们，不要问国家能为你们做什么。');
    await clerkPage.getByRole('button', { name: '保存修改' }).click();
    const corrected = lineIn(partyPage, /不要问国家能为你们做什么/);
    await corrected.waitFor();
    expect(await corrected.innerText()).toContain('已修改（第 2 版）');
    // A party cannot edit, only annotate.
    expect(await corrected.getByRole('button', { name: /^编辑/ }).count()).toBe(0);
    await corrected.getByRole('button', { name: '批注李四（当事人）的发言' }).click();
    await partyPage.getByRole('textbox', { name: '批注内容' }).fill('此处应为原话的准确翻译');
    await partyPage.getByRole('button', { name: '提交批注' }).click();
    await lineIn(judgePage, /不要问国家/)
      .getByText('张三 批注：此处应为原话的准确翻译')
      .waitFor();
    // What the pages show is what the server holds.
    const [line] = ctx.server.transcripts.list(h.id).filter((l) => l.text.includes('不要问国家'));
    expect(line).toMatchObject({ version: 2, status: 'edited', participantId: speaker!.id });
    expect(ctx.server.transcripts.annotations(h.id).map((n) => n.text)).toContain('此处应为原话的准确翻译');

    // Evidence: the party takes a photo (a file here), the judge sees its thumbnail, the clerk places it.
    await partyPage.getByLabel('拍照或选择照片上传证据').setInputFiles(path.join(FACES_DIR, 'amy1.png'));
    await partyPage.getByRole('status').filter({ hasText: '证据已上传' }).waitFor();
    const thumb = judgePage.getByRole('img', { name: '张三提交的证据照片' });
    await thumb.waitFor();
    expect(await thumb.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await clerkPage.getByRole('button', { name: '将张三提交的证据放入笔录' }).click();
    // Under a line of the party's transcript.
    await partyPage.getByRole('log', { name: '笔录' }).getByRole('img', { name: '张三提交的证据照片' }).waitFor();
    // A file that is not a photo is refused with the reason, on the party's phone.
    await partyPage
      .getByLabel('拍照或选择照片上传证据')
      .setInputFiles({ name: 'note.png', mimeType: 'image/png', buffer: Buffer.from('not a photo') });
    await partyPage.getByRole('alert').filter({ hasText: '证据未被接受' }).waitFor();

    // The judge calls the witness in: they see and hear the courtroom, and it them; sent back, cut off again.
    await judgePage.getByRole('button', { name: '传唤王五到庭' }).click();
    await waitForMediaFrom(witnessPage, judge.id);
    await waitForMediaFrom(judgePage, witness!.id);
    expect(await witnessPage.getByRole('heading', { name: '证人候传区' }).count()).toBe(0);
    await witnessPage.getByRole('button', { name: '麦克风', exact: true }).waitFor();
    await judgePage.getByRole('button', { name: '请王五退庭候传' }).click();
    await witnessPage.getByRole('status').filter({ hasText: '您已退庭，正在候传。' }).waitFor();
    await until('the witness receives nothing', async () => (await stats(witnessPage)).length === 0);
    await until(
      'the court no longer receives the witness',
      async () => !(await stats(judgePage)).some((x) => x.participantId === witness!.id),
    );
    await judgePage.getByRole('button', { name: '传唤王五到庭' }).waitFor();

    // Everybody falls silent for the signing (a microphone's noise can become a word: a line after the
    // freeze changes the transcript, and the signature is then rightly shown invalid — CI run 8 with
    // beeping microphones). Each turns their microphone off, paused at the server.
    for (const page of [judgePage, clerkPage, partyPage]) {
      const mic = page.getByRole('button', { name: '麦克风', exact: true });
      await mic.click();
      await expect.poll(() => mic.getAttribute('aria-pressed')).toBe('false');
    }
    await until('every microphone paused at the server', () =>
      ctx.server.plane
        .get(h.id)!
        .producers()
        .filter((p) => p.kind === 'audio' && [judge.id, clerk!.id, party!.id].includes(p.participantId))
        .every((p) => p.paused),
    );
    // The clerk freezes; the party signs by hand on the phone; everybody sees the valid signature.
    await clerkPage.getByRole('button', { name: '冻结笔录以供签名' }).click();
    const pad = partyPage.getByRole('img', { name: '在此处手写签名' });
    await pad.waitFor();
    await partyPage.getByRole('button', { name: '提交签名' }).click();
    await partyPage.getByRole('alert').filter({ hasText: '请先在框内写下签名' }).waitFor();
    const box = (await pad.boundingBox())!;
    await partyPage.mouse.move(box.x + 20, box.y + box.height / 2);
    await partyPage.mouse.down();
    for (let i = 1; i <= 12; i++) await partyPage.mouse.move(box.x + 20 + i * 20, box.y + box.height / 2 + (i % 2 ? -25 : 25));
    await partyPage.mouse.up();
    await partyPage.getByRole('button', { name: '提交签名' }).click();
    await judgePage.getByText('张三已签名（第 1 版） · 有效').waitFor();
    await clerkPage.getByText('张三已签名（第 1 版） · 有效').waitFor();

    // The judge closes (asked once more), and the 笔录 holds the lines, the evidence and the signature.
    await judgePage.getByRole('button', { name: '闭庭', exact: true }).click();
    await judgePage.getByRole('button', { name: '确认闭庭' }).click();
    await until('closed', () =>
      ctx.server.store.auditLog(h.id).some((e) => e.action === 'hearing.state_changed' && e.detail.to === 'closed'),
    );
    const html = await (
      await fetch(`${ctx.server.url}/api/v1/hearings/${h.id}/transcript?format=html`, {
        headers: { authorization: `Bearer ${ctx.server.secrets.apiKey}` },
      })
    ).text();
    for (const part of [
      '我的同胞们，不要问国家能为你们做什么。',
      '张三（当事人） 注：此处应为原话的准确翻译',
      '<tr class="evidence">',
      'class="valid"',
      'class="drawn"',
    ])
      expect(html, part).toContain(part);
    expect(viewerHeard).toEqual([]);
    viewerSocket.close();
    for (const page of [judgePage, clerkPage, partyPage, witnessPage]) await page.context().close();
  }, 240_000);
});
