// A participant whose camera and microphone are a clip sent as RTP into the hearing by ffmpeg (copied,
// not encoded): a phone or a courtroom camera without a browser.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HearingServer } from '../../server/app/server.ts';

/**
 * A 10 s camera clip (VP8 640x480 25 fps, a key frame each second) and a tone (Opus), encoded once: the
 * participants send copies of it in a loop, which costs next to no CPU (a live encoder per participant
 * would take the machine's cores before the test starves it).
 */
function cameraClip(): string {
  const file = path.join(os.tmpdir(), `starved-camera-${process.pid}.webm`);
  if (!fs.existsSync(file)) {
    execFileSync('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y'],
      ...['-f', 'lavfi', '-i', 'testsrc2=s=640x480:r=25:d=10', '-f', 'lavfi', '-i', 'sine=f=440:r=48000:d=10'],
      ...['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-g', '25', '-keyint_min', '25'],
      ...['-c:a', 'libopus', '-b:a', '32k', file],
    ]);
  }
  return file;
}

/**
 * A participant whose camera and microphone are the clip, sent as RTP into the hearing (copied, not
 * encoded), at a higher priority than the busy siblings: it stands for a phone, which is another machine.
 */
export async function camera(server: HearingServer, hearingId: string, participantId: string, n: number): Promise<ChildProcess> {
  const room = await server.plane.room(hearingId);
  const ssrc = { video: 0x50000000 + n * 2, audio: 0x50000001 + n * 2 };
  const ports: number[] = [];
  for (const kind of ['video', 'audio'] as const) {
    const transport = await room.createPlainTransport(participantId, 'send', { comedia: true });
    const codec =
      kind === 'audio'
        ? { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }
        : { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] };
    await room.produce(
      participantId,
      transport.id,
      kind,
      { codecs: [codec], encodings: [{ ssrc: ssrc[kind] }] },
      kind === 'audio' ? 'mic' : 'camera',
    );
    ports.push(transport.tuple.localPort);
  }
  return spawn(
    'nice',
    [
      ...['-n', '-5', 'ffmpeg', '-hide_banner', '-loglevel', 'error'],
      ...['-re', '-stream_loop', '-1', '-i', cameraClip()],
      ...['-map', '0:v', '-c:v', 'copy', '-ssrc', String(ssrc.video), '-payload_type', '96'],
      ...['-f', 'rtp', `rtp://127.0.0.1:${ports[0]}?pkt_size=1200`],
      ...['-map', '0:a', '-c:a', 'copy', '-ssrc', String(ssrc.audio), '-payload_type', '111'],
      ...['-f', 'rtp', `rtp://127.0.0.1:${ports[1]}`],
    ],
    { stdio: 'ignore' },
  );
}
