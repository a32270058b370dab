// What the gateway takes from a terminal's SDP offer, and the answer it gives (sdp-transform parses
// and writes). Sound: Opus passes through to the hearing as it is. Video: H.264 with packetization
// mode 1 passes through when its profile is one the hearing's router carries. Other codecs are for a
// transcoding step that is not built yet: an offer with none of these gets 488.
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
  mimeType: 'audio/opus' | 'video/H264';
  clockRate: number;
  channels?: number;
  parameters: Record<string, string | number>;
  /** The m-line's index in the offer (the answer keeps the order). */
  index: number;
}

export interface ParsedOffer {
  /** The media the gateway takes, at most one sound and one video. */
  taken: OfferedMedia[];
  /** Every m-line of the offer, by kind (the answer rejects the others with port 0). */
  lines: { kind: string; protocol: string; payloads: string }[];
}

/**
 * Whether the hearing's router carries this H.264 (workers/media/config.ts): mode 1, and a profile the
 * router has, matched by profile as mediasoup matches it (constrained baseline is not baseline).
 */
const routerTakesH264 = (p: Record<string, string | number>): boolean =>
  Number(p['packetization-mode'] ?? 0) === 1 &&
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
      const opus = (m.rtp ?? []).find((r) => r.codec.toLowerCase() === 'opus' && r.rate === 48000);
      if (opus)
        taken.push({
          ...common,
          kind: 'audio',
          payloadType: opus.payload,
          mimeType: 'audio/opus',
          clockRate: 48000,
          channels: 2,
          parameters: fmtp(opus.payload),
        });
    } else if (m.type === 'video') {
      const h264 = (m.rtp ?? []).find((r) => r.codec.toUpperCase() === 'H264' && routerTakesH264(fmtp(r.payload)));
      if (h264)
        taken.push({
          ...common,
          kind: 'video',
          payloadType: h264.payload,
          mimeType: 'video/H264',
          clockRate: 90000,
          parameters: fmtp(h264.payload),
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
