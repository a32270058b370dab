// Which H.264 of a terminal's offer the gateway takes: the router's profiles, matched by profile as
// mediasoup matches them (an offer it answered and then could not produce would leave a call without a picture).
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

  it('refuses what the router does not carry: plain baseline, high, mode 0', () => {
    expect(takes('packetization-mode=1;profile-level-id=42001f')).toBe(false);
    expect(takes('packetization-mode=1;profile-level-id=640028')).toBe(false);
    expect(takes('packetization-mode=0;profile-level-id=42e01f')).toBe(false);
    expect(takes('')).toBe(false); // mode 0 by default
  });

  it('takes an offer without a profile as constrained baseline (the RFC 6184 default is baseline 42000a, but mediasoup reads it as 42e01f)', () => {
    expect(takes('packetization-mode=1')).toBe(true);
  });
});
