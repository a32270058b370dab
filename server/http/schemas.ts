import { z } from 'zod';
import { HEARING_STATES } from '../hearing/state.ts';
import { PERSON_ROLES } from '../hearing/roles.ts';
import { LANGUAGES } from '../i18n/i18n.ts';

/** REST request bodies. Strict: unknown fields are an error, so typos do not pass silently. */
export const createHearingBody = z.strictObject({
  caseNumber: z.string().trim().min(1).max(64),
  title: z.string().trim().min(1).max(200),
  scheduledAt: z.iso.datetime({ offset: true }).optional(),
  /** Speech recognition for this hearing; defaults from HEARING_ASR_ENGINE / HEARING_ASR_LANGUAGE. */
  /** `off`: no live transcription (e.g. the court keeps its own stenographer); the record is unaffected. */
  asr: z.strictObject({ engine: z.enum(['pocketsphinx', 'whisper', 'off']), language: z.enum(['en', 'zh', 'auto']) }).optional(),
  /** May be streamed to the public (the judge still approves); default false. */
  streamable: z.boolean().optional(),
});

export const addParticipantBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: z.enum(PERSON_ROLES),
  idNumber: z
    .string()
    .trim()
    .regex(/^[0-9A-Za-z-]{4,32}$/, 'letters, digits and dashes, 4 to 32')
    .optional(),
  /** For a lawyer: the parties (participant ids of this hearing) they represent, the only ones they may consult. */
  represents: z.array(z.uuid()).max(20).optional(),
  /** `sip`: the participant joins from a SIP terminal; the answer carries `sip: {uri, user, pin}`. */
  endpoint: z.enum(['browser', 'sip']).optional(),
});

export const representsBody = z.strictObject({
  represents: z.array(z.uuid()).max(20),
});

export const transitionBody = z.strictObject({
  to: z.enum(HEARING_STATES),
});

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const eventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
});

export const idParam = z.uuid();

export const errorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    allowed: z.array(z.enum(HEARING_STATES)).optional(),
  }),
});

export const participantResponse = z.object({
  id: z.uuid(),
  name: z.string(),
  role: z.enum(PERSON_ROLES),
  idNumberMasked: z.string().nullable().describe('the ID number masked to its last four characters (the number itself is not kept)'),
  idNumberHash: z
    .string()
    .nullable()
    .describe('HMAC-SHA256 of the ID number under the server’s key: equal for the same number on this server'),
  createdAt: z.iso.datetime(),
  represents: z.array(z.uuid()).optional().describe('for a lawyer: the parties they represent (and may consult)'),
  identity: z.object({
    status: z.enum(['unenrolled', 'pending', 'verified', 'rejected', 'needs_review']),
    distance: z.number().nullable().describe('median face-descriptor distance of the latest check (lower = more alike)'),
    checkedAt: z.iso.datetime().nullable(),
  }),
});

export const hearingResponse = z.object({
  id: z.uuid(),
  caseNumber: z.string(),
  title: z.string(),
  scheduledAt: z.string().nullable(),
  state: z.enum(HEARING_STATES),
  asrEngine: z.string().nullable(),
  asrLanguage: z.string().nullable(),
  allowedTransitions: z.array(z.enum(HEARING_STATES)),
  streamable: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  participants: z.array(participantResponse),
});

export const participantCreatedResponse = participantResponse.extend({
  token: z.string().describe('JWT for signaling: hearing id, participant id, role, expiry'),
  expiresAt: z.iso.datetime(),
  joinUrl: z.url().describe('Opens the browser client for this participant'),
  sip: z
    .object({
      uri: z.string().describe('What the terminal dials: sip:<hearing code>@<gateway>:<port>'),
      user: z.string().describe('Digest user name'),
      pin: z.string().describe('Digest password: given out once, not kept by the server'),
    })
    .optional()
    .describe('With endpoint "sip": the terminal’s account'),
});

export const transcriptQuery = z.object({
  format: z.enum(['json', 'txt', 'vtt', 'html']).default('json'),
  speaker: z.enum(['name', 'role']).default('name'),
  /** The language of the HTML 笔录 (default: the server's `HEARING_LANG`). */
  lang: z.enum(LANGUAGES).optional(),
});

export const transcriptSegment = z.object({
  id: z.uuid(),
  participantId: z.string(),
  speakerName: z.string(),
  role: z.string(),
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  text: z.string(),
  engine: z.string(),
  language: z.string(),
  confidence: z.number(),
  status: z.enum(['partial', 'final', 'edited']),
});

export const auditEntry = z.object({
  seq: z.number().int(),
  hearingId: z.string().nullable(),
  at: z.iso.datetime(),
  actor: z.string(),
  action: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
