import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhisperEngine } from '../workers/transcript/whisper.ts';
import { Vad } from '../workers/transcript/vad.ts';
import type { HearingServer } from '../server/app/server.ts';
import { api, startTestServer } from './helpers/server.ts';
import { writeTinyWhisperModel } from './helpers/ggml-whisper.ts';
import { LIBRIVOX, speechIngest } from './helpers/speech.ts';
import { until } from './helpers/wait.ts';

const CLIP = path.join(LIBRIVOX, 'sense_and_sensibility_01_austen_64kb-0870.wav');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-test-'));
const tinyModel = path.join(dir, 'tiny-test-model.bin');
const corruptModel = path.join(dir, 'corrupt.bin');

function pcm(file: string, filter = 'anull'): Float32Array {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-af', filter, '-f', 'f32le', '-ar', '16000', '-ac', '1', 'pipe:1'], {
    maxBuffer: 1e8,
  });
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

/** The clip as Opus RTP into an open hearing, as the party's microphone. */
async function speakInto(server: HearingServer, hearingId: string, participantId: string): Promise<void> {
  const speaking = await speechIngest(server, hearingId, participantId, CLIP);
  await api(server)('POST', `/api/v1/hearings/${hearingId}/transitions`, { to: 'waiting_room' });
  await api(server)('POST', `/api/v1/hearings/${hearingId}/transitions`, { to: 'open' });
  await speaking.play();
}

beforeAll(() => {
  writeTinyWhisperModel(tinyModel);
  fs.writeFileSync(corruptModel, Buffer.concat([Buffer.from('ggml'), Buffer.alloc(4096, 7)]));
});

describe('the whisper engine', () => {
  it('VAD finds the utterances of real speech between silences', () => {
    const speech = pcm(CLIP, 'adelay=1000,apad=pad_dur=2');
    const vad = new Vad();
    const spans = [...vad.push(speech.subarray(0, 50_000)), ...vad.push(speech.subarray(50_000)), ...vad.flush()];
    expect(spans.length).toBeGreaterThanOrEqual(1);
    const first = spans[0]!.startSample / 16000;
    expect(first).toBeGreaterThan(0.8);
    expect(first).toBeLessThan(1.3);
    const last = spans.at(-1)!;
    expect((last.startSample + last.samples.length) / 16000).toBeLessThan(1 + 7.1 + 0.9);
    expect(new Vad().push(new Float32Array(16000 * 3))).toEqual([]);
  });

  it('loads a generated ggml model and runs it on real PCM; missing and corrupt models fail clearly', async () => {
    const engine = await WhisperEngine.load(tinyModel);
    const segments = await engine.transcribe(pcm(CLIP), 'zh')!;
    expect(segments.length).toBeGreaterThan(0);
    for (const s of segments) {
      expect(typeof s.text).toBe('string');
      expect(s.startSec).toBeGreaterThanOrEqual(0);
      expect(s.endSec).toBeLessThanOrEqual(7.2);
    }
    await engine.release();
    await expect(WhisperEngine.load(path.join(dir, 'missing.bin'))).rejects.toThrow(/whisper model not found/);
    await expect(WhisperEngine.load(corruptModel)).rejects.toThrow(/cannot be loaded/);
  });

  describe('in a hearing', () => {
    let server: HearingServer;
    afterAll(async () => {
      await server?.close();
    });

    it('a hearing set to whisper is transcribed by it, from real Opus RTP', async () => {
      server = await startTestServer({ asrModel: tinyModel });
      const call = api(server);
      const hearing = (
        await call('POST', '/api/v1/hearings', { caseNumber: 'W-1', title: 'Mandarin', asr: { engine: 'whisper', language: 'zh' } })
      ).body;
      const party = (await call('POST', `/api/v1/hearings/${hearing.id}/participants`, { name: 'Party Wang', role: 'party' })).body;
      const partials: any[] = [];
      server.transcriber.on('partial', (p) => partials.push({ ...p, at: Date.now() }));
      await speakInto(server, hearing.id, party.id);
      // The random test model's words mean nothing; what is checked is the pipeline around it.
      const segments = await until(
        'whisper segments',
        async () => {
          const list = (await call('GET', `/api/v1/hearings/${hearing.id}/transcript`)).body.segments;
          return list.length ? list : undefined;
        },
        20_000,
      );
      const events = (await call('GET', `/api/v1/hearings/${hearing.id}/events`)).body.events.map((e: any) => e.action);
      expect(events).not.toContain('transcript.engine_fallback');
      expect(segments.length).toBeGreaterThan(0);
      for (const s of segments) expect(s).toMatchObject({ engine: 'whisper', language: 'zh', participantId: party.id });
      // The 7 s utterance produced text while it was still going on, before its final segment.
      expect(partials.length).toBeGreaterThan(0);
      expect(partials[0]).toMatchObject({ participantId: party.id, engine: 'whisper' });
      expect(partials[0].at).toBeLessThan(Date.parse(segments[0].createdAt));
      // Times inside the speech the tap received (the clip is 7.1 s).
      for (const s of segments) expect(Date.parse(s.end) - Date.parse(s.start)).toBeLessThanOrEqual(7200);
      await server.close();
    });

    it('a corrupt model: a clear error, and the hearing is transcribed by pocketsphinx, logged', async () => {
      server = await startTestServer({ asrModel: corruptModel });
      const call = api(server);
      const hearing = (
        await call('POST', '/api/v1/hearings', { caseNumber: 'W-2', title: 'x', asr: { engine: 'whisper', language: 'en' } })
      ).body;
      const party = (await call('POST', `/api/v1/hearings/${hearing.id}/participants`, { name: 'Party Li', role: 'party' })).body;
      await speakInto(server, hearing.id, party.id);
      const fallback = (await call('GET', `/api/v1/hearings/${hearing.id}/events`)).body.events.find(
        (e: any) => e.action === 'transcript.engine_fallback',
      );
      expect(fallback.detail.reason).toMatch(/engine whisper not available: whisper model .* cannot be loaded/);
      const segments = await until(
        'pocketsphinx segments',
        async () => {
          const list = (await call('GET', `/api/v1/hearings/${hearing.id}/transcript`)).body.segments;
          return list.length ? list : undefined;
        },
        20_000,
      );
      expect(segments[0]).toMatchObject({ engine: 'pocketsphinx', participantId: party.id });
      expect(segments.map((s: any) => s.text).join(' ')).toMatch(/leisure|consider|power/);
    });
  });
});

describe('npm run models', () => {
  it('keeps a downloaded model only when its SHA-256 matches the pin', async () => {
    const { downloadModel } = await import('../scripts/models.ts');
    const http = await import('node:http');
    const { createHash } = await import('node:crypto');
    const body = fs.readFileSync(tinyModel);
    const server = http.createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/ggml-test.bin`;
    const target = path.join(dir, 'models', 'ggml-test.bin');
    await expect(downloadModel(url, '0'.repeat(64), target)).rejects.toThrow(/SHA-256 mismatch/);
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.existsSync(`${target}.partial`)).toBe(false);
    await downloadModel(url, createHash('sha256').update(body).digest('hex'), target);
    expect(fs.readFileSync(target).equals(body)).toBe(true);
    server.close();
    await expect(downloadModel('http://127.0.0.1:9/none.bin', '0'.repeat(64), target)).rejects.toThrow(/cannot reach/);
  });
});
