import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { api, openHearing } from './helpers/server.ts';
import { openJoin, stats, withLiveCourt } from './helpers/browser.ts';
import { magentaPixels } from './helpers/frames.ts';
import { sleep, until } from './helpers/wait.ts';
import { consultationRoomKey } from '../workers/media/plane.ts';
import { newestSegment, withStreamLog } from './helpers/live.ts';
import { RECORDER_PEER } from '../workers/record/hearing-recording.ts';
import { TRANSCRIBER_PEER } from '../workers/transcript/transcriber.ts';
import { LIVE_PEER } from '../workers/livestream/program.ts';

describe('consultation rooms', () => {
  const ctx = withLiveCourt();

  it('a party and a lawyer consult privately: the court, the record, the transcript and the stream get nothing of it', async () => {
    const { server } = ctx;
    const call = api(server);
    // Every consumer created in any room from now on, by whom and of what: what the recorder,
    // transcriber, face checker and program really consumed, not what they say they hold.
    const consumed: { room: string; peer: string; producerId: string }[] = [];
    server.plane.on('roomOpened', (room) => {
      room.router.observer.on('newtransport', (transport) => {
        transport.observer.on('newconsumer', (consumer) =>
          consumed.push({ room: room.hearingId, peer: String(transport.appData.participantId), producerId: consumer.producerId }),
        );
      });
    });
    const h = await openHearing(
      server,
      [
        { name: 'Judge Wang', role: 'judge' },
        { name: 'Party Li', role: 'party' },
        { name: 'Lawyer Zhao', role: 'lawyer' },
      ],
      { streamable: true },
    );
    const [judge, party, lawyer] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0], (typeof h.participants)[0]];
    // The court platform says whom the lawyer represents: the only party they may consult.
    expect((await call('PUT', `/api/v1/hearings/${h.id}/participants/${lawyer.id}/represents`, { represents: [party.id] })).status).toBe(
      200,
    );
    const judgePage = await openJoin(ctx.court, judge.joinUrl);
    const lawyerPage = await openJoin(ctx.court, lawyer.joinUrl);
    const partyPage = await openJoin(ctx.party, party.joinUrl);
    const client = (page: Page, fn: string, ...args: unknown[]) =>
      page.evaluate(([f, a]) => (window as any).hearingClient[f as string](...(a as unknown[])), [fn, args] as const);
    await client(judgePage, 'request', 'stream', { action: 'approve' });
    await client(judgePage, 'request', 'stream', { action: 'start' });
    // Before: the party's (magenta) camera is in the courtroom program.
    const before = await until(
      'a program segment with the party',
      async () => {
        const segment = await newestSegment(server, h.id);
        return segment && magentaPixels(segment.file) > 1000 ? segment : undefined;
      },
      90_000,
    ).catch(withStreamLog(server, h.id));
    expect(before).toBeTruthy();
    const partyCourtroom = new Set(
      server.plane
        .get(h.id)!
        .producers()
        .filter((p) => p.participantId === party.id)
        .map((p) => p.producerId),
    );
    expect(partyCourtroom.size).toBe(2);

    // Roles: the judge cannot open a consultation; two lawyers or a party with the judge are refused.
    expect((await client(judgePage, 'request', 'openConsultation', { with: party.id })).error.code).toBe('forbidden');
    expect((await client(partyPage, 'request', 'openConsultation', { with: judge.id })).error.code).toBe('forbidden');

    // The party asks; nothing opens until the lawyer accepts.
    await partyPage.getByRole('button', { name: '申请与Lawyer Zhao私下沟通' }).click();
    await lawyerPage.getByRole('status').filter({ hasText: 'Party Li请求与您私下沟通' }).waitFor();
    const asked = server.store.auditLog(h.id).filter((e) => e.action.startsWith('consultation.'));
    expect(asked.map((e) => [e.action, e.actor])).toEqual([['consultation.requested', party.id]]);
    expect(server.plane.get(consultationRoomKey(asked[0]!.detail.consultationId as string))).toBeUndefined();
    expect(await client(partyPage, 'consultationId')).toBeNull();
    await lawyerPage.getByRole('button', { name: '同意与Party Li沟通' }).click();
    const consultationId = (await until('the party in the consultation', () => client(partyPage, 'consultationId'), 20_000)) as string;
    expect(consultationId).toMatch(/^[0-9a-f-]{36}$/);
    const startedAt = Date.now();
    // The lawyer receives the party's consultation audio and video.
    await until(
      'consultation media at the lawyer',
      async () => {
        const s = await client(lawyerPage, 'consultationStats');
        return (
          s.some((x: any) => x.participantId === party.id && x.kind === 'video' && x.framesDecoded > 10) &&
          s.some((x: any) => x.participantId === party.id && x.kind === 'audio' && x.packetsReceived > 20)
        );
      },
      30_000,
    );

    // The judge receives nothing new from the party (their courtroom producers are paused) and was never
    // told of the consultation producers.
    const judgeAudio = async () => (await stats(judgePage)).filter((s) => s.participantId === party.id && s.kind === 'audio');
    await sleep(1500);
    const a0 = await judgeAudio();
    await sleep(2000);
    const a1 = await judgeAudio();
    expect(a0).toHaveLength(1);
    expect(a1[0]!.packetsReceived).toBe(a0[0]!.packetsReceived);
    const consultationProducers = server.plane.get(consultationRoomKey(consultationId))!.producers();
    expect(consultationProducers.map((p) => p.kind).sort()).toEqual(['audio', 'audio', 'video', 'video']);
    // Even knowing a consultation producer's id, the court cannot consume it or enter the room.
    const probe = await client(judgePage, 'request', 'createTransport', { direction: 'recv', consultationId });
    expect(probe.error.code).toBe('not_found');

    // The stream: a program made after the consultation began has no magenta at all.
    const during = await until(
      'a program segment made during the consultation',
      () => newestSegment(server, h.id, startedAt + 2500),
      60_000,
    ).catch(withStreamLog(server, h.id));
    expect(magentaPixels(during.file)).toBe(0);

    await lawyerPage.getByRole('button', { name: '结束私下沟通' }).click();
    await until(
      'the party is back in the courtroom',
      async () => (await judgeAudio())[0]!.packetsReceived > a1[0]!.packetsReceived + 20,
      20_000,
    );
    expect(server.plane.get(consultationRoomKey(consultationId))).toBeUndefined();

    // Record and transcript: the consultation is an event (who, when), its media nowhere.
    expect((await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'closed' })).status).toBe(200);
    const manifest = fs.readFileSync(path.join(server.recorder.dirOf(h.id), 'manifest.jsonl'), 'utf8');
    expect(manifest).toContain('"event":"consultation.opened"');
    expect(manifest).toContain('"event":"consultation.closed"');
    for (const p of consultationProducers) expect(manifest, p.producerId).not.toContain(p.producerId);
    // The taps did consume the party's courtroom media (so this observer sees them) ...
    for (const peer of [RECORDER_PEER, TRANSCRIBER_PEER, LIVE_PEER]) {
      expect(
        consumed.some((c) => c.room === h.id && c.peer === peer && partyCourtroom.has(c.producerId)),
        `${peer} consumed the party's courtroom media`,
      ).toBe(true);
    }
    // ... and nothing of the consultation: in its room only its two members consumed, each the other's
    // media, and no consultation producer was consumed anywhere else.
    const inConsultation = consumed.filter((c) => c.room === consultationRoomKey(consultationId));
    expect(new Set(inConsultation.map((c) => c.peer))).toEqual(new Set([party.id, lawyer.id]));
    const consultationIds = new Set(consultationProducers.map((p) => p.producerId));
    expect(consumed.filter((c) => consultationIds.has(c.producerId) && c.room !== consultationRoomKey(consultationId))).toEqual([]);
    expect(inConsultation.filter((c) => !consultationIds.has(c.producerId))).toEqual([]);
  }, 150_000);
});
