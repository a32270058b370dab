import type { types } from 'mediasoup';

/**
 * Router codecs. mediasoup adds NACK, RTX, transport-cc and goog-remb feedback for video and
 * transport-cc for audio from its supported capabilities; we ask for PLI/FIR/NACK explicitly so a
 * reader of this file sees what the hearing relies on.
 */
const videoFeedback: types.RtcpFeedback[] = [
  { type: 'nack' },
  { type: 'nack', parameter: 'pli' },
  { type: 'ccm', parameter: 'fir' },
  { type: 'goog-remb' },
  { type: 'transport-cc' },
];

export const mediaCodecs: types.RtpCodecCapability[] = [
  {
    kind: 'audio',
    mimeType: 'audio/opus',
    clockRate: 48000,
    channels: 2,
    // In-band FEC repairs lost audio packets; DTX saves bandwidth while a participant is silent.
    parameters: { useinbandfec: 1, usedtx: 1 },
    rtcpFeedback: [{ type: 'nack' }, { type: 'transport-cc' }],
  },
  {
    kind: 'video',
    mimeType: 'video/VP8',
    clockRate: 90000,
    parameters: { 'x-google-start-bitrate': 1000 },
    rtcpFeedback: videoFeedback,
  },
  {
    // Phones: hardware H.264 encoders speak constrained baseline with packetization-mode 1.
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
    rtcpFeedback: videoFeedback,
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '4d0032', 'level-asymmetry-allowed': 1 },
    rtcpFeedback: videoFeedback,
  },
];

/** Header extensions come from mediasoup's defaults (mid, rid, abs-send-time, transport-cc, audio level). */
export const ACTIVE_SPEAKER_INTERVAL_MS = 300;
