import { z } from 'zod';
import {
  addParticipantBody,
  auditEntry,
  createHearingBody,
  errorResponse,
  hearingResponse,
  participantCreatedResponse,
  participantResponse,
  representsBody,
  transitionBody,
  transcriptQuery,
} from './schemas.ts';
import { protectionBody, streamableBody, streamActionBody } from '../livestream/schemas.ts';
import { identityDecisionBody } from '../identity/api.ts';
import { addSourceBody } from '../sources/schemas.ts';

const schema = (s: z.ZodType): Record<string, unknown> =>
  z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
const json = (s: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema: schema(s) } } });
const errors = {
  '400': json(errorResponse, 'Malformed body, path or query (issues lists every problem)'),
  '401': json(errorResponse, 'Missing or wrong API key'),
  '404': json(errorResponse, 'No such hearing or participant'),
};
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });
const body = (s: z.ZodType) => ({ required: true, content: { 'application/json': { schema: schema(s) } } });
const upload = (field: string, what: string) => ({
  required: true,
  content: {
    'multipart/form-data': {
      schema: { type: 'object', required: [field], properties: { [field]: { type: 'string', format: 'binary', description: what } } },
    },
  },
});
const ok = (description: string) => ({ '200': { description } });
const conflict = (description: string) => ({ '409': json(errorResponse, description) });
const hp = [idParam('id')];
const hpp = [idParam('id'), idParam('pid')];

