import type { types } from 'mediasoup-client';

/** Packets received and frames decoded by one consumer (its inbound-rtp statistics). */
export async function inboundStats(consumer: types.Consumer): Promise<{ packetsReceived: number; framesDecoded: number }> {
  let packetsReceived = 0;
  let framesDecoded = 0;
  (await consumer.getStats()).forEach((s: { type: string; packetsReceived?: number; framesDecoded?: number }) => {
    if (s.type !== 'inbound-rtp') return;
    packetsReceived += s.packetsReceived ?? 0;
    framesDecoded += s.framesDecoded ?? 0;
  });
  return { packetsReceived, framesDecoded };
}
