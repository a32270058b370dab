import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { api, createHearing, withServer } from './helpers/server.ts';
import { enroll, face, PEOPLE } from './helpers/faces.ts';
import { photoAsFrame } from '../workers/identity/face-frame.ts';
import { descriptorDistance, detectCloseUp, loadFaceEngine } from '../workers/identity/face-engine.ts';
import { DEFAULT_THRESHOLDS } from '../server/identity/rule.ts';

describe('face identity: enrollment', () => {
  const ctx = withServer();

  it('stores the descriptor of a one-face photo; refuses no face, two faces, non-images and oversized files, storing nothing', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Party Li', role: 'party' },
      { name: 'Party Zhao', role: 'party' },
    ]);
    const [li, zhao] = participants as [(typeof participants)[0], (typeof participants)[0]];

    const good = await enroll(server, id, li.id, face('amy1'));
    expect(good.status, JSON.stringify(good.body)).toBe(201);
    expect(good.body).toMatchObject({
      status: 'pending',
      photoSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      model: expect.stringContaining('face-api'),
    });
    const hearing = (await call('GET', `/api/v1/hearings/${id}`)).body;
    expect(hearing.participants.find((p: any) => p.id === li.id).identity).toEqual({ status: 'pending', distance: null, checkedAt: null });
    // The photo itself is not kept: only the descriptor (and the photo's hash, in the log).
    const row = server.store.identities(id).find((r) => r.participantId === li.id)!;
    expect(row.descriptor?.length).toBe(128 * 4);
    expect(JSON.stringify(server.store.auditLog(id))).not.toContain(row.descriptor!.toString('base64').slice(0, 24));

    const blank = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#7a8a9a' } })
      .png()
      .toBuffer();
    const two = await sharp({ create: { width: 300, height: 150, channels: 3, background: '#808080' } })
      .composite([
        { input: face('amy1'), left: 0, top: 0 },
        { input: face('howard1'), left: 150, top: 0 },
      ])
      .png()
      .toBuffer();
    const huge = Buffer.alloc(5 * 1024 * 1024 + 10, 0xff);
    for (const [what, data, status, code] of [
      ['no face', blank, 422, 'no_face'],
      ['two faces', two, 422, 'several_faces'],
      ['not an image', Buffer.from('this is not an image at all'), 415, 'not_an_image'],
      ['too large', huge, 413, 'image_too_large'],
      ['no file', null, 400, 'no_photo'],
    ] as const) {
      const r = await enroll(server, id, zhao.id, data);
      expect(r.status, what).toBe(status);
      expect(r.body.error.code, what).toBe(code);
    }
    expect(server.store.identities(id).find((r) => r.participantId === zhao.id)).toBeUndefined();
    expect((await call('GET', `/api/v1/hearings/${id}/participants/${zhao.id}/identity`)).body.status).toBe('unenrolled');
    // Unknown participant, malformed id: clear 4xx.
    expect((await enroll(server, id, '00000000-0000-4000-8000-000000000000', face('amy1'))).status).toBe(404);
    expect((await call('GET', `/api/v1/hearings/${id}/participants/not-a-uuid/identity`)).status).toBe(400);
  });

  it('a tight crop enrolls (its face found in a smaller framing), and matches that person, not the others', async () => {
    const { server } = ctx;
    const { id, participants } = await createHearing(server, [{ name: 'Party Li', role: 'party' }]);
    // amy1 cut to its central 80 % (a cropped ID photo): framed at 320 or 480 as before, no face is found.
    const tight = await sharp(face('amy1')).extract({ left: 15, top: 15, width: 120, height: 120 }).png().toBuffer();
    for (const fit of [320, 480]) {
      const frame = await photoAsFrame(tight, fit);
      expect(await server.faceChecker.describe(frame.rgb, frame.width, frame.height), `framed at ${fit}`).toHaveLength(0);
    }
    const r = await enroll(server, id, participants[0]!.id, tight);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const row = server.store.identities(id)[0]!;
    const reference = [...new Float32Array(row.descriptor!.buffer, row.descriptor!.byteOffset, 128)];
    const distanceTo = async (name: string) => {
      const frame = await photoAsFrame(face(name));
      return descriptorDistance(reference, (await server.faceChecker.describe(frame.rgb, frame.width, frame.height))[0]!.descriptor);
    };
    const same = await Promise.all([2, 3, 4, 5].map((i) => distanceTo(`amy${i}`)));
    const others = await Promise.all(['howard1', 'howard2', 'leonard1', 'leonard2'].map(distanceTo));
    console.log(`tight crop of amy1: to amy2-5 ${same.map((d) => d.toFixed(2))}, to others ${others.map((d) => d.toFixed(2))}`);
    expect(Math.max(...same)).toBeLessThan(Math.min(...others));
    expect(others.every((d) => d >= DEFAULT_THRESHOLDS.reject)).toBe(true);
  });

  it('a face filling the camera frame (a phone held close) is found shrunk, its box in the frame', async () => {
    const engine = await loadFaceEngine();
    let found = 0;
    for (const name of ['amy1', 'howard1', 'leonard2']) {
      // The photo covering the whole 640x480 frame.
      const { data } = await sharp(face(name)).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
      expect(await engine.detect(rgb, 640, 480), `${name} as it is`).toHaveLength(0);
      const faces = await detectCloseUp(engine, rgb, 640, 480);
      if (faces.length !== 1) continue;
      found++;
      // Mapped back: a face as wide as a good part of the frame, inside it.
      const { x, width } = faces[0]!.box;
      expect(width, name).toBeGreaterThan(250);
      expect(x, name).toBeGreaterThan(-50);
      expect(x + width, name).toBeLessThan(690);
      expect(
        faces[0]!.keypoints.every((v, i) => v > 0 && v < (i % 2 ? 480 : 640)),
        `${name} key points`,
      ).toBe(true);
    }
    expect(found).toBe(3);
  });

  it('no false accept at the configured threshold over every pair of fixture photos', async () => {
    const checker = ctx.server.faceChecker;
    const descriptors = new Map<string, number[]>();
    for (const person of PEOPLE) {
      for (let i = 1; i <= 5; i++) {
        const frame = await photoAsFrame(face(`${person}${i}`));
        const faces = await checker.describe(frame.rgb, frame.width, frame.height);
        expect(faces, `${person}${i}`).toHaveLength(1);
        descriptors.set(`${person}${i}`, faces[0]!.descriptor);
      }
    }
    const genuine: number[] = [];
    const impostor: number[] = [];
    const names = [...descriptors.keys()];
    for (let a = 0; a < names.length; a++) {
      for (let b = a + 1; b < names.length; b++) {
        const d = descriptorDistance(descriptors.get(names[a]!)!, descriptors.get(names[b]!)!);
        (names[a]!.replace(/\d/, '') === names[b]!.replace(/\d/, '') ? genuine : impostor).push(d);
      }
    }
    const round = (v: number): number => Number(v.toFixed(3));
    console.log(
      `genuine ${genuine.length} pairs: ${round(Math.min(...genuine))}–${round(Math.max(...genuine))}; impostor ${impostor.length}: ${round(Math.min(...impostor))}–${round(Math.max(...impostor))}`,
    );
    expect(genuine).toHaveLength(30);
    expect(impostor).toHaveLength(75);
    expect(
      impostor.filter((d) => d <= DEFAULT_THRESHOLDS.accept),
      'false accepts',
    ).toEqual([]);
    // And the rule is not vacuous: most genuine pairs are accepted.
    expect(genuine.filter((d) => d <= DEFAULT_THRESHOLDS.accept).length).toBeGreaterThan(genuine.length / 2);
  });
});
