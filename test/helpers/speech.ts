import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { LIBRIVOX } from '../../benchmarks/lib/speech.ts';
import path from 'node:path';

/** A WAV for Chromium's fake microphone: silence before, the clip, silence after (it loops the file). */
export function paddedClip(clip: string, before: number, after: number): { file: string; seconds: number } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'speech-')), `${clip}.wav`);
  execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(LIBRIVOX, `${clip}.wav`), '-af', `adelay=${before * 1000},apad=pad_dur=${after}`, '-ar', '48000', '-ac', '1', file]);
  const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(LIBRIVOX, `${clip}.wav`)], { encoding: 'utf8' }));
  return { file, seconds };
}

export { LIBRIVOX, librivoxReference, wordErrorRate } from '../../benchmarks/lib/speech.ts';
