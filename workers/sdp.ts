import type { TrackCodec } from './recorder-messages.ts';

/** An SDP that makes ffmpeg listen for one RTP stream on 127.0.0.1:<port> (RTCP on port + 1). */
export function sdpFor(t: { kind: 'audio' | 'video'; codec: TrackCodec }, port: number): string {
  const { codec } = t;
  const name = codec.mimeType.split('/')[1]!;
  const rtpmap = `${name}/${codec.clockRate}${codec.channels && codec.channels > 1 ? `/${codec.channels}` : ''}`;
  const fmtp = codec.parameters && Object.keys(codec.parameters).length
    ? `a=fmtp:${codec.payloadType} ${Object.entries(codec.parameters).map(([k, v]) => `${k}=${String(v)}`).join(';')}\n`
    : '';
  return `v=0\no=- 0 0 IN IP4 127.0.0.1\ns=hearing track\nc=IN IP4 127.0.0.1\nt=0 0\nm=${t.kind} ${port} RTP/AVP ${codec.payloadType}\na=rtpmap:${codec.payloadType} ${rtpmap}\n${fmtp}a=recvonly\n`;
}
