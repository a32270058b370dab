// Pre-encoded media for load-test bots: a camera clip (VP8) and a tone (Opus) encoded once by ffmpeg and
// captured as RTP packets with their send times; every bot replays the same packets (its own SSRC,
// sequence numbers and timestamps), so a bot costs no encoding at run time.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface Packet {
  /** Offset from the start of the clip (ms), from the packet's RTP timestamp. */
  atMs: number;
  data: Buffer;
}

export interface Clip {
  kind: 'audio' | 'video';
  payloadType: number;
  clockRate: number;
  durationMs: number;
  packets: Packet[];
}

/** Seconds of media each bot loops over. */
export const CLIP_SECONDS = 6;

let clips: Promise<{ audio: Clip; video: Clip }> | undefined;

/** The two clips, made once per process (about CLIP_SECONDS / 4 s: ffmpeg reads at 4x real time). */
export function botClips(): Promise<{ audio: Clip; video: Clip }> {
  clips ??= Promise.all([
    capture('audio', 111, 48000, [
      '-f',
      'lavfi',
      '-i',
      `sine=frequency=440:sample_rate=48000:duration=${CLIP_SECONDS}`,
      '-c:a',
      'libopus',
      '-b:a',
      '32k',
      '-ac',
      '2',
    ]),
    capture('video', 96, 90000, [
      ...['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=15:duration=${CLIP_SECONDS}`],
      ...[
        '-c:v',
        'libvpx',
        '-deadline',
        'realtime',
        '-cpu-used',
        '8',
        '-b:v',
        '300k',
        '-g',
        '15',
        '-keyint_min',
        '15',
        '-auto-alt-ref',
        '0',
      ],
    ]),
  ]).then(([audio, video]) => ({ audio, video }));
  return clips;
}

async function capture(kind: 'audio' | 'video', payloadType: number, clockRate: number, input: string[]): Promise<Clip> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = (socket.address() as AddressInfo).port;
  const packets: Buffer[] = [];
  socket.on('message', (m) => packets.push(m));
  const ffmpeg = spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-readrate', '4'],
      ...input,
      ...['-payload_type', String(payloadType), '-ssrc', '1', '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=1200`],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  ffmpeg.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => ffmpeg.on('close', resolve));
  // The last packets may still be in the socket's queue.
  await new Promise((r) => setTimeout(r, 100));
  socket.close();
  if (code !== 0) throw new Error(`ffmpeg could not make the bots' ${kind} clip: ${stderr.trim()}`);
  const rtp = packets.filter((p) => p.length > 12 && (p[1]! & 0x7f) === payloadType);
  if (rtp.length === 0) throw new Error(`ffmpeg made no ${kind} RTP packets`);
  const first = rtp[0]!.readUInt32BE(4);
  return {
    kind,
    payloadType,
    clockRate,
    durationMs: CLIP_SECONDS * 1000,
    packets: rtp.map((data) => ({ atMs: (((data.readUInt32BE(4) - first) >>> 0) * 1000) / clockRate, data })),
  };
}
