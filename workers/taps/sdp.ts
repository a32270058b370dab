import type { TrackCodec } from '../record/messages.ts';

/** One m-section: ffmpeg listens for an RTP stream on 127.0.0.1:<port> (RTCP on port + 1). */
export function sdpMedia(t: { kind: 'audio' | 'video'; codec: TrackCodec }, port: number): string {
  const { codec } = t;
  const name = codec.mimeType.split('/')[1]!;
  const rtpmap = `${name}/${codec.clockRate}${codec.channels && codec.channels > 1 ? `/${codec.channels}` : ''}`;
  const fmtp =
    codec.parameters && Object.keys(codec.parameters).length
      ? `a=fmtp:${codec.payloadType} ${Object.entries(codec.parameters)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(';')}\n`
      : '';
  return `m=${t.kind} ${port} RTP/AVP ${codec.payloadType}\na=rtpmap:${codec.payloadType} ${rtpmap}\n${fmtp}a=recvonly\n`;
}

/** An SDP that makes ffmpeg listen for these RTP streams, each on its own port (in this order). */
export function sdpSession(streams: { kind: 'audio' | 'video'; codec: TrackCodec; port: number }[], name = 'hearing track'): string {
  return `v=0\no=- 0 0 IN IP4 127.0.0.1\ns=${name}\nc=IN IP4 127.0.0.1\nt=0 0\n${streams.map((s) => sdpMedia(s, s.port)).join('')}`;
}

/** An SDP for one RTP stream on 127.0.0.1:<port> (RTCP on port + 1). */
export function sdpFor(t: { kind: 'audio' | 'video'; codec: TrackCodec }, port: number): string {
  return sdpSession([{ ...t, port }]);
}

/**
 * An RTCP BYE for one source, 12 bytes (ffmpeg's RTP demuxer ignores anything shorter): ffmpeg ends
 * that input on it, as at the end of a file.
 */
export function rtcpBye(ssrc: number): Buffer {
  const bye = Buffer.alloc(12);
  bye[0] = 0x82; // version 2, two sources
  bye[1] = 203; // BYE
  bye.writeUInt16BE(2, 2); // length in 32-bit words, minus one
  bye.writeUInt32BE(ssrc >>> 0, 4);
  bye.writeUInt32BE(ssrc >>> 0, 8);
  return bye;
}
