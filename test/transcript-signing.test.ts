import fs from 'node:fs';
import path from 'node:path';
import { createHash, webcrypto } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { api, createHearing, withServer } from './helpers/server.ts';
import { connect, request } from './helpers/socket.ts';
import { until } from './helpers/wait.ts';

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** A participant's device: its own key pair, as the browser client makes one with WebCrypto. */
async function device() {
  const keys = await webcrypto.subtle.generateKey(ECDSA, false, ['sign', 'verify']);
  const publicKey = await webcrypto.subtle.exportKey('jwk', keys.publicKey);
  const sign = async (message: string) =>
    Buffer.from(
      await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, new TextEncoder().encode(message)),
    ).toString('base64');
  return { publicKey, sign };
}

describe("signing the transcript on the participants' devices", () => {
  const ctx = withServer();

  it('a signature over the frozen digest verifies; after an edit it shows as invalid; forgeries are refused', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Clerk Zhou', role: 'clerk' },
      { name: 'Party Li', role: 'party' },
      { name: 'Lawyer Chen', role: 'lawyer' },
      { name: 'Observer', role: 'viewer' },
    ]);
    const [clerk, party, lawyer, viewer] = await Promise.all(participants.map((p) => connect(server.url, p.token)));
    for (const s of [clerk!, party!, lawyer!, viewer!]) await request(s, 'join', {});
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'waiting_room' });
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'open' });
    const segment = server.transcripts.addRecognized({
      hearingId: id,
      participantId: participants[1]!.id,
      producerId: 'p',
      start: new Date().toISOString(),
      end: new Date().toISOString(),
      text: 'i agree to the settlement',
      confidence: 0.9,
      engine: 'pocketsphinx',
      language: 'en',
    });

    const partyDevice = await device();
    const lawyerDevice = await device();
    const partyKey = (await request(party!, 'registerSigningKey', { publicKey: partyDevice.publicKey })).keyId;
    const lawyerKey = (await request(lawyer!, 'registerSigningKey', { publicKey: lawyerDevice.publicKey })).keyId;
    expect(partyKey).toMatch(/^[0-9a-f]{64}$/);
    expect((await request(viewer!, 'registerSigningKey', { publicKey: partyDevice.publicKey })).error.code).toBe('forbidden');
    expect((await request(party!, 'registerSigningKey', { publicKey: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'BBBB' } })).error.code).toBe(
      'bad_key',
    );

    expect((await request(party!, 'freezeTranscript', {})).error.code).toBe('forbidden');
    const frozen = await request(clerk!, 'freezeTranscript', {});
    expect(frozen).toMatchObject({ version: 1, digest: (await call('GET', `/api/v1/hearings/${id}/transcript`)).body.digest });
    expect(frozen.manifestHead).toMatch(/^[0-9a-f]{64}$/);
    expect(frozen.message).toBe(`hearing-transcript/v1\n${id}\n1\n${frozen.digest}\n${frozen.manifestHead}`);

    const signed = await request(party!, 'signTranscript', {
      version: 1,
      keyId: partyKey,
      signature: await partyDevice.sign(frozen.message),
    });
    expect(signed.signature).toMatchObject({ valid: true, participantId: participants[1]!.id });
    // Someone else's key, a signature over other text, a version that was never frozen: refused.
    expect(
      (await request(lawyer!, 'signTranscript', { version: 1, keyId: partyKey, signature: await partyDevice.sign(frozen.message) })).error
        .code,
    ).toBe('forbidden');
    expect(
      (await request(lawyer!, 'signTranscript', { version: 1, keyId: lawyerKey, signature: await lawyerDevice.sign(`${frozen.message}x`) }))
        .error.code,
    ).toBe('bad_signature');
    expect(
      (await request(lawyer!, 'signTranscript', { version: 2, keyId: lawyerKey, signature: await lawyerDevice.sign(frozen.message) })).error
        .code,
    ).toBe('not_found');
    // The lawyer adds a drawn signature; a drawing that is not an image is refused and nothing is stored.
    const notImage = Buffer.from('not a drawing at all').toString('base64');
    expect(
      (
        await request(lawyer!, 'signTranscript', {
          version: 1,
          keyId: lawyerKey,
          signature: await lawyerDevice.sign(frozen.message),
          image: notImage,
        })
      ).error.code,
    ).toBe('not_an_image');
    const drawing = await sharp({ create: { width: 300, height: 100, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .composite([
        {
          input: Buffer.from(
            '<svg width="300" height="100"><path d="M10 80 C 80 10, 120 90, 290 20" stroke="black" fill="none" stroke-width="4"/></svg>',
          ),
          top: 0,
          left: 0,
        },
      ])
      .png()
      .toBuffer();
    const lawyerSigned = await request(lawyer!, 'signTranscript', {
      version: 1,
      keyId: lawyerKey,
      signature: await lawyerDevice.sign(frozen.message),
      image: `data:image/png;base64,${drawing.toString('base64')}`,
    });
    expect(lawyerSigned.signature.valid).toBe(true);
    expect(lawyerSigned.signature.imageSha256).toMatch(/^[0-9a-f]{64}$/);
    const stored = fs.readFileSync(path.join(server.recorder.dirOf(id), 'signatures', `${lawyerSigned.signature.id}.png`));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(lawyerSigned.signature.imageSha256);

    let transcript = (await call('GET', `/api/v1/hearings/${id}/transcript`)).body;
    expect(transcript.signatures.map((s: any) => s.valid)).toEqual([true, true]);

    // The clerk edits after the signatures: both now show as invalid, with the reason.
    await request(clerk!, 'editTranscript', { segmentId: segment.id, text: 'I do not agree to the settlement.' });
    transcript = (await call('GET', `/api/v1/hearings/${id}/transcript`)).body;
    expect(transcript.signatures.map((s: any) => [s.valid, s.reason])).toEqual([
      [false, 'transcript changed after signing'],
      [false, 'transcript changed after signing'],
    ]);
    const html = await fetch(`${server.url}/api/v1/hearings/${id}/transcript?format=html`, {
      headers: { authorization: `Bearer ${server.secrets.apiKey}` },
    }).then((r) => r.text());
    expect(html).toContain('无效：签名后笔录已被修改');
    expect(html).not.toContain('transcript changed');
    expect(html).toContain('alt="手写签名" src="data:image/png;base64,');

    const manifest = await until('both signatures in the record', () => {
      const text = fs.readFileSync(path.join(server.recorder.dirOf(id), 'manifest.jsonl'), 'utf8');
      return (text.match(/"event":"transcript.signed"/g) ?? []).length >= 2 && text;
    });
    expect(manifest).toContain('"event":"transcript.frozen"');
    expect(manifest.match(/"event":"transcript.signed"/g)).toHaveLength(2);
    expect(manifest).toContain(`"imageSha256":"${lawyerSigned.signature.imageSha256}"`);
    // Closing freezes the edited transcript into the record before the record is sealed; it verifies.
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'closed' });
    await until('record sealed', () => fs.existsSync(path.join(server.recorder.dirOf(id), 'signature.json')));
    const lines = fs
      .readFileSync(path.join(server.recorder.dirOf(id), 'manifest.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const atClose = lines.findIndex((l) => l.event === 'transcript.frozen' && l.atClose === true);
    expect(atClose).toBeGreaterThan(0);
    expect(lines[atClose].digest).toBe((await call('GET', `/api/v1/hearings/${id}/transcript`)).body.digest);
    expect(atClose).toBeLessThan(lines.findIndex((l) => l.event === 'record.finalized'));
    expect((await call('GET', `/api/v1/hearings/${id}/record/verify`)).body.ok).toBe(true);
    // The close ran in order: transcript frozen, then the record sealed (its head in the log), then
    // everyone still connected disconnected.
    const leftAtClose = await until('the four sockets disconnected by the close', () => {
      const log = server.store.auditLog(id);
      const closedAt = log.find((e) => e.action === 'hearing.state_changed' && e.detail.to === 'closed')!.seq;
      const left = log.filter((e) => e.action === 'participant.left' && e.seq > closedAt);
      return left.length === 4 && left;
    });
    const log = server.store.auditLog(id);
    const frozenAtClose = log.find((e) => e.action === 'transcript.frozen' && e.detail.atClose === true)!;
    const sealed = log.find((e) => e.action === 'record.sealed')!;
    const head = (await call('GET', `/api/v1/hearings/${id}/record`)).body.head;
    expect(sealed.detail).toEqual({ lines: head.lines, headHash: head.hash });
    expect(head.lines).toBe(lines.length);
    expect(frozenAtClose.seq).toBeLessThan(sealed.seq);
    for (const left of leftAtClose) expect(left.seq).toBeGreaterThan(sealed.seq);
    for (const s of [clerk!, party!, lawyer!, viewer!]) s.close();
  });
});
