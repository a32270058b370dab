import { z } from 'zod';
import { HEARING_STATES } from '../hearing/state.ts';

/**
 * Signaling message payloads. mediasoup validates RTP/DTLS objects in depth; these schemas reject
 * anything of the wrong shape before it reaches the worker.
 */
const id = z.string().min(1).max(64);
const params = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
const feedback = z.array(z.looseObject({ type: z.string().max(32), parameter: z.string().max(32).optional() })).max(16);

const dtlsParameters = z.strictObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.strictObject({ algorithm: z.string().min(1).max(16), value: z.string().min(1).max(200) }))
    .min(1)
    .max(8),
});

const rtpParameters = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z
    .array(
      z.looseObject({
        mimeType: z.string().regex(/^(audio|video)\/[\w-]+$/),
        payloadType: z.number().int().min(0).max(127),
        clockRate: z.number().int().positive(),
        channels: z.number().int().min(1).max(8).optional(),
        parameters: params.optional(),
        rtcpFeedback: feedback.optional(),
      }),
    )
    .min(1)
    .max(16),
  headerExtensions: z
    .array(z.looseObject({ uri: z.string().max(200), id: z.number().int().min(1).max(255) }))
    .max(32)
    .optional(),
  encodings: z.array(z.looseObject({})).max(8).optional(),
  rtcp: z.looseObject({}).optional(),
});

/** Media messages may address the caller's consultation room instead of the courtroom. */
const room = { consultationId: z.uuid().optional() };

const rtpCapabilities = z.looseObject({
  codecs: z
    .array(
      z.looseObject({
        kind: z.enum(['audio', 'video']),
        mimeType: z.string().max(64),
        clockRate: z.number().int().positive(),
        preferredPayloadType: z.number().int().min(0).max(127).optional(),
        parameters: params.optional(),
        rtcpFeedback: feedback.optional(),
      }),
    )
    .max(64)
    .optional(),
  headerExtensions: z.array(z.looseObject({})).max(64).optional(),
});

export const signalingSchemas = {
  /**
   * `resume`: the page kept its transports through a dropped connection and asks to keep them (and its
   * producers and consumers) if the server still holds them; otherwise it is a fresh join.
   */
  join: z.strictObject({ resume: z.strictObject({ transports: z.array(id).min(1).max(2) }).optional() }),
  /** Round trip measurement for clients and load tests. */
  ping: z.strictObject({}),
  leave: z.strictObject({}),
  createTransport: z.strictObject({ direction: z.enum(['send', 'recv']), ...room }),
  connectTransport: z.strictObject({ transportId: id, dtlsParameters, ...room }),
  restartIce: z.strictObject({ transportId: id, ...room }),
  produce: z.strictObject({
    transportId: id,
    kind: z.enum(['audio', 'video']),
    rtpParameters,
    source: z.enum(['mic', 'camera', 'screen', 'interpretation']),
    ...room,
  }),
  consume: z.strictObject({ transportId: id, producerId: id, rtpCapabilities, ...room }),
  resumeConsumer: z.strictObject({ consumerId: id, ...room }),
  setPreferredLayers: z.strictObject({
    consumerId: id,
    spatialLayer: z.number().int().min(0).max(2),
    temporalLayer: z.number().int().min(0).max(2).optional(),
    ...room,
  }),
  pauseProducer: z.strictObject({ producerId: id, ...room }),
  resumeProducer: z.strictObject({ producerId: id, ...room }),
  closeProducer: z.strictObject({ producerId: id, ...room }),
  openConsultation: z.strictObject({ with: z.uuid() }),
  answerConsultation: z.strictObject({ consultationId: z.uuid(), accept: z.boolean() }),
  joinConsultation: z.strictObject({ consultationId: z.uuid() }),
  closeConsultation: z.strictObject({ consultationId: z.uuid() }),
  transition: z.strictObject({ to: z.enum(HEARING_STATES) }),
  editTranscript: z.strictObject({ segmentId: z.uuid(), text: z.string().trim().min(1).max(5000) }),
  registerSigningKey: z.strictObject({
    publicKey: z.looseObject({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string().max(100), y: z.string().max(100) }),
  }),
  freezeTranscript: z.strictObject({}),
  signTranscript: z.strictObject({
    version: z.number().int().positive(),
    keyId: z.string().regex(/^[0-9a-f]{64}$/),
    signature: z.string().regex(/^[A-Za-z0-9+/=]{40,200}$/),
    /** A drawn signature (PNG or JPEG), base64 or a data URL; at most 512 KB decoded. */
    image: z.string().max(700_000).optional(),
  }),
  placeEvidence: z.strictObject({ evidenceId: z.uuid(), afterSegmentId: z.uuid() }),
  stream: z.strictObject({ action: z.enum(['approve', 'start', 'pause', 'stop', 'cut']) }),
  setProtection: z.strictObject({
    participantId: z.uuid(),
    hidden: z.boolean(),
    voice: z.enum(['natural', 'disguised']).default('natural'),
  }),
  identityDecision: z.strictObject({
    participantId: z.uuid(),
    decision: z.enum(['admit', 'refuse']),
    reason: z.string().trim().min(1).max(500),
  }),
  annotateTranscript: z.strictObject({ segmentId: z.uuid(), text: z.string().trim().min(1).max(2000) }),
  muteParticipant: z.strictObject({ participantId: z.uuid(), muted: z.boolean() }),
  callWitness: z.strictObject({ participantId: z.uuid(), called: z.boolean() }),
  hangUpTerminal: z.strictObject({ participantId: z.uuid() }),
  pauseRecording: z.strictObject({ reason: z.string().trim().min(1).max(500) }),
  resumeRecording: z.strictObject({ reason: z.string().trim().min(1).max(500) }),
} as const;

export type SignalingEvent = keyof typeof signalingSchemas;
