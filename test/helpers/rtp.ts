import dgram from 'node:dgram';
import { isRtcp } from '../../benchmarks/lib/rtp.ts';

/** A minimal RTP packet (RFC 3550 fixed header, no CSRC, no extension) with a 4-byte index payload. */
export function rtpPacket(opts: {
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  index: number;
  size?: number;
}): Buffer {
  const packet = Buffer.alloc(12 + Math.max(4, opts.size ?? 40));
  packet[0] = 0x80;
  packet[1] = opts.payloadType & 0x7f;
  packet.writeUInt16BE(opts.seq & 0xffff, 2);
  packet.writeUInt32BE(opts.timestamp >>> 0, 4);
  packet.writeUInt32BE(opts.ssrc >>> 0, 8);
  packet.writeUInt32BE(opts.index >>> 0, 12);
  return packet;
}

export interface ReceivedRtp {
  seq: number;
  payloadType: number;
  ssrc: number;
  index: number;
}

/** Parses an RTP packet from mediasoup, skipping CSRCs and header extensions. */
export function parseRtp(packet: Buffer): ReceivedRtp | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2 || isRtcp(packet)) return undefined;
  let offset = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  if (offset + 4 > packet.length) return undefined;
  return { seq: packet.readUInt16BE(2), payloadType: packet[1]! & 0x7f, ssrc: packet.readUInt32BE(8), index: packet.readUInt32BE(offset) };
}

/** A UDP receiver on 127.0.0.1 collecting RTP packets. */
/**
 * A socket counting the RTP it gets. `from`: only packets from this port count (tests run in parallel, and
 * another test's stray RTP may reach a port that was its own a moment ago).
 */
export async function rtpReceiver(from?: () => number): Promise<{ port: number; packets: ReceivedRtp[]; close: () => void }> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const packets: ReceivedRtp[] = [];
  socket.on('message', (msg, rinfo) => {
    const expected = from?.();
    if (expected !== undefined && rinfo.port !== expected) return;
    const rtp = parseRtp(msg);
    if (rtp) packets.push(rtp);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, packets, close: () => socket.close() };
}
