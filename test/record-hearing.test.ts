import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, createHearing, NO_ASR } from './helpers/server.ts';
import { openJoin, twoPartyHearing, waitForMediaFrom, withServerAndBrowser } from './helpers/browser.ts';
import { sleep } from './helpers/wait.ts';
import { decodeErrors, ffprobe, ffprobeStreams } from './helpers/ffprobe.ts';
import { verifyRecord } from '../recordings/verify.ts';

describe('the hearing record', () => {
  // Its browser keeps real time: the segments are held against the wall clock of the transitions.
  const ctx = withServerAndBrowser({ realTime: true, server: NO_ASR });

  it('records every track through open → adjourned → open → closed, signed and verifiable', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id } = await twoPartyHearing(server, ctx.browser);

    const go = async (to: string): Promise<number> => {
      const r = await call('POST', `/api/v1/hearings/${id}/transitions`, { to });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return Date.now();
    };
    expect((await call('GET', `/api/v1/hearings/${id}/record`)).status).toBe(404);
    await go('waiting_room');
    const opened = await go('open');
    await sleep(7000);
    const adjourned = await go('adjourned');
    await sleep(4000);
    const reopened = await go('open');
    await sleep(7000);
    const closed = await go('closed');

    let record: any;
    for (let i = 0; i < 60 && !record?.signature; i++) {
      await sleep(250);
      record = (await call('GET', `/api/v1/hearings/${id}/record`)).body;
    }
    expect(record.signature, 'signed at close').toBeTruthy();
    expect(record.tracks).toHaveLength(4);
    expect(record.tracks.map((t: any) => `${t.role}-${t.kind}`).sort()).toEqual([
      'judge-audio',
      'judge-video',
      'party-audio',
      'party-video',
    ]);

    const dir = server.recorder.dirOf(id);
    // Each track is recorded over both runs (open → adjourned, reopened → closed): it starts soon after
    // each open (a camera's first frame is its next key frame: measured +50–100 ms, about 1 s when the
    // camera ignores the first request under load and mediasoup asks again a second later; audio +60 ms,
    // +603 ms once in a full CI run on this machine; video +2140 ms once, in a full CI run on 2026-11-26:
    // the camera ignored two requests, a second apart), has no hole inside a run, and reaches the
    // adjournment and the close.
    const runs = [
      { from: opened, to: adjourned },
      { from: reopened, to: closed },
    ];
    const startBoundMs = { audio: 1000, video: 3000 };
    /** What may be missing at a run's end: the packets in flight when the hearing adjourns or closes. */
    const END_ALLOWANCE_MS = 300;
    for (const track of record.tracks) {
      const segments = record.segments.filter((s: any) => s.track === track.track);
      const clock = track.kind === 'audio' ? 48000 : 90000;
      const probed = segments.map((s: any) => {
        const probe = ffprobe(path.join(dir, s.file));
        expect(probe.codec).toBe(track.kind === 'audio' ? 'opus' : 'vp8');
        expect(decodeErrors(path.join(dir, s.file)), `${s.file} decodes fully`).toBe('');
        // The file is as long as the manifest says: its RTP span plus its last frame.
        expect(Math.abs(probe.duration - s.durationSeconds), `${s.file}: ffprobe ${probe.duration} s`).toBeLessThan(0.05);
        expect((s.rtpLast - s.rtpFirst) / clock, s.file).toBeLessThanOrEqual(s.durationSeconds);
        if (track.kind === 'video') expect(probe.width).toBeGreaterThan(0);
        return {
          start: Date.parse(s.start),
          end: Date.parse(s.start) + probe.duration * 1000,
          duration: probe.duration,
          rtp: (s.rtpLast - s.rtpFirst) / clock,
        };
      });
      // On failure: every segment (start after the open, ffprobe duration, RTP span).
      const where = `reopened +${reopened - opened}ms, adjourned +${adjourned - opened}ms, closed +${closed - opened}ms; segments: ${probed.map((s: any) => `+${s.start - opened}ms ${s.duration.toFixed(3)}s/${s.rtp.toFixed(3)}s`).join(' ')}`;
      for (const [i, run] of runs.entries()) {
        const inRun = probed.filter((s: any) => s.start >= run.from - 200 && s.start < run.to);
        const label = `${track.kind} ${track.track} run ${i + 1}: ${where}`;
        expect(inRun.length, label).toBeGreaterThanOrEqual(2);
        expect(inRun[0].start - run.from, `starts after the open; ${label}`).toBeLessThanOrEqual(
          startBoundMs[track.kind as 'audio' | 'video'],
        );
        for (let k = 1; k < inRun.length; k++)
          expect(Math.abs(inRun[k].start - inRun[k - 1].end), `no hole between segments; ${label}`).toBeLessThan(150);
        expect(inRun.at(-1).end, `reaches the end of the run; ${label}`).toBeGreaterThan(run.to - END_ALLOWANCE_MS);
        const recorded = inRun.reduce((n: number, s: any) => n + s.duration, 0) * 1000;
        // Measured up to where the run must reach: the packets in flight at the adjournment (the end allowed
        // above) are 4 % of a 7 s run by themselves, and CI run 27 saw 0.9498 of the whole run that way.
        expect(recorded / (run.to - END_ALLOWANCE_MS - inRun[0].start), `covers the run from its first frame; ${label}`).toBeGreaterThan(
          0.95,
        );
      }
    }

    // The pause is an event, and no segment covers the adjourned span.
    const events = record.events.map((e: any) => e.event);
    for (const e of ['record.started', 'record.paused', 'record.resumed', 'record.finalized', 'hearing.state_changed'])
      expect(events).toContain(e);
    const paused = record.events.find((e: any) => e.event === 'record.paused');
    const resumed = record.events.find((e: any) => e.event === 'record.resumed');
    const pauseStart = Date.parse(paused.requestedAt);
    const pauseEnd = Date.parse(resumed.at);
    expect(pauseEnd - pauseStart).toBeGreaterThan(3000);
    for (const s of record.segments) {
      const overlap = Math.min(Date.parse(s.end), pauseEnd) - Math.max(Date.parse(s.start), pauseStart);
      // Nothing arriving after the request is kept; what is written is what the reorder buffer and the
      // path to ffmpeg held (CI on 2026-11-26 measured 605 ms when packets still went to ffmpeg until it
      // left; with the fix, 103 ms locally and 303 ms for a video segment in a loaded CI run, whose end
      // is its last frame's time plus that frame's length); 4 s are adjourned.
      expect(overlap, `${s.file} (${s.start} → ${s.end}) overlaps the adjournment ${paused.requestedAt} → ${resumed.at}`).toBeLessThan(500);
    }

    const report = verifyRecord(dir, server.recordKey.publicKey);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, signed: true, finalized: true, segments: record.segments.length });
    expect((await call('GET', `/api/v1/hearings/${id}/record/verify`)).body).toMatchObject({ ok: true, signed: true });
    const key = (await call('GET', '/api/v1/record-key')).body;
    expect(key.publicKeyPem).toContain('BEGIN PUBLIC KEY');

    const tar = await fetch(`${server.url}/api/v1/hearings/${id}/record/export`, {
      headers: { authorization: `Bearer ${server.secrets.apiKey}` },
    });
    expect(tar.status).toBe(200);
    const bytes = Buffer.from(await tar.arrayBuffer());
    const files = record.segments.reduce((sum: number, s: any) => sum + s.bytes, 0);
    expect(bytes.length).toBeGreaterThan(files);
    // Unpacked elsewhere, the export is the whole record: it verifies against the server's key with every
    // segment, and an altered copy does not.
    const exported = fs.mkdtempSync(path.join(os.tmpdir(), 'record-export-'));
    fs.writeFileSync(path.join(exported, 'export.tar'), bytes);
    execFileSync('tar', ['-xf', 'export.tar'], { cwd: exported });
    const unpacked = path.join(exported, id);
    const exportReport = verifyRecord(unpacked, server.recordKey.publicKey);
    expect(exportReport.problems).toEqual([]);
    expect(exportReport).toMatchObject({
      ok: true,
      signed: true,
      finalized: true,
      segments: record.segments.length,
      headHash: report.headHash,
    });
    const firstSegment = path.join(unpacked, record.segments[0].file);
    fs.appendFileSync(firstSegment, Buffer.from([0]));
    expect(verifyRecord(unpacked, server.recordKey.publicKey).problems.map((p) => [p.kind, p.file])).toEqual([
      ['segment_altered', record.segments[0].file],
    ]);

    // The mixed review file, on request after the hearing: one playable MP4 lined up by wall clock,
    // apart from the record (which still verifies).
    expect((await call('GET', `/api/v1/hearings/${id}/record/review`)).status).toBe(404);
    expect((await call('POST', `/api/v1/hearings/${id}/record/review`)).status).toBe(202);
    let review = await fetch(`${server.url}/api/v1/hearings/${id}/record/review`, {
      headers: { authorization: `Bearer ${server.secrets.apiKey}` },
    });
    for (let i = 0; i < 240 && review.status === 202; i++) {
      await sleep(250);
      review = await fetch(`${server.url}/api/v1/hearings/${id}/record/review`, {
        headers: { authorization: `Bearer ${server.secrets.apiKey}` },
      });
    }
    expect(
      review.status,
      await review
        .clone()
        .text()
        .then((t) => t.slice(0, 300)),
    ).toBe(200);
    expect(review.headers.get('content-type')).toContain('video/mp4');
    const reviewFile = path.join(server.config.dataDir, 'review.mp4');
    fs.writeFileSync(reviewFile, Buffer.from(await review.arrayBuffer()));
    const streams = ffprobeStreams(reviewFile);
    expect(streams.map((s) => s.codec).sort()).toEqual(['aac', 'h264']);
    const starts = record.segments.map((s: any) => Date.parse(s.start));
    const ends = record.segments.map((s: any) => Date.parse(s.end));
    const span = (Math.max(...ends) - Math.min(...starts)) / 1000;
    const reviewSeconds = ffprobe(reviewFile).duration;
    expect(Math.abs(reviewSeconds - span), `review ${reviewSeconds} s, record spans ${span} s`).toBeLessThan(0.5);
    expect(verifyRecord(dir, server.recordKey.publicKey).ok).toBe(true);
  });
  it('records a phone that sends H.264: Matroska segments that decode fully, as long as their RTP time', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Judge Zhao', role: 'judge' },
      { name: 'Party Sun', role: 'party' },
    ]);
    const [judge, party] = participants as [(typeof participants)[0], (typeof participants)[0]];
    const judgePage = await openJoin(ctx.browser, judge.joinUrl);
    // The court platform's link for a device with a hardware H.264 encoder.
    await openJoin(ctx.browser, `${party.joinUrl}&codec=h264`, { phone: true });
    await waitForMediaFrom(judgePage, party.id);
    for (const to of ['waiting_room', 'open']) expect((await call('POST', `/api/v1/hearings/${id}/transitions`, { to })).status).toBe(200);
    const opened = Date.now();
    const partyVideo = (r: any): any[] => (r?.segments ?? []).filter((s: any) => s.participantId === party.id && s.kind === 'video');
    let record: any;
    for (let i = 0; i < 80 && partyVideo(record).length < 3; i++) {
      await sleep(250);
      record = (await call('GET', `/api/v1/hearings/${id}/record`)).body;
    }
    expect(partyVideo(record).length, "three closed segments of the phone's camera while open").toBeGreaterThanOrEqual(3);
    expect((await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'closed' })).status).toBe(200);
    const closed = Date.now();
    for (let i = 0; i < 60 && !record?.signature; i++) {
      await sleep(250);
      record = (await call('GET', `/api/v1/hearings/${id}/record`)).body;
    }
    expect(record.signature, 'signed at close').toBeTruthy();
    const dir = server.recorder.dirOf(id);
    const segments = partyVideo(record);
    let seconds = 0;
    for (const s of segments) {
      const file = path.join(dir, s.file);
      const where = `${s.file} (${s.durationSeconds} s)`;
      expect(s.codec.toLowerCase(), where).toBe('video/h264');
      expect(s.file, where).toMatch(/\.mkv$/);
      const probe = ffprobe(file);
      expect(probe.codec, where).toBe('h264');
      expect(probe.width, where).toBeGreaterThan(0);
      expect(decodeErrors(file), `${where} decodes fully`).toBe('');
      expect(Math.abs(probe.duration - s.durationSeconds), `${where}: ffprobe ${probe.duration} s`).toBeLessThan(0.05);
      expect((s.rtpLast - s.rtpFirst) / 90000, where).toBeLessThanOrEqual(s.durationSeconds);
      seconds += s.durationSeconds;
    }
    // The camera is recorded for the time the hearing was open, less its first key frame's wait.
    expect(seconds, `${segments.length} segments`).toBeGreaterThan(((closed - opened) / 1000) * 0.8);
    expect(verifyRecord(dir, server.recordKey.publicKey).problems).toEqual([]);
  });
});
