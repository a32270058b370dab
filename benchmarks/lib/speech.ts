import fs from 'node:fs';
import path from 'node:path';

export const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';

/** Reference transcriptions shipped with pocketsphinx-testdata, by clip id. */
export function librivoxReference(clip: string): string {
  const line = fs
    .readFileSync(path.join(LIBRIVOX, 'transcription'), 'utf8')
    .split('\n')
    .find((l) => l.includes(`(${clip})`));
  if (!line) throw new Error(`no reference for ${clip}`);
  return line
    .replace(/<\/?s>/g, '')
    .replace(/\(.*\)/, '')
    .trim();
}

const words = (s: string): string[] =>
  s
    .toLowerCase()
    .replace(/[^a-z' ]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);

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
