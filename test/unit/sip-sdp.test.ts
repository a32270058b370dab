// Which H.264 of a terminal's offer the gateway takes: the router's profiles, matched by profile as
// mediasoup matches them, in packetization mode 1 or 0 (an offer it answered and then could not
// produce would leave a call without a picture).
import { describe, expect, it } from 'vitest';
import { parseOffer } from '../../server/sip/sdp.ts';

const offer = (fmtp: string): string =>
  [
    'v=0',
    'o=- 1 1 IN IP4 192.0.2.10',
    's=-',
    'c=IN IP4 192.0.2.10',
    't=0 0',
    'm=video 5000 RTP/AVP 96',
    'a=rtpmap:96 H264/90000',
    ...(fmtp ? [`a=fmtp:96 ${fmtp}`] : []),
    '',
  ].join('\r\n');

const takes = (fmtp: string): boolean => parseOffer(offer(fmtp)).taken.some((t) => t.kind === 'video');

describe("the gateway's H.264 from a terminal", () => {
  it('takes constrained baseline (either way of writing it) and main, in packetization mode 1', () => {
    expect(takes('packetization-mode=1;profile-level-id=42e01f')).toBe(true);
    expect(takes('packetization-mode=1;profile-level-id=42c01e')).toBe(true);
    expect(takes('packetization-mode=1;profile-level-id=4d0028')).toBe(true);
  });

  it('refuses what the router does not carry: plain baseline, high (in either mode)', () => {
    expect(takes('packetization-mode=1;profile-level-id=42001f')).toBe(false);
    expect(takes('packetization-mode=1;profile-level-id=640028')).toBe(false);
    expect(takes('packetization-mode=0;profile-level-id=42001f')).toBe(false);
    expect(takes('packetization-mode=0;profile-level-id=640028')).toBe(false);
  });

  it('takes mode 0 (single NAL unit packets) from a terminal that offers only it, said so; mode 1 when both are offered', () => {
    const video = (text: string) => parseOffer(text).taken.find((t) => t.kind === 'video');
    expect(video(offer('packetization-mode=0;profile-level-id=42e01f'))).toMatchObject({ payloadType: 96, singleNal: true });
    expect(video(offer(''))).toMatchObject({ payloadType: 96, singleNal: true }); // mode 0 by default
    const both = offer('packetization-mode=0;profile-level-id=42e01f')
      .replace('RTP/AVP 96', 'RTP/AVP 96 97')
      .replace(/\r\n$/, '\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 packetization-mode=1;profile-level-id=42e01f\r\n');
    expect(video(both)).toMatchObject({ payloadType: 97 });
    expect(video(both)?.singleNal).toBeUndefined();
  });

  it('takes an offer without a profile as constrained baseline (the RFC 6184 default is baseline 42000a, but mediasoup reads it as 42e01f)', () => {
    expect(takes('packetization-mode=1')).toBe(true);
  });
});
