// Child process: paces RTP to the SFU's (or relay's) ingest ports for a bounded time.
import dgram from 'node:dgram';
import { buildPacket } from '../lib/rtp.ts';
import type { FromChild, LoadProfile, SendTarget, ToChild } from './messages.ts';

const send = (m: FromChild): void => void process.send?.(m);

async function run(targets: SendTarget[], profile: LoadProfile): Promise<void> {
  const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const sent = targets.map(() => 0);
  // Answer PLI/FIR (RTCP payload-specific feedback) from the SFU with a key frame, as a camera would.
  const forceKey = targets.map(() => false);
  const bySsrc = new Map(targets.map((t, i) => [t.ssrc >>> 0, i]));
  socket.on('message', (packet) => {
    for (let offset = 0; offset + 12 <= packet.length;) {
      const fmt = packet[offset]! & 0x1f;
      const pt = packet[offset + 1]!;
      const words = packet.readUInt16BE(offset + 2);
      if (pt === 206 && (fmt === 1 || fmt === 4)) {
        const media = fmt === 1 ? packet.readUInt32BE(offset + 8) : packet.length >= offset + 16 ? packet.readUInt32BE(offset + 12) : 0;
        const i = bySsrc.get(media);
        if (i !== undefined) forceKey[i] = true;
      }
      offset += (words + 1) * 4;
    }
  });
  const frames = targets.map(() => 0);
  const seq = targets.map(() => Math.floor(Math.random() * 60000));
  const start = process.hrtime.bigint();
  const endNs = BigInt(Math.round(profile.seconds * 1e9));
  const frameBytes = Math.round((profile.video.kbps * 1000) / 8 / profile.video.fps);
  const packetsPerFrame = Math.max(1, Math.ceil(frameBytes / profile.video.mtu));
  const keyEvery = Math.max(1, Math.round(profile.video.fps * profile.video.keyFrameEverySeconds));

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsedNs = process.hrtime.bigint() - start;
      const elapsed = Number(elapsedNs) / 1e9;
      targets.forEach((t, i) => {
        if (t.kind === 'audio') {
          const due = Math.min(Math.floor(elapsed * profile.audio.pps), Math.floor(profile.seconds * profile.audio.pps));
          while (sent[i]! < due) {
            const index = sent[i]!;
            socket.send(
              buildPacket({
                payloadType: t.payloadType,
                seq: seq[i]! + index,
                timestamp: index * 960,
                ssrc: t.ssrc,
                size: profile.audio.bytes,
                producer: t.producer,
                index,
              }),
              t.port,
              t.ip,
            );
            sent[i] = index + 1;
          }
        } else {
          const due = Math.min(Math.floor(elapsed * profile.video.fps), Math.floor(profile.seconds * profile.video.fps));
          while (frames[i]! < due) {
            const frame = frames[i]!;
            const keyFrame = frame % keyEvery === 0 || forceKey[i]!;
            forceKey[i] = false;
            for (let k = 0; k < packetsPerFrame; k++) {
              const index = sent[i]!;
              const last = k === packetsPerFrame - 1;
              const packet = buildPacket({
                payloadType: t.payloadType,
                seq: seq[i]! + index,
                timestamp: frame * 3000,
                ssrc: t.ssrc,
                marker: last,
                size: last ? frameBytes - k * profile.video.mtu + 12 : profile.video.mtu + 12,
                producer: t.producer,
                index,
                vp8: { start: k === 0, keyFrame, pictureId: frame & 0x7fff },
              });
              socket.send(packet, t.port, t.ip);
              sent[i] = index + 1;
            }
            frames[i] = frame + 1;
          }
        }
      });
      if (elapsedNs >= endNs) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  // Let the socket flush before reporting.
  await new Promise((r) => setTimeout(r, 100));
  socket.close();
  send({ type: 'sent', sent });
}

process.on('message', (m: ToChild) => {
  if (m.type === 'start') void run(m.targets, m.profile);
});
