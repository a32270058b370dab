import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HearingServer } from '../server/app/server.ts';
import { api, createHearing, startTestServer, NO_ASR } from './helpers/server.ts';
import { launchBrowser, openJoin } from './helpers/browser.ts';
import { enroll, face, fakeCamera } from './helpers/faces.ts';
import { until } from './helpers/wait.ts';
import { refusal } from './helpers/socket.ts';

describe('face identity on the live video track', () => {
  let server: HearingServer;
  let amyCamera: Browser;
  let howardCamera: Browser;
  beforeAll(async () => {
    server = await startTestServer(NO_ASR);
    Object.assign(server.config.identity, { watchSampleMs: 1000, absentSeconds: 10 });
    amyCamera = await launchBrowser([`--use-file-for-fake-video-capture=${fakeCamera('amy2')}`]);
    howardCamera = await launchBrowser([`--use-file-for-fake-video-capture=${fakeCamera('howard2')}`]);
  });
  afterAll(async () => {
    await amyCamera?.close();
    await howardCamera?.close();
    await server?.close();
  });

  it('verifies the right person, rejects an impostor, gates opening, and catches a camera switched to someone else', async () => {
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Judge Wang', role: 'judge' },
      { name: 'Amy (party)', role: 'party' },
      { name: 'Claims to be Amy', role: 'party' },
    ]);
    const [judge, amy, impostor] = participants as [(typeof participants)[0], (typeof participants)[0], (typeof participants)[0]];
    // Both enrolled with Amy's ID photo; one camera shows Amy (another photo of her), the other Howard.
    expect((await enroll(server, id, amy.id, face('amy1'))).status).toBe(201);
    expect((await enroll(server, id, impostor.id, face('amy1'))).status).toBe(201);
    expect((await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'waiting_room' })).status).toBe(200);

    const identityOf = async (pid: string): Promise<{ status: string; distance: number | null }> =>
      (await call('GET', `/api/v1/hearings/${id}`)).body.participants.find((x: any) => x.id === pid).identity;
    /** Every identity check of a participant, as the hearing's log has them (one event per finished check). */
    const alertOf = (pid: string, kind: string) =>
      server.store.auditLog(id).find((e) => e.action === 'identity.alert' && e.detail.participantId === pid && e.detail.kind === kind);
    const checksOf = (pid: string) =>
      server.store.auditLog(id).filter((e) => e.action === 'identity.checked' && e.detail.participantId === pid);
    const judgePage = await openJoin(amyCamera, judge.joinUrl);
    const amyPage = await openJoin(amyCamera, amy.joinUrl);
    const impostorPage = await openJoin(howardCamera, impostor.joinUrl);

    const amyChecked = await until('Amy checked from her live camera', () => checksOf(amy.id)[0], 45_000);
    const impostorChecked = await until('the impostor checked', () => checksOf(impostor.id)[0], 45_000);
    console.log(`live check: Amy ${amyChecked.detail.distance}, impostor ${impostorChecked.detail.distance}`);
    expect(amyChecked.detail).toMatchObject({ result: 'verified', trigger: 'camera_started' });
    expect(amyChecked.detail.distance).toBeLessThanOrEqual(server.config.identity.accept);
    expect(impostorChecked.detail).toMatchObject({ result: 'rejected' });
    expect(impostorChecked.detail.distance).toBeGreaterThanOrEqual(server.config.identity.reject);
    expect(await identityOf(amy.id)).toMatchObject({ status: 'verified', distance: amyChecked.detail.distance });

    // The judge sees both results, with the captured frame.
    await until(
      'judge got identity results',
      async () => Object.keys(await judgePage.evaluate(() => (window as any).hearingClient.identities())).length >= 2,
      10_000,
    );
    const shown = await judgePage.evaluate(() => (window as any).hearingClient.identities());
    expect(shown[impostor.id]).toMatchObject({ status: 'rejected', frame: expect.stringMatching(/^data:image\/jpeg;base64,/) });
    const frame = await fetch(`${server.url}/api/v1/hearings/${id}/participants/${amy.id}/identity/frame`, {
      headers: { authorization: `Bearer ${server.secrets.apiKey}` },
    });
    expect(frame.headers.get('content-type')).toContain('image/jpeg');
    expect((await sharp(Buffer.from(await frame.arrayBuffer())).metadata()).width).toBe(320);

    // The hearing cannot open while a party present is not verified; the judge refuses the impostor.
    const blocked = await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'open' });
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.code).toBe('identity_unverified');
    const partyTries = await impostorPage.evaluate(
      (pid) => (window as any).hearingClient.request('identityDecision', { participantId: pid, decision: 'admit', reason: 'me' }),
      impostor.id,
    );
    expect(partyTries.error.code).toBe('forbidden');
    const refused = await judgePage.evaluate(
      (pid) =>
        (window as any).hearingClient.request('identityDecision', {
          participantId: pid,
          decision: 'refuse',
          reason: 'face does not match the ID photo',
        }),
      impostor.id,
    );
    expect(refused.result.status).toBe('rejected');
    await until(
      'impostor removed',
      async () => (await impostorPage.evaluate(() => (window as any).hearingClient.state().connected)) === false,
      10_000,
    );
    // Refused means out: the impostor's link no longer connects.
    expect(await refusal(server.url, impostor.token)).toMatchObject({ code: 'identity_refused' });
    // No check of the impostor ever verified them.
    expect(checksOf(impostor.id).map((e) => e.detail.result)).not.toContain('verified');
    expect((await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'open' })).status).toBe(200);

    // Amy's phone switches to a camera showing someone else: an alert, and a line in the record.
    const leonard = await sharp(face('leonard2'))
      .resize(320, 320)
      .extend({ top: 80, bottom: 80, left: 160, right: 160, background: '#808080' })
      .png()
      .toBuffer();
    /** Amy's phone camera shows `png` (or nothing but a grey wall): a canvas track, switched to once. */
    const showOnCamera = (png: Buffer | null) =>
      amyPage.evaluate(
        async (data) => {
          const w = window as any;
          let img: HTMLImageElement | null = null;
          if (data) {
            img = new Image();
            img.src = `data:image/png;base64,${data}`;
            await img.decode();
          }
          if (w.fakeCamera) {
            w.fakeCamera.img = img;
            return 'shown';
          }
          w.fakeCamera = { img };
          const canvas = Object.assign(document.createElement('canvas'), { width: 640, height: 480 });
          const g = canvas.getContext('2d')!;
          const draw = () => {
            if (w.fakeCamera.img) g.drawImage(w.fakeCamera.img, 0, 0);
            else {
              g.fillStyle = '#808080';
              g.fillRect(0, 0, 640, 480);
            }
          };
          draw();
          setInterval(draw, 100);
          return w.hearingClient.switchCamera(canvas.captureStream(10).getVideoTracks()[0]);
        },
        png?.toString('base64') ?? null,
      );
    const switched = await showOnCamera(leonard);
    expect(switched).toBe('switched');
    const alerted = await until('mismatch alert', () => alertOf(amy.id, 'mismatch'), 40_000);
    expect(alerted!.detail.distance).toBeGreaterThanOrEqual(server.config.identity.reject);
    await until('a re-check rejects the new face', () => checksOf(amy.id).find((e) => e.detail.result === 'rejected'), 40_000);
    expect(await identityOf(amy.id)).toMatchObject({ status: 'rejected' });

    // Then nobody is in front of the camera: after absentSeconds an alert; a face again ends it.
    const emptyFrom = Date.now();
    expect(await showOnCamera(null)).toBe('shown');
    const absent = await until('the absence alert', () => alertOf(amy.id, 'no_face'), 40_000);
    expect(Date.parse(absent.at) - emptyFrom).toBeGreaterThanOrEqual(server.config.identity.absentSeconds * 1000);
    expect(absent.detail.seconds).toBeGreaterThanOrEqual(server.config.identity.absentSeconds);
    const amyAgain = await sharp(face('amy2'))
      .resize(320, 320)
      .extend({ top: 80, bottom: 80, left: 160, right: 160, background: '#808080' })
      .png()
      .toBuffer();
    expect(await showOnCamera(amyAgain)).toBe('shown');
    const back = await until(
      'the face back',
      () => server.store.auditLog(id).find((e) => e.action === 'identity.face_back' && e.detail.participantId === amy.id),
      30_000,
    );
    expect(back.seq).toBeGreaterThan(absent.seq);
    const manifest = fs.readFileSync(path.join(server.recorder.dirOf(id), 'manifest.jsonl'), 'utf8');
    const lines = manifest
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const alertLine = lines.find((l) => l.event === 'identity.alert' && l.kind === 'mismatch' && l.participantId === amy.id);
    expect(alertLine).toMatchObject({ participantId: amy.id, actor: 'system' });
    // Every check is in the record, the waiting-room ones too (written when the record began).
    const checks = lines.filter((l) => l.event === 'identity.checked');
    expect(checks.find((l) => l.participantId === amy.id && l.beforeRecord)).toMatchObject({
      result: 'verified',
      model: expect.stringContaining('face-api'),
    });
    expect(checks.find((l) => l.participantId === impostor.id && l.beforeRecord)).toMatchObject({ result: 'rejected' });
    expect(lines.find((l) => l.event === 'identity.decided' && l.participantId === impostor.id)).toMatchObject({
      decision: 'refuse',
      beforeRecord: true,
    });
    expect(checks.find((l) => l.participantId === amy.id && !l.beforeRecord)).toMatchObject({ result: 'rejected' });
    expect(manifest).not.toMatch(/descriptor/);

    // At close the reference descriptors are deleted.
    expect((await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'closed' })).status).toBe(200);
    await until('descriptors deleted', () => server.store.identities(id).every((r) => r.descriptor === null), 10_000);
    expect(server.store.auditLog(id).some((e) => e.action === 'identity.references_deleted')).toBe(true);
  }, 180_000);
});
