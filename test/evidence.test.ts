import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { api, createHearing, uploadEvidence, withServer } from './helpers/server.ts';
import { connect, request } from './helpers/socket.ts';
import { until } from './helpers/wait.ts';

const FACES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/fixtures/faces');

const upload = uploadEvidence;

describe('evidence photos', () => {
  const ctx = withServer();

  it('accepts real photos stripped of EXIF with a thumbnail; refuses everything else and writes nothing for it', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Party Li', role: 'party' },
      { name: 'Clerk Zhou', role: 'clerk' },
      { name: 'Observer', role: 'viewer' },
    ]);
    const [party, clerk, viewer] = participants as [(typeof participants)[0], (typeof participants)[0], (typeof participants)[0]];
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'waiting_room' });
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'open' });

    // A real photo carrying EXIF (as a phone camera would write it).
    const face = fs.readFileSync(path.join(FACES, 'amy1.png'));
    const withExif = await sharp(face)
      .resize(600)
      .withMetadata({ exif: { IFD0: { Copyright: 'GPS 39.9N 116.4E', Make: 'PhoneCam' } } })
      .jpeg()
      .toBuffer();
    expect((await sharp(withExif).metadata()).exif).toBeDefined();
    const ok = await upload(server, id, party.token, withExif, 'contract-page.jpg');
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ uploadedBy: party.id, originalName: 'contract-page.jpg', width: 600, height: 600 });
    const stored = await fetch(`${server.url}/api/v1/hearings/${id}/evidence/${ok.body.id}`, {
      headers: { authorization: `Bearer ${clerk.token}` },
    });
    const storedBytes = Buffer.from(await stored.arrayBuffer());
    const meta = await sharp(storedBytes).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.exif).toBeUndefined();
    const thumb = await fetch(`${server.url}/api/v1/hearings/${id}/evidence/${ok.body.id}?thumb=1`, {
      headers: { authorization: `Bearer ${server.secrets.apiKey}` },
    });
    const thumbMeta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect(Math.max(thumbMeta.width!, thumbMeta.height!)).toBeLessThanOrEqual(320);
    const byApi = await upload(server, id, server.secrets.apiKey, fs.readFileSync(path.join(FACES, 'howard2.png')), 'id-card.png');
    expect(byApi.status).toBe(201);
    expect(byApi.body.uploadedBy).toBe('api');

    const huge = await sharp({ create: { width: 8000, height: 6000, channels: 3, background: { r: 0, g: 0, b: 0 } } })
      .png()
      .toBuffer();
    const truncatedPng = face.subarray(0, Math.floor(face.length / 2));
    // One after another: a participant uploads one photo at a time.
    const refusals: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
      ['text', () => upload(server, id, party.token, Buffer.from('this is not a photo')), 415, 'not_an_image'],
      ['truncated', () => upload(server, id, party.token, truncatedPng, 'half.png'), 422, 'corrupt_image'],
      ['too many pixels', () => upload(server, id, party.token, huge, 'huge.png'), 413, 'image_too_large'],
      ['too many bytes', () => upload(server, id, party.token, Buffer.alloc(11 * 1024 * 1024, 1), 'big.jpg'), 413, 'image_too_large'],
      ['no file', () => upload(server, id, party.token, null), 400, 'no_photo'],
      ['viewer', () => upload(server, id, viewer.token, withExif), 403, 'forbidden'],
      ['no auth', () => upload(server, id, null, withExif), 401, 'unauthorized'],
    ];
    for (const [what, pending, status, code] of refusals) {
      const r = await pending();
      expect(r.status, what).toBe(status);
      expect(r.body.error.code, what).toBe(code);
      expect(r.body.error.message.length).toBeGreaterThan(0);
    }
    const other = await createHearing(server, [{ name: 'Q', role: 'party' }]);
    expect((await upload(server, id, other.participants[0]!.token, withExif)).status).toBe(403);

    // Only the two accepted photos (and their thumbnails) exist.
    const list = (await call('GET', `/api/v1/hearings/${id}/evidence`)).body.evidence;
    expect(list.map((e: any) => e.id).sort()).toEqual([ok.body.id, byApi.body.id].sort());
    const files = fs.readdirSync(path.join(server.recorder.dirOf(id), 'evidence')).sort();
    expect(files).toEqual([`${ok.body.id}.jpg`, `${ok.body.id}.thumb.jpg`, `${byApi.body.id}.jpg`, `${byApi.body.id}.thumb.jpg`].sort());

    // The clerk pastes a photo into the transcript; the record lists the photo by hash.
    const segment = server.transcripts.addRecognized({
      hearingId: id,
      participantId: party.id,
      producerId: 'p',
      start: new Date().toISOString(),
      end: new Date().toISOString(),
      text: 'here is the contract',
      confidence: 1,
      engine: 'pocketsphinx',
      language: 'en',
    });
    const clerkSocket = await connect(server.url, clerk.token);
    const placed = await request(clerkSocket, 'placeEvidence', { evidenceId: ok.body.id, afterSegmentId: segment.id });
    expect(placed.evidence.afterSegmentId).toBe(segment.id);
    const partySocket = await connect(server.url, party.token);
    expect((await request(partySocket, 'placeEvidence', { evidenceId: ok.body.id, afterSegmentId: segment.id })).error.code).toBe(
      'forbidden',
    );
    const transcript = (await call('GET', `/api/v1/hearings/${id}/transcript`)).body;
    expect(transcript.evidence.map((e: any) => e.id)).toEqual([ok.body.id]);
    const html = await fetch(`${server.url}/api/v1/hearings/${id}/transcript?format=html`, {
      headers: { authorization: `Bearer ${server.secrets.apiKey}` },
    }).then((r) => r.text());
    expect(html).toContain('src="data:image/jpeg;base64,');
    expect(html).toContain(`SHA-256 ${ok.body.sha256}`);
    // Record lines are written in order after the log entry: wait for the last one.
    const manifest = await until('evidence.placed in the record', () => {
      const text = fs.readFileSync(path.join(server.recorder.dirOf(id), 'manifest.jsonl'), 'utf8');
      return text.includes('"event":"evidence.placed"') && text;
    });
    expect(manifest).toContain(`"sha256":"${ok.body.sha256}"`);
    expect(manifest).toContain('"event":"evidence.placed"');
    clerkSocket.close();
    partySocket.close();
  });
});
