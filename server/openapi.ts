import { z } from 'zod';
import {
  addParticipantBody,
  auditEntry,
  createHearingBody,
  errorResponse,
  hearingResponse,
  participantCreatedResponse,
  transitionBody,
} from './api-schemas.ts';

const schema = (s: z.ZodType): Record<string, unknown> => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
const json = (s: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema: schema(s) } } });
const errors = {
  '400': json(errorResponse, 'Malformed body, path or query (issues lists every problem)'),
  '401': json(errorResponse, 'Missing or wrong API key'),
  '404': json(errorResponse, 'No such hearing or participant'),
};
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });

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
        get: { summary: 'A hearing with participants and state', parameters: [idParam('id')], responses: { '200': json(hearingResponse, 'The hearing'), ...errors } },
      },
      '/api/v1/hearings/{id}/participants': {
        post: {
          summary: 'Add a participant and issue their join token',
          parameters: [idParam('id')],
          requestBody: { required: true, content: { 'application/json': { schema: schema(addParticipantBody) } } },
          responses: { '201': json(participantCreatedResponse, 'Participant with token and joinUrl'), ...errors, '409': json(errorResponse, 'Hearing closed') },
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
          responses: { '200': json(hearingResponse, 'The hearing in its new state'), ...errors, '409': json(errorResponse, 'Not allowed from the current state; `allowed` lists the next states') },
        },
      },
      '/api/v1/hearings/{id}/events': {
        get: {
          summary: "The hearing's audit log (transitions, joins, media incidents)",
          parameters: [idParam('id'), { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0 } }],
          responses: { '200': json(z.object({ events: z.array(auditEntry) }), 'Events in order'), ...errors },
        },
      },
      '/healthz': { get: { summary: 'Liveness and media worker health', security: [], responses: { '200': { description: 'Healthy' }, '503': { description: 'No live media worker' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text/plain exposition format' } } } },
      '/api/v1/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
  return cached;
}
