/**
 * The camera's encodings at the level the server asks for (sound first on a thin uplink: the server steps
 * a participant down while it cannot get their sound whole; see `server/signaling/loss-policy.ts`).
 */
import type { LossLevel } from '../../server/signaling/loss-policy.ts';

/** The small layer at level 2: fewer frames, fewer bits. */
export const LEVEL2 = { maxBitrate: 90_000, maxFramerate: 10 } as const;

/**
 * The camera sender's encodings at `level`: `layers` are the producer's own (small first); level 0 keeps
 * them as they were asked, 1 switches the top one off, 2 also slows the small one.
 */
export function encodingsAt(
  level: LossLevel,
  current: RTCRtpEncodingParameters[],
  layers: readonly { maxBitrate: number }[],
  frameRate: number,
): RTCRtpEncodingParameters[] {
  return current.map((encoding, i) => ({
    ...encoding,
    active: level === 0 || i === 0,
    maxBitrate: level === 2 && i === 0 ? LEVEL2.maxBitrate : (layers[i]?.maxBitrate ?? encoding.maxBitrate),
    maxFramerate: level === 2 && i === 0 ? LEVEL2.maxFramerate : frameRate,
  }));
}
