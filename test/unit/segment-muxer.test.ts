// The recorder's in-process muxing, on real RTP: ffmpeg encodes and packetizes a test picture (VP8 and
// H.264) and a tone (Opus) in real time; the packets go through the depacketizer and the segment muxer,
// and every segment is proven with ffprobe and a full decode.
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegmentMuxer } from '../../workers/record/segment-muxer.ts';
import type { SegmentClosed, StartTrack } from '../../workers/record/messages.ts';
import { decodeErrors } from '../helpers/ffprobe.ts';

interface Captured {
  packets: Buffer[];
  at: number[];
}

/** ffmpeg encodes `seconds` of a source into RTP towards a socket here; resolves with what arrived. */
async function capture(input: string[], encode: string[], seconds: number): Promise<Captured> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  const got: Captured = { packets: [], at: [] };
  socket.on('message', (m) => {
    if (m[1]! >= 192 && m[1]! <= 223) return; // RTCP
    got.packets.push(m);
    got.at.push(Date.now());
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const port = (socket.address() as { port: number }).port;
  const ff = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', ...input, '-t', String(seconds), ...encode, '-f', 'rtp', `rtp://127.0.0.1:${port}`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  ff.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => ff.on('close', r));
  await new Promise((r) => setTimeout(r, 100)); // the last datagrams on loopback
  socket.close();
  if (code !== 0) throw new Error(`ffmpeg: ${err}`);
  return got;
}

const PICTURE = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30'];
const TONE = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
const SECONDS = 5;

let root: string;
let vp8: Captured;
let h264: Captured;
let opus: Captured;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'muxer-'));
  [vp8, h264, opus] = await Promise.all([
    capture(PICTURE, ['-c:v', 'libvpx', '-b:v', '400k', '-g', '30', '-deadline', 'realtime', '-payload_type', '96'], SECONDS),
    capture(
      PICTURE,
      [
        '-c:v',
        'libx264',
        '-pix_fmt',
        'yuv420p',
        '-profile:v',
        'baseline',
        '-tune',
        'zerolatency',
        '-g',
        '30',
        '-bf',
        '0',
        '-payload_type',
        '102',
      ],
      SECONDS,
    ),
    capture(TONE, ['-c:a', 'libopus', '-ac', '2', '-b:a', '32k', '-payload_type', '111'], SECONDS),
  ]);
}, 30_000);

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const TRACKS = {
  vp8: { kind: 'video', codec: { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }, ext: 'webm' },
  h264: { kind: 'video', codec: { mimeType: 'video/H264', payloadType: 102, clockRate: 90000 }, ext: 'mkv' },
  opus: { kind: 'audio', codec: { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }, ext: 'webm' },
} as const;

let runs = 0;

/** Feeds captured packets (in order, minus `drop`) to a muxer; returns its segments, key-frame asks and errors. */
async function mux(name: keyof typeof TRACKS, c: Captured, drop = new Set<number>()) {
  const dir = path.join(root, `${name}-${++runs}`);
  const t: StartTrack = { type: 'start', trackId: name, dir, ssrc: 1, segmentSeconds: 2, startNumber: 1, stallMs: 1000, ...TRACKS[name] };
  const segments: Omit<SegmentClosed, 'type' | 'trackId'>[] = [];
  const errors: string[] = [];
  let keyAsks = 0;
  const muxer = new SegmentMuxer(t, {
    segment: (s) => segments.push(s),
    runStarted: () => undefined,
    keyFrameNeeded: () => keyAsks++,
    error: (m) => errors.push(m),
  });
  c.packets.forEach((p, i) => !drop.has(i) && muxer.push(p, c.at[i]!));
  await muxer.endRun();
  return { dir, segments, keyAsks, muxer, errors };
}

/** ffprobe's view of a file, and every error a full decode reports. */
function prove(file: string): { codec: string; width?: number; duration: number; frames: number; firstKey: boolean; decodeErrors: string } {
  const probe = JSON.parse(
    execFileSync(
      'ffprobe',
      ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,nb_read_frames:format=duration', '-of', 'json', file],
      { encoding: 'utf8' },
    ),
  ) as { streams: { codec_name: string; width?: number; nb_read_frames: string }[]; format: { duration: string } };
  const first = execFileSync(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'packet=flags', '-read_intervals', '%+#1', '-of', 'csv=p=0', file],
    {
      encoding: 'utf8',
    },
  );
  const decode = decodeErrors(file);
  const s = probe.streams[0]!;
  return {
    codec: s.codec_name,
    ...(s.width ? { width: s.width } : {}),
    duration: Number(probe.format.duration),
    frames: Number(s.nb_read_frames),
    firstKey: first.trim().startsWith('K'),
    decodeErrors: decode,
  };
}