/** Routes added with the record, transcription, identity and livestream (same conventions as above). */
const laterPaths = {
  '/api/v1/hearings/{id}/transcript': {
    get: {
      summary: 'The transcript: segments, annotations, evidence placed, freezes and signatures (json), or txt / vtt / html',
      parameters: [
        ...hp,
        { name: 'format', in: 'query', schema: schema(transcriptQuery.shape.format) },
        { name: 'speaker', in: 'query', schema: schema(transcriptQuery.shape.speaker) },
        {
          name: 'lang',
          in: 'query',
          schema: schema(transcriptQuery.shape.lang.unwrap()),
          description: 'language of the HTML 笔录 (default HEARING_LANG)',
        },
      ],
      responses: { ...ok('The transcript in the format asked for'), ...errors },
    },
  },
  '/api/v1/hearings/{id}/transcript/{sid}/history': {
    get: {
      summary: 'Every version of one segment, with author and time',
      parameters: [idParam('id'), idParam('sid')],
      responses: { ...ok('{ versions }'), ...errors },
    },
  },
  '/api/v1/hearings/{id}/evidence': {
    post: {
      summary: 'Upload an evidence photo (JPEG/PNG/WebP; stored without EXIF, with a thumbnail)',
      parameters: hp,
      requestBody: upload('photo', 'the photo'),
      responses: {
        '201': { description: 'The evidence item' },
        ...errors,
        '413': json(errorResponse, 'Too large'),
        '415': json(errorResponse, 'Not a photo'),
      },
    },
    get: { summary: "The hearing's evidence", parameters: hp, responses: { ...ok('{ evidence }'), ...errors } },
  },
  '/api/v1/hearings/{id}/evidence/{eid}': {
    get: {
      summary: 'One evidence photo (JPEG; ?thumb=1 for the thumbnail)',
      parameters: [idParam('id'), idParam('eid'), { name: 'thumb', in: 'query', schema: { type: 'string', enum: ['1'] } }],
      responses: { ...ok('image/jpeg'), ...errors },
    },
  },
  '/api/v1/record-key': {
    get: {
      summary: 'The public key that verifies record signatures',
      responses: { ...ok('{ algorithm: "Ed25519", publicKeyPem, fingerprint }'), ...errors },
    },
  },
  '/api/v1/hearings/{id}/record': {
    get: {
      summary: "The record's manifest: tracks, segments and events (404 before the record begins)",
      parameters: hp,
      responses: { ...ok('The record'), ...errors },
    },
  },
  '/api/v1/hearings/{id}/record/verify': {
    get: {
      summary: 'Verify the hash chain, every segment and the signature',
      parameters: hp,
      responses: { ...ok('The verification report (ok, problems)'), ...errors },
    },
  },
  '/api/v1/hearings/{id}/record/export': {
    get: { summary: 'The whole record as a tar archive', parameters: hp, responses: { ...ok('application/x-tar'), ...errors } },
  },
  '/api/v1/hearings/{id}/record/review': {
    post: {
      summary: 'Build the mixed review MP4 (after close; not part of the record)',
      parameters: hp,
      responses: { '202': { description: 'Building' }, ...ok('Ready'), ...errors, ...conflict('The hearing is not closed') },
    },
    get: {
      summary: 'The review MP4 once built (202 while building)',
      parameters: hp,
      responses: { ...ok('video/mp4'), '202': { description: 'Still building' }, ...errors },
    },
  },
  '/api/v1/hearings/{id}/participants/{pid}/reference-photo': {
    post: {
      summary: "Enroll a participant's reference photo for face checks (only its descriptor is kept)",
      parameters: hpp,
      requestBody: upload('photo', 'one face'),
      responses: {
        '201': { description: 'Enrolled' },
        ...errors,
        '413': json(errorResponse, 'Too large'),
        '415': json(errorResponse, 'Not an image'),
        '422': json(errorResponse, 'No face or several faces'),
      },
    },
  },
  '/api/v1/hearings/{id}/participants/{pid}/identity': {
    get: { summary: "A participant's identity status and checks", parameters: hpp, responses: { ...ok('The identity view'), ...errors } },
  },
  '/api/v1/hearings/{id}/participants/{pid}/identity/frame': {
    get: { summary: 'The frame of the latest check (JPEG)', parameters: hpp, responses: { ...ok('image/jpeg'), ...errors } },
  },
  '/api/v1/hearings/{id}/participants/{pid}/identity/decision': {
    post: {
      summary: 'Admit or refuse a participant whose check failed (refused = removed)',
      parameters: hpp,
      requestBody: body(identityDecisionBody),
      responses: { ...ok('The identity view'), ...errors },
    },
  },
  '/api/v1/hearings/{id}/stream': {
    get: {
      summary: 'Livestream status',
      parameters: hp,
      responses: { ...ok('{ streamable, approved, state, delaySeconds, playlist, watch }'), ...errors },
    },
    post: {
      summary: 'approve | start | pause | stop | cut the public livestream',
      parameters: hp,
      requestBody: body(streamActionBody),
      responses: { ...ok('The status'), ...errors, ...conflict('Not streamable, not approved, not in session or not streaming') },
    },
  },
  '/api/v1/hearings/{id}/stream/streamable': {
    put: {
      summary: 'Mark the hearing streamable (or not: cuts a running stream)',
      parameters: hp,
      requestBody: body(streamableBody),
      responses: { ...ok('The status'), ...errors },
    },
  },
  '/api/v1/hearings/{id}/participants/{pid}/protection': {
    post: {
      summary: 'Hide a participant from the public program and/or disguise their voice',
      parameters: hpp,
      requestBody: body(protectionBody),
      responses: { ...ok('The protection'), ...errors },
    },
  },
  '/api/v1/hearings/{id}/sources': {
    post: {
      summary:
        'Add a courtroom camera: an RTSP URL the server pulls (retried while it cannot be reached), or an RTMP push (the answer has its push URL, once); in the hearing as a participant of role courtroom (shown, recorded, streamed)',
      parameters: hp,
      requestBody: body(addSourceBody),
      responses: {
        '201': {
          description:
            '{ id, name, role, kind, url (password or key hidden), state, attempts, input?, lastError?, pushUrl? (RTMP, this once), pushUrlTls? (RTMPS, with HEARING_RTMPS_PORT, this once) }',
        },
        ...errors,
        ...conflict('The hearing is closed, or RTMP is off (rtmp_off)'),
        '429': json(errorResponse, 'Too many cameras (8 a hearing, 32 a server)'),
      },
    },
    get: { summary: "The hearing's courtroom cameras and their state", parameters: hp, responses: { ...ok('{ sources }'), ...errors } },
  },
  '/api/v1/hearings/{id}/sources/{sid}': {
    get: { summary: 'One courtroom camera', parameters: [idParam('id'), idParam('sid')], responses: { ...ok('The camera'), ...errors } },
    delete: {
      summary: 'Remove a courtroom camera: it leaves the hearing',
      parameters: [idParam('id'), idParam('sid')],
      responses: { '204': { description: 'Removed' }, ...errors },
    },
  },
  '/live/{id}/{file}': {
    get: {
      summary: 'Public HLS files of a streamed hearing (index.m3u8, video.m3u8, subs.m3u8, segments)',
      security: [],
      parameters: [idParam('id'), { name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { ...ok('The file'), '404': { description: 'Not public' }, '429': { description: 'Rate limited' } },
    },
  },
  '/watch/{id}': {
    get: {
      summary: 'The public viewer page',
      security: [],
      parameters: hp,
      responses: { ...ok('text/html'), '404': { description: 'Not public' } },
    },
  },
};

let cached: Record<string, unknown> | undefined;

/** OpenAPI 3.1 of the REST API, generated from the same zod schemas that validate requests. */
export function openApiDocument(): Record<string, unknown> {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'Hearing media core', version: '0.1.0', description: 'REST API for court platforms embedding remote hearings.' },
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'HEARING_API_KEY' } } },
    security: [{ apiKey: [] }],
    paths: {
      '/api/v1/hearings': {
        post: {
          summary: 'Create a hearing (state "scheduled")',
          requestBody: { required: true, content: { 'application/json': { schema: schema(createHearingBody) } } },
          responses: { '201': json(hearingResponse, 'The hearing'), ...errors },
        },
        get: {
          summary: 'List hearings, newest first',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          ],
          responses: { '200': json(z.object({ hearings: z.array(hearingResponse) }), 'Hearings'), ...errors },
        },
      },
      '/api/v1/hearings/{id}': {
        get: {
          summary: 'A hearing with participants and state',
          parameters: [idParam('id')],
          responses: { '200': json(hearingResponse, 'The hearing'), ...errors },
        },
      },
      '/api/v1/hearings/{id}/participants': {
        post: {
          summary: 'Add a participant and issue their join token',
          parameters: [idParam('id')],
          requestBody: { required: true, content: { 'application/json': { schema: schema(addParticipantBody) } } },
          responses: {
            '201': json(participantCreatedResponse, 'Participant with token and joinUrl'),
            ...errors,
            '409': json(errorResponse, 'Hearing closed'),
          },
        },
      },
      '/api/v1/hearings/{id}/participants/{pid}/represents': {
        put: {
          summary: 'Set the parties a lawyer represents (the only parties they may consult privately)',
          parameters: [idParam('id'), idParam('pid')],
          requestBody: { required: true, content: { 'application/json': { schema: schema(representsBody) } } },
          responses: { '200': json(participantResponse, 'The lawyer'), ...errors, '409': json(errorResponse, 'Hearing closed') },
        },
      },
      '/api/v1/hearings/{id}/participants/{pid}/token': {
        post: {
          summary: 'Issue a fresh token for an existing participant',
          parameters: [idParam('id'), idParam('pid')],
          responses: { '201': json(participantCreatedResponse.pick({ token: true, expiresAt: true, joinUrl: true }), 'Token'), ...errors },
        },
      },
      '/api/v1/hearings/{id}/transitions': {
        post: {
          summary: 'Move the hearing to another state',
          parameters: [idParam('id')],
          requestBody: { required: true, content: { 'application/json': { schema: schema(transitionBody) } } },
          responses: {
            '200': json(hearingResponse, 'The hearing in its new state'),
            ...errors,
            '409': json(errorResponse, 'Not allowed from the current state; `allowed` lists the next states'),
          },
        },
      },
      '/api/v1/hearings/{id}/events': {
        get: {
          summary: "The hearing's audit log (transitions, joins, media incidents)",
          parameters: [idParam('id'), { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0 } }],
          responses: { '200': json(z.object({ events: z.array(auditEntry) }), 'Events in order'), ...errors },
        },
      },
      '/api/v1/cluster': {
        get: {
          summary: 'Cluster mode (HEARING_REDIS_URL): the live nodes, their load and the hearings each hosts',
          responses: {
            '200': json(
              z.object({
                node: z.string(),
                nodes: z.array(
                  z.object({
                    id: z.string(),
                    url: z.string(),
                    publicUrl: z.string(),
                    draining: z.boolean(),
                    load: z.object({
                      hearings: z.number(),
                      routers: z.number(),
                      transports: z.number(),
                      workers: z.number(),
                      cpu: z.number(),
                    }),
                    hearings: z.array(z.string()),
                  }),
                ),
              }),
              'The nodes',
            ),
            ...errors,
          },
        },
      },
      '/api/v1/admin/adopt': {
        post: {
          summary:
            "Cluster mode, between nodes: take over a lost node's hearing (sent by the node that places it again; HEARING_DATABASE_URL and HEARING_SHARED_DIR)",
          requestBody: body(z.object({ hearingId: z.string(), from: z.string() })),
          responses: {
            '200': json(z.object({ moved: z.literal(true), hearingId: z.string(), from: z.string() }), 'Moved here'),
            ...errors,
          },
        },
      },
      '/api/v1/admin/drain': {
        post: {
          summary:
            'Stops taking new hearings here (in a cluster they are placed on other nodes); the process exits once no hearing here is in session, or after HEARING_DRAIN_DEADLINE_S',
          responses: {
            '202': json(z.object({ draining: z.literal(true), hearingsInSession: z.array(z.string()) }), 'Draining'),
            ...errors,
          },
        },
      },
      '/healthz': {
        get: {
          summary: 'Liveness and media worker health',
          security: [],
          responses: { '200': { description: 'Healthy' }, '503': { description: 'No live media worker' } },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text/plain exposition format' } } },
      },
      '/api/v1/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
      ...laterPaths,
    },
  };
  return cached;
}
