import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, openHearing, withServer } from './helpers/server.ts';
import { connect, request } from './helpers/socket.ts';
import { rtpPacket } from './helpers/rtp.ts';
import { sleep, until } from './helpers/wait.ts';

const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]); // one 20 ms Opus (CELT) frame

describe('pausing and resuming the recording from the bench', () => {
  const ctx = withServer();

  it('the judge pauses and resumes with a reason; a party may not; every step is in the record; no media is kept while paused', async () => {
    const { server } = ctx;
    const h = await openHearing(server, [
      { name: 'Judge Wang', role: 'judge' },
      { name: 'Party Li', role: 'party' },
    ]);
    const [judge, party] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0]];
    // The party's microphone: Opus RTP into a PlainTransport producer, 50 packets/s, all along.
    const room = await server.plane.room(h.id);
    const ingest = await room.createPlainTransport(party.id, 'send', { comedia: true });
    await room.produce(
      party.id,
      ingest.id,
      'audio',
      { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 0xc0de }] },
      'mic',
    );
    const udp = dgram.createSocket('udp4');
    let i = 0;
    const sender = setInterval(() => {
      const packet = Buffer.concat([
        rtpPacket({ payloadType: 100, seq: i, timestamp: i * 960, ssrc: 0xc0de, index: i, size: 4 }).subarray(0, 12),
        OPUS_SILENCE,
      ]);
      udp.send(packet, ingest.tuple.localPort, '127.0.0.1');
      i++;
    }, 20);
    const judgeSocket = await connect(server.url, judge.token);
    const partySocket = await connect(server.url, party.token);
    let pausedAt = 0;
    let resumedAt = 0;
    try {
      await sleep(2500);
      expect((await request(partySocket, 'pauseRecording', { reason: 'break' })).error.code).toBe('forbidden');
      expect((await request(judgeSocket, 'pauseRecording', {})).error.code).toBe('invalid_message');
      expect((await request(judgeSocket, 'pauseRecording', { reason: '   ' })).error.code).toBe('invalid_message');
      expect(await request(judgeSocket, 'pauseRecording', { reason: 'off the record: settlement talks' })).toEqual({ recording: false });
      pausedAt = Date.now();
      expect((await request(judgeSocket, 'pauseRecording', { reason: 'again' })).error.code).toBe('not_recording');
      await sleep(3000);
      resumedAt = Date.now();
      expect(await request(judgeSocket, 'resumeRecording', { reason: 'back on the record' })).toEqual({ recording: true });
      expect((await request(judgeSocket, 'resumeRecording', { reason: 'again' })).error.code).toBe('cannot_resume');
      await sleep(2500);
    } finally {
      clearInterval(sender);
      udp.close();
      judgeSocket.close();
      partySocket.close();
    }
    expect((await api(server)('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'closed' })).status).toBe(200);
    await server.recorder.settled(h.id);
    const lines = fs
      .readFileSync(path.join(server.recorder.dirOf(h.id), 'manifest.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const events = lines.filter((l) => l.type === 'event');
    const find = (event: string) => events.find((e) => e.event === event);
    expect(find('record.pause_requested')).toMatchObject({ reason: 'off the record: settlement talks' });
    expect(find('record.paused')).toMatchObject({ reason: 'off the record: settlement talks', actor: judge.id });
    expect(find('record.resumed')).toMatchObject({ reason: 'back on the record', actor: judge.id });
    // Media before and after the pause is recorded; nothing from inside it.
    const segments = lines.filter((l) => l.type === 'segment');
    expect(segments.some((s) => Date.parse(s.end) <= pausedAt + 300)).toBe(true);
    expect(segments.some((s) => Date.parse(s.start) >= resumedAt - 300)).toBe(true);
    for (const s of segments) {
      const overlap = Math.min(Date.parse(s.end), resumedAt) - Math.max(Date.parse(s.start), pausedAt);
      expect(overlap, `${s.file} overlaps the pause`).toBeLessThan(300);
    }
  });

  it('a pause before anyone joined holds when the first to join makes the media room (the system does not resume it)', async () => {
    const { server } = ctx;
    const h = await openHearing(server, [
      { name: 'Judge Wang', role: 'judge' },
      { name: 'Party Li', role: 'party' },
    ]);
    const [judge] = h.participants as [(typeof h.participants)[0]];
    await until('the record started with the session', () => server.recorder.get(h.id)?.isRecording, 10_000);
    expect(server.plane.get(h.id), 'no media room yet: nobody joined').toBeUndefined();
    expect(await server.recorder.pause(h.id, judge.id, 'before the parties arrive')).toBe(true);
    // The first join makes the hearing's media room (as a rebuilt room after a worker death does).
    await server.plane.room(h.id);
    await server.recorder.settled(h.id);
    expect(server.recorder.get(h.id)!.isRecording, 'still paused').toBe(false);
    const events = () =>
      fs
        .readFileSync(path.join(server.recorder.dirOf(h.id), 'manifest.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((l) => l.type === 'event')
        .map((l) => `${l.event}:${l.actor}`);
    expect(events().slice(-2)).toEqual([`record.started:api`, `record.paused:${judge.id}`]);
    // The court resumes: recorded again, in the same room.
    expect(await server.recorder.resume(h.id, judge.id, 'the parties are here')).toBe(true);
    expect(server.recorder.get(h.id)!.isRecording).toBe(true);
    expect(events().at(-1)).toBe(`record.resumed:${judge.id}`);
  });
});
