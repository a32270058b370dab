import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, createHearing, withServer } from './helpers/server.ts';
import { connect, request } from './helpers/socket.ts';
import { until } from './helpers/wait.ts';

describe('transcript edits and annotations', () => {
  const ctx = withServer();

  it('edits keep every version with author and time; roles are enforced; the record notes each edit', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Judge Wang', role: 'judge' },
      { name: 'Clerk Zhou', role: 'clerk' },
      { name: 'Party Li', role: 'party' },
      { name: 'Observer', role: 'viewer' },
    ]);
    const [judge, clerk, party, viewer] = await Promise.all(participants.map((p) => connect(server.url, p.token)));
    for (const s of [judge!, clerk!, party!, viewer!]) await request(s, 'join', {});
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'waiting_room' });
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'open' });

    const now = Date.now();
    const recognized = server.transcripts.addRecognized({
      hearingId: id,
      participantId: participants[2]!.id,
      producerId: 'p',
      start: new Date(now - 3000).toISOString(),
      end: new Date(now - 1000).toISOString(),
      text: 'the contract was signed in march',
      confidence: 0.8,
      engine: 'pocketsphinx',
      language: 'en',
    });
    const before = (await call('GET', `/api/v1/hearings/${id}/transcript`)).body;
    expect(before.segments).toHaveLength(1);

    const updates: any[] = [];
    party!.on('transcriptUpdated', (s) => updates.push(s));
    const byClerk = await request(clerk!, 'editTranscript', { segmentId: recognized.id, text: 'The contract was signed in March 2024.' });
    expect(byClerk.segment).toMatchObject({ version: 2, status: 'edited', text: 'The contract was signed in March 2024.' });
    const byJudge = await request(judge!, 'editTranscript', { segmentId: recognized.id, text: 'The contract was signed on 3 March 2024.' });
    expect(byJudge.segment.version).toBe(3);
    expect((await request(party!, 'editTranscript', { segmentId: recognized.id, text: 'not what I said' })).error.code).toBe('forbidden');
    expect((await request(viewer!, 'annotateTranscript', { segmentId: recognized.id, text: 'hmm' })).error.code).toBe('forbidden');
    expect((await request(clerk!, 'editTranscript', { segmentId: 'nope', text: 'x' })).error.code).toBe('invalid_message');
    const other = await createHearing(server, []);
    const foreign = server.transcripts.addRecognized({
      hearingId: other.id,
      participantId: participants[2]!.id,
      producerId: 'p',
      start: recognized.start,
      end: recognized.end,
      text: 'elsewhere',
      confidence: 1,
      engine: 'pocketsphinx',
      language: 'en',
    });
    expect((await request(clerk!, 'editTranscript', { segmentId: foreign.id, text: 'x' })).error.code).toBe('not_found');

    const annotated = await request(party!, 'annotateTranscript', { segmentId: recognized.id, text: 'I signed it on 5 March.' });
    expect(annotated.annotation).toMatchObject({ segmentId: recognized.id, author: participants[2]!.id });

    const history = (await call('GET', `/api/v1/hearings/${id}/transcript/${recognized.id}/history`)).body.versions;
    expect(history.map((v: any) => [v.version, v.text, v.author])).toEqual([
      [1, 'the contract was signed in march', 'pocketsphinx'],
      [2, 'The contract was signed in March 2024.', participants[1]!.id],
      [3, 'The contract was signed on 3 March 2024.', participants[0]!.id],
    ]);
    await until('both updates broadcast', () => updates.length >= 2);
    expect(updates.map((u) => u.version)).toEqual([2, 3]);

    const after = (await call('GET', `/api/v1/hearings/${id}/transcript`)).body;
    expect(after.segments[0].text).toBe('The contract was signed on 3 March 2024.');
    expect(after.annotations).toHaveLength(1);
    // What a signature would cover changes with every edit.
    expect(after.digest).not.toBe(before.digest);

    // Exports: WebVTT captions and the printable HTML transcript.
    const get = (q: string) =>
      fetch(`${server.url}/api/v1/hearings/${id}/transcript?${q}`, { headers: { authorization: `Bearer ${server.secrets.apiKey}` } });
    const vtt = await get('format=vtt').then((r) => r.text());
    expect(vtt).toBe('WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\n<v Party Li (party)>The contract was signed on 3 March 2024.\n');
    expect(await get('format=vtt&speaker=role').then((r) => r.text())).toContain('<v party>The contract');
    server.transcripts.addRecognized({
      ...recognized,
      producerId: 'p',
      start: new Date(now).toISOString(),
      end: new Date(now + 500).toISOString(),
      text: '<script>alert(1)</script>',
      hearingId: id,
      participantId: participants[2]!.id,
    });
    const digestNow = (await call('GET', `/api/v1/hearings/${id}/transcript`)).body.digest;
    expect(digestNow).not.toBe(after.digest);
    const htmlResponse = await get('format=html');
    expect(htmlResponse.headers.get('content-type')).toContain('text/html');
    const html = await htmlResponse.text();
    // Chinese by default (the court's names for roles and phases), English on request.
    for (const part of [
      '<html lang="zh-CN">',
      '庭审笔录',
      'T-',
      'Judge Wang: 审判员',
      'Party Li（当事人）',
      'The contract was signed on 3 March 2024.',
      '（已修改，第 3 版）',
      'Party Li（当事人） 注：I signed it on 5 March.',
      '【开庭】',
      digestNow,
    ]) {
      expect(html, part).toContain(part);
    }
    const english = await (await get('format=html&lang=en')).text();
    for (const part of [
      '<html lang="en">',
      'Hearing transcript',
      'Judge Wang: judge',
      'Party Li (party)',
      '(edited, version 3)',
      'Note by Party Li (party): I signed it on 5 March.',
      'Hearing: in session',
      digestNow,
    ]) {
      expect(english, part).toContain(part);
    }
    expect(english).not.toMatch(/审判员|当事人|开庭/);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect((await get('format=pdf')).status).toBe(400);

    const manifest = await until('the annotation in the record', () => {
      const text = fs.readFileSync(path.join(server.recorder.dirOf(id), 'manifest.jsonl'), 'utf8');
      return text.includes('"event":"transcript.annotated"') && text;
    });
    expect(manifest.match(/"event":"transcript.edited"/g)).toHaveLength(2);
    expect(manifest).toContain('"event":"transcript.annotated"');
    for (const s of [judge!, clerk!, party!, viewer!]) s.close();
  });

  it('a hearing that asks for an engine that is not available is transcribed by the fallback, and says so', async () => {
    const { server } = ctx;
    const call = api(server);
    const created = await call('POST', '/api/v1/hearings', {
      caseNumber: 'ASR-1',
      title: 'Mandarin hearing',
      asr: { engine: 'whisper', language: 'zh' },
    });
    expect(created.body).toMatchObject({ asrEngine: 'whisper', asrLanguage: 'zh' });
    const party = (await call('POST', `/api/v1/hearings/${created.body.id}/participants`, { name: 'Party Li', role: 'party' })).body;
    const room = await server.plane.room(created.body.id);
    const ingest = await room.createPlainTransport(party.id, 'send', { comedia: true });
    await room.produce(
      party.id,
      ingest.id,
      'audio',
      { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 77 }] },
      'mic',
    );
    await call('POST', `/api/v1/hearings/${created.body.id}/transitions`, { to: 'waiting_room' });
    await call('POST', `/api/v1/hearings/${created.body.id}/transitions`, { to: 'open' });
    const fallback: any = await until('transcript.engine_fallback', async () =>
      (await call('GET', `/api/v1/hearings/${created.body.id}/events`)).body.events.find(
        (e: any) => e.action === 'transcript.engine_fallback',
      ),
    );
    expect(fallback.detail).toMatchObject({ wanted: { engine: 'whisper', language: 'zh' }, using: 'pocketsphinx' });
    expect(fallback.detail.reason).toMatch(/not available/);
    const bad = await call('POST', '/api/v1/hearings', { caseNumber: 'ASR-2', title: 'x', asr: { engine: 'vosk', language: 'en' } });
    expect(bad.status).toBe(400);
  });
});
