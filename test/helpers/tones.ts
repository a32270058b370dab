// Tones to tell who is heard where: a known frequency sent by one party, looked for (Goertzel) in what
// another received.
import { execFileSync } from 'node:child_process';

/** A WAV of `hz` beeps (0.4 s on, 0.1 s off: a steady tone is what noise suppression removes first). */
export function beepsWav(file: string, hz: number, seconds: number): string {
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi'],
    ...['-i', `sine=frequency=${hz}:sample_rate=48000:duration=${seconds}`],
    ...['-af', "volume='if(lt(mod(t,0.5),0.4),0.5,0)':eval=frame", '-ac', '1', file],
  ]);
  return file;
}

/** A recording as mono 16 kHz samples in [-1, 1]. */
export function samples(file: string): Float32Array {
  const raw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-ac', '1', '-ar', '16000', '-f', 's16le', '-'], {
    maxBuffer: 256 * 1024 * 1024,
  });
  const out = new Float32Array(raw.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = raw.readInt16LE(i * 2) / 32768;
  return out;
}

/**
 * The level of each frequency in the recording (root mean square of its Goertzel magnitude over 0.1 s
 * blocks, scaled so a full-scale sine reads about 0.7), and the whole signal's RMS.
 */
export function toneLevels(pcm: Float32Array, freqs: number[], rate = 16000): { rms: number; levels: Map<number, number> } {
  const block = rate / 10;
  const levels = new Map<number, number>();
  for (const f of freqs) {
    const coeff = 2 * Math.cos((2 * Math.PI * f) / rate);
    let sum = 0;
    let blocks = 0;
    for (let start = 0; start + block <= pcm.length; start += block) {
      let s1 = 0;
      let s2 = 0;
      for (let i = start; i < start + block; i++) {
        const s0 = pcm[i]! + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
      sum += power / ((block * block) / 2);
      blocks++;
    }
    levels.set(f, blocks ? Math.sqrt(sum / blocks) : 0);
  }
  const rms = Math.sqrt(pcm.reduce((a, x) => a + x * x, 0) / Math.max(1, pcm.length));
  return { rms, levels };
}
