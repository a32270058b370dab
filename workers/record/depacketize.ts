// RTP payloads back into the frames a muxer takes (RFC 7587 Opus, RFC 7741 VP8, RFC 6184 H.264), from
// packets already put in sequence order by RtpReorder. A frame missing any of its packets is never
// passed on; after a video loss, frames are dropped until the next key frame (they refer to what was
// lost), so what reaches the file decodes without errors and a loss is at most a gap.

export interface Frame {
  /** Opus: one packet; VP8: the frame; H.264: the access unit's NAL units, each with a 4-byte length. */
  data: Uint8Array;
  key: boolean;
  /** The RTP timestamp (32-bit) of the frame. */
  rtpTs: number;
}

export interface VideoShape {
  width: number;
  height: number;
  /** H.264: the AVCDecoderConfigurationRecord (avcC) built from the stream's SPS and PPS. */
  description?: Uint8Array;
  codec: string;
}

/** The RTP payload of a packet (after CSRCs, header extension and padding), or undefined if malformed. */
export function rtpPayload(packet: Uint8Array): Uint8Array | undefined {
  if (packet.length < 12) return undefined;
  const cc = packet[0]! & 0x0f;
  let offset = 12 + 4 * cc;
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + 4 * ((packet[offset + 2]! << 8) | packet[offset + 3]!);
  }
  let end = packet.length;
  if (packet[0]! & 0x20) end -= packet[end - 1]!;
  return offset <= end ? packet.subarray(offset, end) : undefined;
}

const u16 = (p: Uint8Array, i: number): number => (p[i]! << 8) | p[i + 1]!;
const seqOf = (p: Uint8Array): number => u16(p, 2);
const tsOf = (p: Uint8Array): number => ((p[4]! << 24) | (p[5]! << 16) | (p[6]! << 8) | p[7]!) >>> 0;
const markerOf = (p: Uint8Array): boolean => (p[1]! & 0x80) !== 0;

/** Collects one frame's payload pieces; knows whether any packet of it is missing. */
abstract class FrameAssembler {
  private lastSeq: number | null = null;
  private pieces: Uint8Array[] = [];
  private ts: number | null = null;
  private broken = false;
  private started = false;
  /** Video: after a loss, nothing until a key frame. */
  private needKey: boolean;
  /** Frames dropped because they were incomplete or referred to lost data. */
  dropped = 0;

  /** Video: whether frames are being dropped until a key frame comes. */
  get awaitingKey(): boolean {
    return this.needKey;
  }

  constructor(private readonly video: boolean) {
    this.needKey = video;
  }

  /** Every packet, in sequence order; returns the frames it completes. */
  push(packet: Uint8Array): Frame[] {
    const out: Frame[] = [];
    const payload = rtpPayload(packet);
    const seq = seqOf(packet);
    const ts = tsOf(packet);
    const continuous = this.lastSeq === null || seq === ((this.lastSeq + 1) & 0xffff);
    this.lastSeq = seq;
    // A hole: the frame under way lost its tail or middle; a frame still to come may have lost its head.
    if (!continuous && this.ts !== null) this.broken = true;
    if (this.ts !== null && ts !== this.ts) this.emit(out); // a frame whose marker never came
    if (!continuous && this.video) this.needKey = true;
    if (!payload || payload.length === 0) return out;
    if (this.ts === null) {
      this.ts = ts;
      this.started = false;
      // Where the start of a frame is not marked in its packets (H.264's slices), a frame right after a
      // hole is not trusted.
      this.broken = !continuous && !this.marksStart;
    }
    const piece = this.piece(payload);
    if (piece === undefined) this.broken = true;
    else {
      if (piece.start) this.started = true;
      if (piece.data.length) this.pieces.push(piece.data);
    }
    if (markerOf(packet) || !this.video) this.emit(out);
    return out;
  }

  private emit(out: Frame[]): void {
    const ts = this.ts;
    const pieces = this.pieces;
    const complete = this.started && !this.broken && pieces.length > 0;
    this.pieces = [];
    this.ts = null;
    this.broken = false;
    this.started = false;
    if (ts === null) return;
    const frame = complete ? this.frame(pieces, ts) : undefined;
    if (!frame || (this.needKey && !frame.key)) {
      this.dropped++;
      return;
    }
    this.needKey = false;
    out.push(frame);
  }

  /** A packet's part of its frame; `start` when it begins the frame; undefined when it cannot be read. */
  protected abstract piece(payload: Uint8Array): { data: Uint8Array; start: boolean } | undefined;
  /** Whether a frame's first packet says so (VP8's S bit, every Opus packet). */
  protected readonly marksStart: boolean = true;
  /** The frame from its pieces, or undefined when they do not make one. */
  protected abstract frame(pieces: Uint8Array[], ts: number): Frame | undefined;
  /** What a decoder needs to know, once a key frame told it. */
  abstract shape(): VideoShape | undefined;
}

