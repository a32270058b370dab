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

describe('a run replaced while the next one starts (make-before-break)', () => {
  it("the new run's segments wait until the old run has ended, then follow all of the old run's, after one discontinuity", async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-work-'));
    const publicDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-public-'));
    const published: string[] = [];
    const publisher = new LivePublisher({ workDir, publicDir, delaySeconds: 0, captions: () => [], onPublish: (s) => published.push(s) });
    const listed = (runId: number): string[] => {
      const file = path.join(workDir, `run-${runId}.m3u8`);
      return fs.existsSync(file) ? (fs.readFileSync(file, 'utf8').match(/seg_\d+\.ts/g) ?? []) : [];
    };
    // Two real encoders overlapping, as a step down leaves them: the old one numbered from 0, the new one after a gap.
    const old = ProgramRun.slate('old', { workDir, runId: 1, startNumber: 0, size: SIZES['480p'] });
    publisher.runStarted(1);
    await until("the old run's first segment is out", () => published.length >= 1, 30_000);
    const next = ProgramRun.slate('new', { workDir, runId: 2, startNumber: 100, size: SIZES['480p'] });
    publisher.runStarted(2);
    await until('the new run has finished two segments', () => listed(2).length >= 2, 30_000);
    await until('the old run has published a segment since', () => published.length >= 2, 30_000);
    // Both write; only the old run's segments have gone out.
    expect(published.every((s) => listed(1).includes(s))).toBe(true);
    await old.stop();
    publisher.runEnded(1);
    const oldSegments = listed(1);
    await until("the new run's segments follow", () => published.some((s) => listed(2).includes(s)), 15_000);
    await next.stop();
    publisher.runEnded(2);
    const newSegments = listed(2);
    await publisher.finish();
    // Every segment of the old run (the one it closed on stopping too), then the new run's, in order.
    expect(published).toEqual([...oldSegments, ...newSegments]);
    const playlist = fs.readFileSync(path.join(publicDir, 'video.m3u8'), 'utf8');
    expect(playlist.split('#EXT-X-DISCONTINUITY\n').length - 1).toBe(1);
    expect(playlist).toMatch(new RegExp(`#EXT-X-DISCONTINUITY\\n#EXT-X-PROGRAM-DATE-TIME:[^\\n]+\\n#EXTINF:[^\\n]+\\n${newSegments[0]}`));
  });
});
