import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';

/** Reference transcriptions shipped with pocketsphinx-testdata, by clip id. */
export function librivoxReference(clip: string): string {
  const line = fs.readFileSync(path.join(LIBRIVOX, 'transcription'), 'utf8').split('\n').find((l) => l.includes(`(${clip})`));
  if (!line) throw new Error(`no reference for ${clip}`);
  return line.replace(/<\/?s>/g, '').replace(/\(.*\)/, '').trim();
}

/** A WAV for Chromium's fake microphone: silence before, the clip, silence after (it loops the file). */
export function paddedClip(clip: string, before: number, after: number): { file: string; seconds: number } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'speech-')), `${clip}.wav`);
  execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(LIBRIVOX, `${clip}.wav`), '-af', `adelay=${before * 1000},apad=pad_dur=${after}`, '-ar', '48000', '-ac', '1', file]);
  const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(LIBRIVOX, `${clip}.wav`)], { encoding: 'utf8' }));
  return { file, seconds };
}

const words = (s: string): string[] => s.toLowerCase().replace(/[^a-z' ]+/g, ' ').split(/\s+/).filter(Boolean);

/** Word error rate: word-level Levenshtein distance / reference length. */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const r = words(reference);
  const h = words(hypothesis);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[h.length]! / Math.max(1, r.length);
}
