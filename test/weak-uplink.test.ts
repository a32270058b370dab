// A party on a thin network: their Chromium runs in a network namespace of the test's own whose only
// way to the media is UDP through the server's coturn, capped at 300 kbit/s each way
// (HEARING_TURN_MAX_KBPS: coturn drops beyond it, it does not queue, so the browser's delay-based
// estimate never sees the limit). The page steps its camera down until its sound gets through
// (`client-demo/src/uplink.ts`), the bench is told, the record has it; the server sends them the small
// layer of the judge's camera while a viewer on a good network gets the full one (mediasoup picks each
// consumer's layer from its own bandwidth).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { types } from 'mediasoup';
import { api, createHearing, startTestServer, NO_ASR } from './helpers/server.ts';
import { accountOnFailure, CHROMIUM, launchBrowser, openJoin, stats, waitForMediaFrom } from './helpers/browser.ts';
import { createNetns, type TestNetns } from './helpers/netns.ts';
import { sleep, until } from './helpers/wait.ts';
import type { HearingServer } from '../server/app/server.ts';

const CAP_KBPS = 300;

/** What `page` has received of `from`'s sound so far: packets, and samples played and concealed. */
async function sound(page: Page, from: string): Promise<{ packets: number; lost: number; concealed: number; samples: number }> {
  const a = (await stats(page)).find((x) => x.participantId === from && x.kind === 'audio')!;
  return { packets: a.packetsReceived, lost: a.packetsLost, concealed: a.concealedSamples, samples: a.totalSamplesReceived };
}

/** The kbit/s of each simulcast layer of a producer as the server receives it (mediasoup's per-rid stats). */
async function layers(producer: types.Producer): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of await producer.getStats()) if (s.rid) out[s.rid] = Math.round(s.bitrate / 1000);
  return out;
}

