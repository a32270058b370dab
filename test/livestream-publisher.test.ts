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

  it('runs that overlap go out one after the other: the earlier one to its end, then the next, one discontinuity; a discarded run never', async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-work-'));
    const publicDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-public-'));
    const published: string[] = [];
    /** The public playlist as it was when the next run's first segment went out (later it may have left the window). */
    let atTheSwitch = '';
    const publisher = new LivePublisher({
      workDir,
      publicDir,
      delaySeconds: 0,
      captions: () => [],
      onPublish: (s) => {
        published.push(s);
        if (!atTheSwitch && Number(/\d+/.exec(s)![0]) >= 100) atTheSwitch = fs.readFileSync(path.join(publicDir, 'video.m3u8'), 'utf8');
      },
    });
    const listed = (runId: number): string[] => {
      const file = path.join(workDir, `run-${runId}.m3u8`);
      return fs.existsSync(file) ? (fs.readFileSync(file, 'utf8').match(/seg_\d+\.ts/g) ?? []) : [];
    };
    const size = SIZES['480p'];
    const first = ProgramRun.slate('one', { workDir, runId: 1, startNumber: 0, size });
    await until('the first run out', () => published.length >= 2, 30_000);
    // The next run starts beside it (make before break), numbering ahead, and one more is given up.
    const next = ProgramRun.slate('two', { workDir, runId: 2, startNumber: 100, size });
    const givenUp = ProgramRun.slate('three', { workDir, runId: 3, startNumber: 200, size });
    await until('two segments of each of the later runs', () => listed(2).length >= 2 && listed(3).length >= 2, 30_000);
    givenUp.kill();
    publisher.discard(3);
    // The first run still goes on: nothing of the next one is out before it ends.
    expect(published.filter((s) => Number(/\d+/.exec(s)![0]) >= 100)).toEqual([]);
    await first.stop();
    const firstRun = listed(1);
    await until('a segment of the next run out', () => published.some((s) => listed(2).includes(s)), 15_000);
    await next.stop();
    const secondRun = listed(2); // (finish removes the work directory)
    await publisher.finish();
    expect(published).toEqual([...firstRun, ...secondRun]);
    expect(atTheSwitch.match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
    expect(atTheSwitch).toMatch(new RegExp(`#EXT-X-DISCONTINUITY\n[^\n]*\n[^\n]*\n${secondRun[0]!.replace('.', '\\.')}\n$`));
    // Once it has left the window, the playlist counts it (a player joining later numbers discontinuities right).
    const playlist = fs.readFileSync(path.join(publicDir, 'video.m3u8'), 'utf8');
    const counted =
      Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(playlist)![1]) + (playlist.match(/#EXT-X-DISCONTINUITY\n/g)?.length ?? 0);
    expect(counted).toBe(1);
    expect(fs.readdirSync(publicDir).filter((f) => /^seg_0002\d\d\.ts$/.test(f))).toEqual([]);
  });
});
