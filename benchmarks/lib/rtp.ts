/**
 * RTP packets for load generation. Every packet ends with a 16-byte trailer the receivers read:
 * producer index (u32), packet index (u32), send time (u64, ns of the system monotonic clock, which
 * process.hrtime.bigint() reads in every process on the machine).
 */
export const TRAILER = 16;

export interface PacketSpec {
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  marker?: boolean;
  size: number;
  producer: number;
  index: number;
  /** VP8 payload descriptor: present for video; `keyFrame` marks the first packet of a key frame. */
  vp8?: { start: boolean; keyFrame: boolean; pictureId: number };
}

export function buildPacket(spec: PacketSpec, sentNs: bigint = process.hrtime.bigint()): Buffer {
  const packet = Buffer.alloc(Math.max(spec.size, 12 + 14 + TRAILER));
  packet[0] = 0x80;
  packet[1] = (spec.marker ? 0x80 : 0) | (spec.payloadType & 0x7f);
  packet.writeUInt16BE(spec.seq & 0xffff, 2);
  packet.writeUInt32BE(spec.timestamp >>> 0, 4);
  packet.writeUInt32BE(spec.ssrc >>> 0, 8);
  if (spec.vp8) {
    // X=1, S=start, PID=0 | I=1 | two-byte picture id | VP8 frame tag (bit 0 clear on key frames).
    packet[12] = spec.vp8.start ? 0x90 : 0x80;
    packet[13] = 0x80;
    packet[14] = 0x80 | ((spec.vp8.pictureId >> 8) & 0x7f);
    packet[15] = spec.vp8.pictureId & 0xff;
    // Frame tag (key frame: bit 0 clear; show_frame), then on key frames the start code and 640x480,
    // so muxers that read dimensions from the bitstream find them.
    if (spec.vp8.start)
      packet.set(spec.vp8.keyFrame ? [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01] : [0x11, 0x02, 0x00], 16);
  }
  writeTrailer(packet, spec.producer, spec.index, sentNs);
  return packet;
}

export function writeTrailer(packet: Buffer, producer: number, index: number, sentNs: bigint): void {
  const at = packet.length - TRAILER;
  packet.writeUInt32BE(producer >>> 0, at);
  packet.writeUInt32BE(index >>> 0, at + 4);
  packet.writeBigUInt64BE(sentNs, at + 8);
}

export function readTrailer(packet: Buffer): { producer: number; index: number; sentNs: bigint } {
  const at = packet.length - TRAILER;
  return { producer: packet.readUInt32BE(at), index: packet.readUInt32BE(at + 4), sentNs: packet.readBigUInt64BE(at + 8) };
}

/** RTCP shares the port with RTP (rtcp-mux): its packet types are 192–223 in the second byte. */
export function isRtcp(packet: Buffer): boolean {
  return packet.length >= 2 && packet[1]! >= 192 && packet[1]! <= 223;
}

export function isRtp(packet: Buffer): boolean {
  return packet.length >= 12 + TRAILER && packet[0]! >> 6 === 2 && !isRtcp(packet);
}
