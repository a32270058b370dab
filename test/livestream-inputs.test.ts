import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, openHearing, NO_ASR } from './helpers/server.ts';
import { openJoin, withLiveCourt } from './helpers/browser.ts';
import { magentaPixels } from './helpers/frames.ts';
import { until } from './helpers/wait.ts';
import { newestSegment, streamLog, withStreamLog } from './helpers/live.ts';

describe('public livestream inputs', () => {
  const ctx = withLiveCourt(NO_ASR);

  it('a camera that dies without its producer closing does not freeze the stream: left out, logged, taken back', async () => {
    const { server } = ctx;
    const call = api(server);
    const h = await openHearing(
      server,
      [
        { name: 'Judge Wang', role: 'judge' },
        { name: 'Party Li', role: 'party' },
      ],
      { streamable: true },
    );
    const [judge, party] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0]];
    const judgePage = await openJoin(ctx.court, judge.joinUrl);
    const partyPage = await openJoin(ctx.party, party.joinUrl);
    await judgePage.evaluate(`window.hearingClient.request('stream', { action: 'approve' })`);
    await judgePage.evaluate(`window.hearingClient.request('stream', { action: 'start' })`);

    const failWithLog = withStreamLog(server, h.id);
    /** The newest public segment made after `after` (wall clock), with its magenta pixel count. */
    const newestAfter = async (after: number): Promise<{ name: string; magenta: number } | undefined> => {
      const segment = await newestSegment(server, h.id, after);
      return segment && { name: segment.name, magenta: magentaPixels(segment.file) };
    };

    // The party's (magenta) camera is in the program.
    await until('a program segment with the party', async () => ((await newestAfter(0))?.magenta ?? 0) > 1000 || undefined, 40_000).catch(
      failWithLog,
    );

    // The camera dies (its track ends): the producer stays open and receives nothing.
    await partyPage.evaluate(`document.querySelector('.tile.self video').srcObject.getVideoTracks().forEach((t) => t.stop())`);
    const diedAt = Date.now();
    const stalled = await until(
      'the stall in the log',
      () => streamLog(server, h.id).find((e) => e.action === 'stream.stalled' && Date.parse(e.at) > diedAt),
      30_000,
    ).catch(failWithLog);
    expect(stalled.detail.leftOut).toContainEqual({ participantId: party.id, kind: 'video' });
    // The stream goes on, without the party's picture (their voice and the judge are still in it).
    const after = await until('a segment made after the stall', () => newestAfter(Date.parse(stalled.at) + 1000), 30_000).catch(
      failWithLog,
    );
    expect(after.magenta).toBe(0);

    // A new camera: the party is taken back into the program.
    const backAt = Date.now();
    await partyPage.evaluate(
      `navigator.mediaDevices.getUserMedia({ video: true }).then((s) => window.hearingClient.switchCamera(s.getVideoTracks()[0]))`,
    );
    await until(
      'the party back in the program',
      async () => ((await newestAfter(backAt + 1000))?.magenta ?? 0) > 1000 || undefined,
      40_000,
    ).catch(failWithLog);
    expect(streamLog(server, h.id).map((e) => e.action)).toContain('stream.input_back');

    expect((await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'closed' })).status).toBe(200);
    const manifest = fs.readFileSync(path.join(server.recorder.dirOf(h.id), 'manifest.jsonl'), 'utf8');
    for (const e of ['stream.stalled', 'stream.input_back']) expect(manifest).toContain(`"event":"${e}"`);
  }, 180_000);
});
