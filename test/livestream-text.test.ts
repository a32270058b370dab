// What the server draws itself must be readable in Chinese: the program's slates and labels are drawn
// with a CJK font. With a font without Chinese glyphs every character is the same box, so two different
// texts of the same length would give the same picture.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FONT, ProgramRun, SIZES } from '../workers/livestream/program.ts';
import { until } from './helpers/wait.ts';

/** The first frame of the slate's first segment, as 8-bit gray pixels. */
async function slateFrame(message: string): Promise<Buffer> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-text-'));
  const run = ProgramRun.slate(message, { workDir, runId: 1, startNumber: 0, size: SIZES['480p'] });
  const playlist = path.join(workDir, 'run-1.m3u8');
  try {
    await until('a finished segment', () => fs.existsSync(playlist) && /seg_\d+\.ts/.test(fs.readFileSync(playlist, 'utf8')), 30_000);
  } finally {
    await run.stop();
  }
  const segment = /seg_\d+\.ts/.exec(fs.readFileSync(playlist, 'utf8'))![0];
  const frame = execFileSync('ffmpeg', [
    '-v',
    'error',
    '-i',
    path.join(workDir, segment),
    '-frames:v',
    '1',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'gray',
    '-',
  ]);
  fs.rmSync(workDir, { recursive: true, force: true });
  return frame;
}

describe('Chinese in what the server draws', () => {
  it('the program’s slate draws Chinese characters as themselves, not as boxes', async () => {
    expect(fs.existsSync(FONT)).toBe(true);
    const [paused, waiting, pausedAgain] = [await slateFrame('庭审暂停'), await slateFrame('等待开庭'), await slateFrame('庭审暂停')];
    expect(paused.length).toBe(854 * 480);
    // Something is drawn (the slate is not an empty background) ...
    const lit = (f: Buffer) => f.filter((v) => v > 200).length;
    expect(lit(paused)).toBeGreaterThan(200);
    // ... the same text draws the same, and different characters draw differently.
    const differing = (a: Buffer, b: Buffer) => a.reduce((n, v, i) => n + (Math.abs(v - b[i]!) > 64 ? 1 : 0), 0);
    expect(differing(paused, pausedAgain)).toBeLessThan(200);
    expect(differing(paused, waiting)).toBeGreaterThan(1000);
  });
});
