// What the gateway takes from a terminal's SDP offer, and the answer it gives (sdp-transform parses
// and writes). Sound: Opus passes through to the hearing as it is; G.722, G.711 A-law and µ-law are
// transcoded to Opus (and the hearing back to them). Video: H.264 passes through when its profile is one
// the hearing's router carries: packetization mode 1, or mode 0 (one NAL unit a packet, which mode 1
// receivers take as it is; what the terminal receives is then sent in mode 0 too). An offer with no
// sound the gateway takes gets 488.
import sdpTransform from 'sdp-transform';
import { isSameProfile } from 'h264-profile-level-id';
import { mediaCodecs } from '../../workers/media/config.ts';

export interface OfferedMedia {
  kind: 'audio' | 'video';
  /** Where the terminal receives (and, symmetric RTP, sends from). */
  address: string;
  port: number;
  rtcpPort: number;
  rtcpMux: boolean;
  payloadType: number;
  mimeType: SoundCodec | 'video/H264';
  clockRate: number;
  channels?: number;
  parameters: Record<string, string | number>;
  /** The m-line's index in the offer (the answer keeps the order). */
  index: number;
  /** H.264 in packetization mode 0 (a terminal that takes only single NAL unit packets). */
  singleNal?: boolean;
}

/** Sound the gateway takes, best first: Opus as it is; the others through a transcoder. */
export const SOUND_CODECS = ['audio/opus', 'audio/G722', 'audio/PCMA', 'audio/PCMU'] as const;
export type SoundCodec = (typeof SOUND_CODECS)[number];
/** RFC 3551's static payload types (an offer may list them without an rtpmap). */
const STATIC: Record<number, { codec: string; rate: number }> = {
  0: { codec: 'PCMU', rate: 8000 },
  8: { codec: 'PCMA', rate: 8000 },
  9: { codec: 'G722', rate: 8000 },
};

export interface ParsedOffer {
  /** The media the gateway takes, at most one sound and one video. */
  taken: OfferedMedia[];
  /** Every m-line of the offer, by kind (the answer rejects the others with port 0). */
  lines: { kind: string; protocol: string; payloads: string }[];
}

/**
 * Whether the hearing's router carries this H.264 (workers/media/config.ts) in packetization `mode`: a
 * profile the router has, matched by profile as mediasoup matches it (constrained baseline is not
 * baseline). The router's codecs are mode 1; a mode 0 stream is one a mode 1 receiver takes as it is.
 */
const routerTakesH264 = (p: Record<string, string | number>, mode: 0 | 1): boolean =>
  Number(p['packetization-mode'] ?? 0) === mode &&
  mediaCodecs.some((c) => c.mimeType === 'video/H264' && isSameProfile(c.parameters ?? {}, p));