describe('in-process muxing of recorded tracks', () => {
  for (const [name, codec, framesPerSecond] of [
    ['vp8', 'vp8', 30],
    ['h264', 'h264', 30],
    ['opus', 'opus', 50],
  ] as const) {
    it(`${name}: 2 s segments that decode fully, as long as their RTP time, every frame kept`, async () => {
      const c = { vp8, h264, opus }[name];
      const { dir, segments, muxer, errors } = await mux(name, c);
      expect(errors).toEqual([]);
      expect(segments.length, `${SECONDS} s in 2 s segments`).toBeGreaterThanOrEqual(2);
      expect(segments.map((s) => s.number)).toEqual(segments.map((_, i) => i + 1));
      expect(fs.readdirSync(dir).sort(), 'only closed, listed files').toEqual(segments.map((s) => s.file).sort());
      let frames = 0;
      for (const s of segments) {
        const p = prove(path.join(dir, s.file));
        const where = `${s.file}: ${JSON.stringify(p)} / ${JSON.stringify(s)}`;
        expect(p.codec, where).toBe(codec);
        expect(p.decodeErrors, where).toBe('');
        if (name !== 'opus') {
          expect(p.width, where).toBe(320);
          expect(p.firstKey, `a video segment starts on a key frame; ${where}`).toBe(true);
        }
        expect(Math.abs(p.duration - s.durationSeconds), `container duration = RTP span; ${where}`).toBeLessThan(0.05);
        expect(s.durationSeconds, where).toBeLessThan(2.6);
        frames += p.frames;
      }
      // Every frame ffmpeg sent is in the record (RTP carries `framesPerSecond` frames a second).
      const sent = new Set(c.packets.map((p) => p.readUInt32BE(4))).size;
      expect(sent).toBeGreaterThan(framesPerSecond * (SECONDS - 1));
      expect(frames).toBe(sent);
      expect(muxer.framesDropped).toBe(0);
      const span = segments.reduce((n, s) => n + s.durationSeconds, 0);
      expect(Math.abs(span - sent / framesPerSecond)).toBeLessThan(0.1);
    });
  }

  it('h264 sent one NAL unit per packet (single NAL unit mode) as well as aggregated (STAP-A) and fragmented (FU-A)', async () => {
    // ffmpeg aggregates its small NAL units (STAP-A) and fragments the big ones (FU-A); a sender in
    // packetization mode 0 sends each in a packet of its own. The same stream, re-sent that way:
    const types = new Set(h264.packets.map((p) => p[12]! & 0x1f));
    expect([...types].sort(), 'STAP-A and FU-A in what ffmpeg sent').toEqual([24, 28]);
    const packets: Buffer[] = [];
    const at: number[] = [];
    let seq = h264.packets[0]!.readUInt16BE(2);
    for (const [i, p] of h264.packets.entries()) {
      const nals: Buffer[] = [];
      if ((p[12]! & 0x1f) === 24)
        for (let k = 13; k + 2 <= p.length; k += 2 + p.readUInt16BE(k)) nals.push(p.subarray(k + 2, k + 2 + p.readUInt16BE(k)));
      else nals.push(p.subarray(12));
      for (const [n, nal] of nals.entries()) {
        const header = Buffer.from(p.subarray(0, 12));
        header.writeUInt16BE(seq++ & 0xffff, 2);
        if (n < nals.length - 1) header[1] = header[1]! & 0x7f; // the marker stays on the frame's last packet
        packets.push(Buffer.concat([header, nal]));
        at.push(h264.at[i]!);
      }
    }
    expect(packets.length).toBeGreaterThan(h264.packets.length);
    const { dir, segments, muxer, errors } = await mux('h264', { packets, at });
    expect(errors).toEqual([]);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    let frames = 0;
    for (const s of segments) {
      const p = prove(path.join(dir, s.file));
      expect(p.decodeErrors, s.file).toBe('');
      frames += p.frames;
    }
    expect(frames).toBe(new Set(h264.packets.map((p) => p.readUInt32BE(4))).size);
    expect(muxer.framesDropped).toBe(0);
  });

  for (const name of ['vp8', 'h264'] as const) {
    it(`${name}: a lost video packet costs the frames up to the next key frame, never a decode error`, async () => {
      const c = { vp8, h264 }[name];
      // Packets lost in the first segment's middle (never repaired): the frames that refer to them are left out.
      const at = Math.floor(c.packets.length / 8);
      const lost = new Set([at, at + 1, at + 2]);
      const lostTs = c.packets[at]!.readUInt32BE(4);
      const { dir, segments, keyAsks, muxer, errors } = await mux(name, c, lost);
      expect(errors).toEqual([]);
      let frames = 0;
      const written: { ts: number; key: boolean }[] = [];
      for (const s of segments) {
        const p = prove(path.join(dir, s.file));
        expect(p.decodeErrors, s.file).toBe('');
        frames += p.frames;
        const lines = execFileSync(
          'ffprobe',
          ['-v', 'error', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', path.join(dir, s.file)],
          {
            encoding: 'utf8',
          },
        );
        for (const line of lines.trim().split('\n')) {
          const [pts, flags] = line.split(',');
          written.push({ ts: s.rtpFirst! + Math.round(Number(pts) * 90000), key: flags!.startsWith('K') });
        }
      }
      // The first frame written after the loss is a key frame: nothing that refers to what was lost.
      const next = written.find((w) => w.ts >= lostTs);
      expect(next, `a frame after the loss (${written.length} written)`).toBeDefined();
      expect(next!.key, `the first frame after the loss is a key frame: ${JSON.stringify(next)}`).toBe(true);
      expect(keyAsks, 'a key frame is asked for').toBeGreaterThan(0);
      expect(muxer.framesDropped).toBeGreaterThan(0);
      // Every frame that kept a packet is either in the record or counted as left out.
      const touched = new Set(c.packets.filter((_, i) => !lost.has(i)).map((p) => p.readUInt32BE(4))).size;
      expect(frames + muxer.framesDropped).toBe(touched);
    });
  }

  it('a segment the muxer fails on is given up and reported once; the track goes on from the next key frame', async () => {
    // A sender's first key frame that announces a zero width: the muxer refuses its decoder config.
    const packets = vp8.packets.map((p) => Buffer.from(p));
    const first = packets[0]!;
    let d = 13; // after the VP8 payload descriptor's first byte (RFC 7741 4.2)
    if (first[12]! & 0x80) {
      const x = first[d++]!;
      if (x & 0x80) d += first[d]! & 0x80 ? 2 : 1;
      if (x & 0x40) d++;
      if (x & 0x30) d++;
    }
    expect(first.subarray(d + 3, d + 6), 'the key frame start code').toEqual(Buffer.from([0x9d, 0x01, 0x2a]));
    first[d + 6] = 0;
    first[d + 7] = 0;
    const { dir, segments, muxer, errors } = await mux('vp8', { packets, at: vp8.at });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/codedWidth.*segment 000001\.webm given up/);
    expect(muxer.segmentsGivenUp).toBe(1);
    expect(segments.length, 'the rest of the track is recorded').toBeGreaterThanOrEqual(2);
    expect(fs.readdirSync(dir).sort(), 'no half-written file left').toEqual(segments.map((x) => x.file).sort());
    let frames = 0;
    for (const x of segments) {
      const p = prove(path.join(dir, x.file));
      expect(p.decodeErrors, x.file).toBe('');
      frames += p.frames;
    }
    // What is lost is the first second (up to the next key frame: ffmpeg sends one a second), no more.
    const sent = new Set(vp8.packets.map((p) => p.readUInt32BE(4))).size;
    expect(frames).toBe(sent - 30);
  });
  it('a muxer that falls far behind drops frames, says how many, and goes on; its memory stays bounded', async () => {
    // 1,500 Opus frames (30 s) handed over at once, faster than any muxer writes them.
    const packets: Buffer[] = [];
    const at: number[] = [];
    for (let k = 0; k < 1500; k++) {
      const p = Buffer.from(opus.packets[k % opus.packets.length]!);
      p.writeUInt16BE(k & 0xffff, 2);
      p.writeUInt32BE((k * 960) >>> 0, 4);
      packets.push(p);
      at.push(1_000_000 + k * 20);
    }
    const { dir, segments, muxer, errors } = await mux('opus', { packets, at });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^muxer: \d+ frames dropped while 1000 waited to be written/);
    // At most 1,000 wait (plus the one being written and the one held for its length): the rest is dropped, and counted.
    expect(muxer.framesDropped, 'what did not fit is dropped').toBeGreaterThanOrEqual(1500 - 1000 - 2);
    expect(errors[0]).toContain(`${muxer.framesDropped} frames dropped`);
    let frames = 0;
    for (const x of segments) {
      const p = prove(path.join(dir, x.file));
      expect(p.decodeErrors, x.file).toBe('');
      frames += p.frames;
    }
    expect(frames + muxer.framesDropped).toBe(1500);
  });
});