describe('a party on a 300 kbit/s network', () => {
  const ctx = {} as { server: HearingServer; court: Browser; phone: Browser; net: TestNetns };
  const turnPort = 14000 + (process.pid % 500) * 2;
  accountOnFailure(() => ctx.server);
  beforeAll(async () => {
    ctx.net = createNetns();
    ctx.server = await startTestServer({
      ...NO_ASR,
      host: ctx.net.hostIp,
      listenIp: ctx.net.hostIp,
      announcedIp: undefined,
      turn: {
        mode: 'embedded',
        policy: 'all',
        host: ctx.net.hostIp,
        listenIp: ctx.net.hostIp,
        port: turnPort,
        tlsPort: turnPort + 1,
        relayMin: 51000,
        relayMax: 51199,
        maxKbps: CAP_KBPS,
      },
      // FEC only (HEARING_OPUS_NACK=0): the sound's lost packets are not sent again, so what the server
      // cannot get of it is what the listeners miss; the camera's step down is what brings it through.
      opusNack: false,
    });
    const secure = `--unsafely-treat-insecure-origin-as-secure=${ctx.server.url}`;
    ctx.court = await launchBrowser([secure]);
    // The party talks all the time (a warbling tone: Chromium's own fake microphone beeps once a second,
    // and with DTX a quiet microphone sends too little to judge its losses by).
    const talk = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'talk-')), 'talk.wav');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      "aevalsrc='0.3*sin(2*PI*(440+120*sin(2*PI*0.7*t))*t)':s=48000:d=300",
      talk,
    ]);
    ctx.phone = await launchBrowser([secure, `--use-file-for-fake-audio-capture=${talk}`], ctx.net.wrap(CHROMIUM));
  });
  afterAll(async () => {
    await ctx.phone?.close();
    await ctx.court?.close();
    await ctx.server?.close();
    ctx.net?.remove();
  });

  it('sends only the small picture and its sound gets through; receives the small picture while a viewer on a good network gets the full one', async () => {
    const { server, net } = ctx;
    // The namespace reaches the web port and coturn's UDP port: nothing else, so every packet is relayed.
    net.onlyTo({ tcp: [Number(new URL(server.url).port)], udp: [turnPort] });
    const h = await createHearing(server, [
      { name: '王法官', role: 'judge' },
      { name: '张三', role: 'party' },
      { name: '旁听者', role: 'viewer' },
    ]);
    const [judge, party, viewer] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0], (typeof h.participants)[0]];
    for (const to of ['waiting_room', 'open']) await api(server)('POST', `/api/v1/hearings/${h.id}/transitions`, { to });
    const judgePage = await openJoin(ctx.court, judge.joinUrl);
    const viewerPage = await openJoin(ctx.court, viewer.joinUrl);
    const partyPage = await openJoin(ctx.phone, party.joinUrl, { phone: true });
    for (const [page, from] of [
      [judgePage, party.id],
      [partyPage, judge.id],
      [viewerPage, judge.id],
    ] as const)
      await waitForMediaFrom(page, from, 30_000);
    const paths = (await partyPage.evaluate(() => (window as any).hearingClient.paths())) as { local: string; relayProtocol: string }[];
    expect(paths.map((p) => `${p.local}/${p.relayProtocol}`)).toEqual(['relay/udp', 'relay/udp']);

    // The sound is lost with the camera's packets until the page steps its camera down for it: the bench is
    // told at once (提醒), and the record has it with the loss that decided it.
    await expect
      .poll(async () => (await partyPage.evaluate(() => (window as any).hearingClient.state().uplinkLevel)) as number, { timeout: 90_000 })
      .toBeGreaterThanOrEqual(1);
    await judgePage.getByRole('region', { name: '提醒' }).getByText('张三上行网络较差', { exact: false }).first().waitFor();
    const steps = server.hearings.events(h.id).filter((e) => e.action === 'media.uplink_reduced' && e.actor === party.id);
    expect(steps[0]?.detail).toMatchObject({ level: 1, from: 0 });
    expect((steps[0]?.detail as { soundLostPct: number }).soundLostPct).toBeGreaterThan(3);

    const room = server.plane.get(h.id)!;
    const camera = (pid: string) => room.producers().find((p) => p.participantId === pid && p.kind === 'video')!.producerId;
    const sentBy = (pid: string) => layers(room.producerOf(pid, camera(pid)));
    // The judge's camera as sent to each: mediasoup's current simulcast layer (1: 640x480, 0: 320x240,
    // none: nothing forwarded for now).
    const layersOf = (pid: string) => room.consumersOf(pid).find((c) => c.producerId === camera(judge.id))?.currentLayers;
    const layerOf = (pid: string) => layersOf(pid)?.spatialLayer;
    // The bandwidth estimates settle: the party is moved down while the viewer keeps the full picture.
    await until(
      'the party below the top layer while the viewer has it',
      () => layerOf(viewer.id) === 1 && (layerOf(party.id) ?? -1) < 1,
      60_000,
    );

    // Then 10 s: the party beside the judge (uplink) and the viewer (downlink) over the same seconds.
    const received = async () => ({
      partySound: await sound(judgePage, party.id),
      judgeSound: await sound(viewerPage, judge.id),
      judgeSoundAtParty: await sound(partyPage, judge.id),
      frames: (await stats(partyPage)).find((x) => x.participantId === judge.id && x.kind === 'video')!,
      // What the judge's camera sent on each layer: the baseline for the pictures the party gets (a busy
      // machine's Chromium lowers its camera's frame rate for the CPU: 36 pictures in 10 s at the party in
      // CI run 28, 95–197 here).
      judgeSent: Object.fromEntries(
        ((await judgePage.evaluate(() => (window as any).hearingClient.sent())) as { rid: string; framesSent: number }[]).map((l) => [
          l.rid,
          l.framesSent,
        ]),
      ) as Record<string, number>,
    });
    type Sample = {
      party?: number;
      partyTemporal?: number;
      viewer?: number;
      partySent: Record<string, number>;
      judgeSent: Record<string, number>;
    };
    const uplinkSteps = () =>
      server.hearings.events(h.id).filter((e) => e.action === 'media.uplink_reduced' && e.actor === party.id).length;
    /** 10 s, sampled each second; whether the party's camera stepped down meanwhile (the window then judges two levels). */
    const window = async () => {
      const stepsBefore = uplinkSteps();
      const before = await received();
      const samples: Sample[] = [];
      for (let i = 0; i < 10; i++) {
        samples.push({
          party: layerOf(party.id),
          partyTemporal: layersOf(party.id)?.temporalLayer,
          viewer: layerOf(viewer.id),
          partySent: await sentBy(party.id),
          judgeSent: await sentBy(judge.id),
        });
        await sleep(1000);
      }
      return { before, samples, after: await received(), stepped: uplinkSteps() > stepsBefore };
    };
    // The window judged is one the camera did not step down in: a step during it (the level-1 losses
    // still counted, CI run 68) is waited out, at most twice.
    let measured = await window();
    for (let i = 0; i < 2 && measured.stepped; i++) measured = await window();
    const { before, samples, after } = measured;
    const packets = after.partySound.packets - before.partySound.packets;
    const baselinePackets = after.judgeSound.packets - before.judgeSound.packets;
    const concealed =
      (after.partySound.concealed - before.partySound.concealed) / Math.max(1, after.partySound.samples - before.partySound.samples);
    const mean = (k: 'partySent' | 'judgeSent', rid: string) => samples.reduce((a, x) => a + (x[k][rid] ?? 0), 0) / samples.length;
    const [partyR0, partyR1, judgeR1] = [mean('partySent', 'r0'), mean('partySent', 'r1'), mean('judgeSent', 'r1')];
    const frames = after.frames.framesDecoded - before.frames.framesDecoded;
    const freezes = after.frames.freezeCount - before.frames.freezeCount;
    const judgeFrames = (rid: string) => (after.judgeSent[rid] ?? 0) - (before.judgeSent[rid] ?? 0);
    const concealedAtParty =
      (after.judgeSoundAtParty.concealed - before.judgeSoundAtParty.concealed) /
      Math.max(1, after.judgeSoundAtParty.samples - before.judgeSoundAtParty.samples);
    const lostAtParty = after.judgeSoundAtParty.lost - before.judgeSoundAtParty.lost;
    const packetsAtParty = after.judgeSoundAtParty.packets - before.judgeSoundAtParty.packets;
    const lossAtParty = lostAtParty / Math.max(1, lostAtParty + packetsAtParty);
    console.log(
      `${CAP_KBPS} kbit/s: the party sends 320x240 at ${partyR0.toFixed(0)} and 640x480 at ${partyR1.toFixed(0)} kbit/s ` +
        `(the judge 640x480 at ${judgeR1.toFixed(0)}); the judge's sound at the party ${(concealedAtParty * 100).toFixed(1)} % concealed (${lostAtParty} of ${packetsAtParty} packets lost); the party's sound: ${packets} packets in 10 s (the judge's to the viewer: ` +
        `${baselinePackets}), ${after.partySound.lost - before.partySound.lost} lost, ${(concealed * 100).toFixed(1)} % concealed; ` +
        `the judge's camera reaches the party at layers ${JSON.stringify(samples.map((x) => (x.party === undefined ? null : `${x.party}.${x.partyTemporal}`)))} ` +
        `(${frames} pictures, ${freezes} freezes; the judge sent ${judgeFrames('r0')} small and ${judgeFrames('r1')} full ones), ` +
        `the viewer at ${JSON.stringify(samples.map((x) => x.viewer ?? null))}; ` +
        `cameras the party asked for small: ${await partyPage.evaluate(() => (window as any).hearingClient.state().downlinkReduced)}; ` +
        JSON.stringify(
          server.hearings
            .events(h.id)
            .filter((e) => e.action.startsWith('media.uplink'))
            .map((e) => [e.action, e.detail]),
        ),
    );
    // The sound gets through once the camera stepped down for it: 0.5 % concealed (FEC) in the run of
    // 2026-11-27; with the step undone (the page ignoring the server) 8.4 %, as before the step existed
    // (2.7–12.7 % in the runs of 2026-11-26).
    expect(baselinePackets).toBeGreaterThan(100);
    expect(packets).toBeGreaterThan(baselinePackets * 0.8);
    expect(concealed).toBeLessThan(0.05);
    // The camera: the small picture goes out, the full one does not fit (the judge's does), all under the cap.
    expect(partyR0).toBeGreaterThan(20);
    expect(partyR1).toBeLessThan(30);
    expect(judgeR1).toBeGreaterThan(150);
    expect(partyR0 + partyR1).toBeLessThan(CAP_KBPS);
    // Downlink, judged by what the party gets, not by which layer: the judge's sound through (it shares the
    // capped path with the picture) and pictures coming. mediasoup's own estimate does not see a cap that
    // drops, so the party's page asks for the small layer once it loses much of the full one
    // (`downlinkReduced`); when the judge's full layer is thin enough to fit (a still scene), the party may
    // keep it without losing anything (4 of 10 seconds in clean-clone run 50, the page asking nothing),
    // which a check of the layer alone called a failure. Judged by the packets the downlink lost, not by
    // what the party's player concealed: a busy machine's Chromium conceals for late playout too (5.7 %
    // concealed with none of 393 packets lost, 2026-11-28).
    expect(lossAtParty).toBeLessThan(0.03);
    // Pictures: most of what the judge's camera sent on the layers mediasoup forwarded to the party in those
    // seconds (spatial and temporal: each of the three temporal layers halves the frame rate below it).
    const offered = samples.reduce(
      (a, x) => (x.party === undefined ? a : a + judgeFrames(`r${x.party}`) / 10 / 2 ** (2 - (x.partyTemporal ?? 2))),
      0,
    );
    // mediasoup never stopped the picture for the party (a layer every second), and it got most of it.
    expect(samples.map((x) => x.party !== undefined)).toEqual(samples.map(() => true));
    expect(judgeFrames('r0')).toBeGreaterThan(20);
    expect(frames).toBeGreaterThan(offered * 0.7);
    // Whenever the party had the full layer, it fitted: the judge sent it under the cap with room for sound.
    for (const x of samples.filter((x) => x.party === 1)) expect(x.judgeSent.r1 ?? 0).toBeLessThan(CAP_KBPS - 40);
    // The viewer's own estimate moves it between the layers on a busy machine (4 of 10 seconds at the full
    // one in CI run 27, 10 of 10 here): it has the full picture for a good part of the time.
    expect(samples.filter((x) => x.viewer === 1).length).toBeGreaterThanOrEqual(3);
    for (const page of [judgePage, viewerPage, partyPage]) await page.context().close();
  }, 150_000);
});
