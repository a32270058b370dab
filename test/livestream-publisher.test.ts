import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProgramRun, SIZES } from '../workers/livestream/program.ts';
import { LivePublisher } from '../workers/livestream/publisher.ts';
import { until } from './helpers/wait.ts';

describe('the public stream publishes only segments that parse', () => {
  it('a segment cut off mid-write is skipped and reported; the ones around it go out', async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-work-'));
    const publicDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-public-'));
    // Real segments from the real encoder (the slate run), then one of them damaged on disk.
    const run = ProgramRun.slate('test', { workDir, runId: 1, startNumber: 0, size: SIZES['480p'] });
    const finished = () => fs.readFileSync(path.join(workDir, 'run-1.m3u8'), 'utf8').match(/seg_\d+\.ts/g) ?? [];
    await until('three finished segments', () => fs.existsSync(path.join(workDir, 'run-1.m3u8')) && finished().length >= 3, 30_000);
    await run.stop();
    const [first, damaged, third] = finished() as [string, string, string];
    fs.writeFileSync(path.join(workDir, damaged), Buffer.alloc(4000, 0x47).fill(0x00, 1));

    const skipped: { segment: string; reason: string }[] = [];
    const published: string[] = [];
    const publisher = new LivePublisher({
      workDir,
      publicDir,
      delaySeconds: 0,
      captions: () => [],
      onPublish: (s) => published.push(s),
      onSkip: (segment, reason) => skipped.push({ segment, reason }),
    });
    await until('the three handled', () => published.length + skipped.length >= 3, 15_000);
    await publisher.finish();
    expect(skipped.map((s) => s.segment)).toEqual([damaged]);
    expect(skipped[0]!.reason.length).toBeGreaterThan(0);
    expect(published).toEqual(expect.arrayContaining([first, third]));
    expect(published).not.toContain(damaged);
    expect(fs.existsSync(path.join(publicDir, damaged))).toBe(false);
    expect(fs.readFileSync(path.join(publicDir, 'video.m3u8'), 'utf8')).not.toContain(damaged);
  });
});