const concat = (pieces: Uint8Array[]): Uint8Array => {
  if (pieces.length === 1) return pieces[0]!; // a view of the packet: the muxer copies what it writes
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Opus: each packet is one Opus packet (RFC 7587). */
export class OpusDepacketizer extends FrameAssembler {
  constructor() {
    super(false);
  }
  protected piece(payload: Uint8Array): { data: Uint8Array; start: boolean } {
    return { data: payload, start: true };
  }
  protected frame(pieces: Uint8Array[], ts: number): Frame {
    return { data: concat(pieces), key: true, rtpTs: ts };
  }
  shape(): undefined {
    return undefined;
  }
}

/** VP8 (RFC 7741): strips the payload descriptor; a frame starts at S=1, partition 0. */
export class Vp8Depacketizer extends FrameAssembler {
  private size?: { width: number; height: number };
  constructor() {
    super(true);
  }
  protected piece(p: Uint8Array): { data: Uint8Array; start: boolean } | undefined {
    let i = 1;
    if (p[0]! & 0x80) {
      const x = p[i++]!;
      if (x & 0x80) i += p[i]! & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
      if (x & 0x40) i++; // TL0PICIDX
      if (x & 0x30) i++; // TID/Y/KEYIDX
    }
    if (i > p.length) return undefined;
    return { data: p.subarray(i), start: (p[0]! & 0x10) !== 0 && (p[0]! & 0x07) === 0 };
  }
  protected frame(pieces: Uint8Array[], ts: number): Frame | undefined {
    const data = concat(pieces);
    if (data.length < 3) return undefined;
    const key = (data[0]! & 0x01) === 0;
    if (key) {
      // A key frame's header: 3-byte tag, start code 9d 01 2a, then 14-bit width and height.
      if (data.length < 10 || data[3] !== 0x9d || data[4] !== 0x01 || data[5] !== 0x2a) return undefined;
      this.size = { width: u16le(data, 6) & 0x3fff, height: u16le(data, 8) & 0x3fff };
    }
    return { data, key, rtpTs: ts };
  }
  shape(): VideoShape | undefined {
    return this.size && { ...this.size, codec: 'vp8' };
  }
}

const u16le = (p: Uint8Array, i: number): number => p[i]! | (p[i + 1]! << 8);

/** H.264 (RFC 6184, packetization mode 0 and 1): single NAL units, STAP-A and FU-A. */
export class H264Depacketizer extends FrameAssembler {
  private sps?: Uint8Array;
  private pps?: Uint8Array;
  private config?: VideoShape;
  protected override readonly marksStart = false;
  constructor() {
    super(true);
  }
  protected piece(p: Uint8Array): { data: Uint8Array; start: boolean } | undefined {
    const type = p[0]! & 0x1f;
    if (type >= 1 && type <= 23) return { data: lengthPrefixed([p]), start: true };
    if (type === 24) {
      const nals: Uint8Array[] = [];
      for (let i = 1; i + 2 <= p.length;) {
        const n = u16(p, i);
        i += 2;
        if (n === 0 || i + n > p.length) return undefined;
        nals.push(p.subarray(i, i + n));
        i += n;
      }
      return { data: lengthPrefixed(nals), start: true };
    }
    if (type === 28) {
      if (p.length < 2) return undefined;
      const fu = p[1]!;
      const start = (fu & 0x80) !== 0;
      // The fragments of one NAL unit are joined in frame(): each piece here carries a marker of its own.
      return { data: fuPiece(start, (p[0]! & 0xe0) | (fu & 0x1f), p.subarray(2)), start };
    }
    return undefined; // STAP-B, MTAP, FU-B: not in packetization modes 0 and 1
  }
  protected frame(pieces: Uint8Array[], ts: number): Frame | undefined {
    // Join FU-A fragments into their NAL units; single NAL units and STAP-A are already length-prefixed.
    const nals: Uint8Array[] = [];
    let fragment: Uint8Array[] | null = null;
    for (const piece of pieces) {
      const kind = piece[0];
      const body = piece.subarray(1);
      if (kind === FU_START) {
        if (fragment) nals.push(concat(fragment)); // the previous NAL unit's end marker is not needed
        fragment = [body];
      } else if (kind === FU_MIDDLE) {
        if (!fragment) return undefined;
        fragment.push(body);
      } else {
        if (fragment) nals.push(concat(fragment));
        fragment = null;
        for (let i = 0; i + 4 <= body.length;) {
          const n = ((body[i]! << 24) | (body[i + 1]! << 16) | (body[i + 2]! << 8) | body[i + 3]!) >>> 0;
          nals.push(body.subarray(i + 4, i + 4 + n));
          i += 4 + n;
        }
      }
    }
    if (fragment) nals.push(concat(fragment));
    let key = false;
    const kept: Uint8Array[] = [];
    for (const nal of nals) {
      const type = nal[0]! & 0x1f;
      if (type === 7) this.sps = nal.slice();
      else if (type === 8) this.pps = nal.slice();
      if (type === 5) key = true;
      if (type !== 9) kept.push(nal); // access unit delimiters are not kept
    }
    if (key) {
      if (!this.sps || !this.pps) return undefined; // an IDR without its parameter sets cannot be decoded
      const size = spsSize(this.sps);
      if (!size) return undefined;
      this.config = { ...size, codec: `avc1.${hex(this.sps.subarray(1, 4))}`, description: avcC(this.sps, this.pps) };
    }
    if (!kept.length) return undefined;
    return { data: lengthPrefixed(kept, false), key, rtpTs: ts };
  }
  shape(): VideoShape | undefined {
    return this.config;
  }
}

// Pieces of an H.264 frame carry a tag byte: a FU-A start or middle fragment, or length-prefixed NAL units.
const FU_START = 1;
const FU_MIDDLE = 2;
const NALS = 0;

function fuPiece(start: boolean, header: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + (start ? 2 : 1));
  out[0] = start ? FU_START : FU_MIDDLE;
  if (start) out[1] = header;
  out.set(body, start ? 2 : 1);
  return out;
}