/** Parses an offer; throws when it is not SDP at all. */
export function parseOffer(text: string): ParsedOffer {
  const session = sdpTransform.parse(text);
  if (!session.media?.length) throw new Error('no media in the offer');
  const taken: OfferedMedia[] = [];
  const lines: ParsedOffer['lines'] = [];
  session.media.forEach((m, index) => {
    lines.push({ kind: m.type, protocol: m.protocol, payloads: String(m.payloads ?? '') });
    const address = m.connection?.ip ?? session.connection?.ip;
    if (!address || m.port === 0 || !/^RTP\/AVPF?$/.test(m.protocol)) return;
    if (taken.some((t) => t.kind === m.type)) return;
    const fmtp = (pt: number): Record<string, string | number> =>
      Object.fromEntries(
        (m.fmtp ?? [])
          .filter((f) => f.payload === pt)
          .flatMap((f) => Object.entries(sdpTransform.parseParams(f.config)).map(([k, v]) => [k, v as string | number])),
      );
    const common = {
      address,
      port: m.port,
      rtcpPort: m.rtcp?.port ?? m.port + 1,
      rtcpMux: m.rtcpMux !== undefined,
      index,
    };
    if (m.type === 'audio') {
      // Every payload type offered, with its rtpmap or, for a static one without, RFC 3551's meaning.
      const offered = String(m.payloads ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
        .map((pt) => {
          const map = (m.rtp ?? []).find((r) => r.payload === pt);
          return map ? { pt, codec: map.codec.toUpperCase(), rate: map.rate ?? 0 } : { pt, ...(STATIC[pt] ?? { codec: '', rate: 0 }) };
        });
      const match = (mime: SoundCodec) =>
        offered.find((o) =>
          mime === 'audio/opus' ? o.codec === 'OPUS' && o.rate === 48000 : o.codec === mime.slice(6).toUpperCase() && o.rate === 8000,
        );
      const mimeType = SOUND_CODECS.find((c) => match(c));
      if (mimeType) {
        const chosen = match(mimeType)!;
        taken.push({
          ...common,
          kind: 'audio',
          payloadType: chosen.pt,
          mimeType,
          clockRate: chosen.rate,
          ...(mimeType === 'audio/opus' ? { channels: 2 } : {}),
          parameters: fmtp(chosen.pt),
        });
      }
    } else if (m.type === 'video') {
      // Mode 1 when offered (larger pictures go in fragments), else mode 0.
      const h264 = ([1, 0] as const)
        .map((mode) => ({ mode, r: (m.rtp ?? []).find((r) => r.codec.toUpperCase() === 'H264' && routerTakesH264(fmtp(r.payload), mode)) }))
        .find((x) => x.r);
      if (h264?.r)
        taken.push({
          ...common,
          kind: 'video',
          payloadType: h264.r.payload,
          mimeType: 'video/H264',
          clockRate: 90000,
          parameters: fmtp(h264.r.payload),
          ...(h264.mode === 0 ? { singleNal: true } : {}),
        });
    }
  });
  return { taken, lines };
}

/**
 * The answer: each taken medium on the gateway's port, both ways (the terminal sends into the hearing and
 * receives the hearing's feed), every other m-line rejected (port 0).
 */
export function answerFor(
  offer: ParsedOffer,
  o: { address: string; ports: Map<number, { rtp: number; rtcp?: number }>; sessionId: string; version: number },
): string {
  const media = offer.lines.map((line, index): sdpTransform.MediaDescription => {
    const t = offer.taken.find((x) => x.index === index);
    if (!t) {
      const pt = Number(line.payloads.split(' ')[0] ?? 0) || 0;
      return { type: line.kind, port: 0, protocol: line.protocol, payloads: String(pt), rtp: [], fmtp: [] };
    }
    const [, codec] = t.mimeType.split('/') as [string, string];
    const params = Object.entries(t.parameters)
      .map(([k, v]) => `${k}=${v}`)
      .join(';');
    return {
      type: t.kind,
      port: o.ports.get(index)!.rtp,
      // Without rtcp-mux the transport's RTCP port is its own (not RTP + 1): said so.
      ...(!t.rtcpMux && o.ports.get(index)!.rtcp ? { rtcp: { port: o.ports.get(index)!.rtcp! } } : {}),
      protocol: 'RTP/AVP',
      payloads: String(t.payloadType),
      rtp: [{ payload: t.payloadType, codec, rate: t.clockRate, ...(t.channels ? { encoding: t.channels } : {}) }],
      fmtp: params ? [{ payload: t.payloadType, config: params }] : [],
      ...(t.rtcpMux ? { rtcpMux: 'rtcp-mux' } : {}),
      direction: 'sendrecv' as const,
    };
  });
  return sdpTransform.write({
    version: 0,
    origin: { username: 'hearing', sessionId: o.sessionId, sessionVersion: o.version, netType: 'IN', ipVer: 4, address: o.address },
    name: 'hearing',
    connection: { version: 4, ip: o.address },
    timing: { start: 0, stop: 0 },
    media,
  });
}
