// The page's consultation (client-demo/src/consultation.ts) against a fake signaling connection and
// device: what it consumes, whatever order the server's answers and announcements come in.
import { describe, expect, it } from 'vitest';
import type { Device } from 'mediasoup-client';
import { Consultation } from '../../client-demo/src/consultation.ts';
import type { SignalingClient } from '../../client-demo/src/signaling.ts';

describe('a page in a consultation', () => {
  it('consumes the other member’s media announced while it was still making its transports, once each', async () => {
    const consumed: string[] = [];
    let transportAsked!: () => void;
    const asked = new Promise<void>((resolve) => (transportAsked = resolve));
    let answerTransport!: () => void;
    const transportAnswered = new Promise<void>((resolve) => (answerTransport = resolve));
    const signaling = {
      request: async (event: string, data: { producerId?: string }) => {
        if (event === 'joinConsultation') return { producers: [{ producerId: 'p-audio', participantId: 'party', kind: 'audio' }] };
        if (event === 'createTransport') {
          transportAsked();
          await transportAnswered;
          return { id: 'recv' };
        }
        if (event === 'consume') {
          consumed.push(data.producerId!);
          return { id: `c-${data.producerId}`, producerId: data.producerId, kind: 'audio', rtpParameters: {} };
        }
        return {};
      },
    };
    const transport = {
      id: 'recv',
      on: () => undefined,
      consume: async (o: { id: string; producerId: string; kind: string }) => ({ ...o, track: { kind: o.kind, id: o.id } }),
      close: () => undefined,
    };
    const device = { createRecvTransport: () => transport, rtpCapabilities: {} };
    const consultation = new Consultation('k', 'party', signaling as unknown as SignalingClient, device as unknown as Device);
    // A member who only listens (no camera or microphone): it makes its receive transport only.
    const joined = consultation.join(undefined);
    await asked;
    // The other member's camera is announced while this page waits for its receive transport
    // (CI runs 71 and 75: the lawyer never received the party's consultation media).
    await consultation.consume({ producerId: 'p-video', participantId: 'party', kind: 'video' });
    await consultation.consume({ producerId: 'p-audio', participantId: 'party', kind: 'audio' });
    answerTransport();
    await joined;
    // The microphone was both announced early and in the join's answer, and is announced once more: once.
    await consultation.consume({ producerId: 'p-audio', participantId: 'party', kind: 'audio' });
    expect(consumed.sort()).toEqual(['p-audio', 'p-video']);
  });
});