/** NAL units, each behind its 4-byte length (AVCC); `tagged` puts the piece tag in front. */
function lengthPrefixed(nals: Uint8Array[], tagged = true): Uint8Array {
  const head = tagged ? 1 : 0;
  const out = new Uint8Array(nals.reduce((n, x) => n + 4 + x.length, 0) + head);
  if (tagged) out[0] = NALS;
  let at = head;
  for (const nal of nals) {
    new DataView(out.buffer, out.byteOffset).setUint32(at, nal.length);
    out.set(nal, at + 4);
    at += 4 + nal.length;
  }
  return out;
}

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** AVCDecoderConfigurationRecord (ISO 14496-15) with one SPS and one PPS, 4-byte NAL lengths. */
function avcC(sps: Uint8Array, pps: Uint8Array): Uint8Array {
  const out = new Uint8Array(11 + sps.length + pps.length);
  out.set([1, sps[1]!, sps[2]!, sps[3]!, 0xff, 0xe1, sps.length >> 8, sps.length & 0xff], 0);
  out.set(sps, 8);
  out.set([1, pps.length >> 8, pps.length & 0xff], 8 + sps.length);
  out.set(pps, 11 + sps.length);
  return out;
}

/** The picture size an SPS (ITU-T H.264 7.3.2.1.1) announces, cropping applied; undefined if unreadable. */
export function spsSize(nal: Uint8Array): { width: number; height: number } | undefined {
  // Emulation prevention bytes (00 00 03) are removed before the bits are read.
  const rbsp: number[] = [];
  for (let i = 1; i < nal.length; i++) {
    if (i >= 3 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    rbsp.push(nal[i]!);
  }
  let bit = 0;
  const read = (n: number): number => {
    let v = 0;
    for (let k = 0; k < n; k++, bit++) {
      if (bit >> 3 >= rbsp.length) throw new RangeError('SPS ends early');
      v = (v << 1) | ((rbsp[bit >> 3]! >> (7 - (bit & 7))) & 1);
    }
    return v;
  };
  const ue = (): number => {
    let zeros = 0;
    while (read(1) === 0) if (++zeros > 31) throw new RangeError('bad exp-Golomb');
    return (1 << zeros) - 1 + read(zeros);
  };
  const se = (): number => {
    const k = ue();
    return k & 1 ? (k + 1) / 2 : -k / 2;
  };
  try {
    const profile = read(8);
    read(16); // constraint flags, level
    ue(); // seq_parameter_set_id
    let chroma = 1;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chroma = ue();
      if (chroma === 3) read(1);
      ue(); // bit_depth_luma_minus8
      ue(); // bit_depth_chroma_minus8
      read(1);
      if (read(1)) {
        for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
          if (!read(1)) continue;
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
            if (next !== 0) next = (last + se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    ue(); // log2_max_frame_num_minus4
    const pocType = ue();
    if (pocType === 0) ue();
    else if (pocType === 1) {
      read(1);
      se();
      se();
      const n = ue();
      for (let i = 0; i < n; i++) se();
    }
    ue(); // max_num_ref_frames
    read(1);
    const widthMbs = ue() + 1;
    const heightMapUnits = ue() + 1;
    const frameMbsOnly = read(1);
    if (!frameMbsOnly) read(1);
    read(1);
    let [left, right, top, bottom] = [0, 0, 0, 0];
    if (read(1)) [left, right, top, bottom] = [ue(), ue(), ue(), ue()];
    const cropX = chroma === 1 || chroma === 2 ? 2 : 1;
    const cropY = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
    return {
      width: widthMbs * 16 - cropX * (left + right),
      height: (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (top + bottom),
    };
  } catch {
    return undefined;
  }
}

export type Depacketizer = OpusDepacketizer | Vp8Depacketizer | H264Depacketizer;

/** The depacketizer for a codec (mime type), or undefined when this recorder cannot mux it. */
export function depacketizerFor(mimeType: string): Depacketizer | undefined {
  const m = mimeType.toLowerCase();
  if (m === 'audio/opus') return new OpusDepacketizer();
  if (m === 'video/vp8') return new Vp8Depacketizer();
  if (m === 'video/h264') return new H264Depacketizer();
  return undefined;
}
