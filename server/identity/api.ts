import express from 'express';
import { z } from 'zod';
import { AppError } from '../http/errors.ts';
import { requireApiKey } from '../http/api.ts';
import { validate } from '../http/validate.ts';
import { idParam } from '../http/schemas.ts';
import { receiveFile } from '../http/upload.ts';
import { MAX_REFERENCE_BYTES, type IdentityService } from './identity.ts';

export const identityDecisionBody = z.strictObject({
  decision: z.enum(['admit', 'refuse']),
  reason: z.string().trim().min(1).max(500),
});

/** Face identity over REST, for the court platform (API key): enrollment, results, manual decisions. */
export function identityRouter(identity: IdentityService, apiKey: string): express.Router {
  const router = express.Router();
  router.use('/hearings/:id/participants/:pid', requireApiKey(apiKey));
  const ids = (params: Record<string, string>): [string, string] => [
    validate(idParam, params.id, 'path'),
    validate(idParam, params.pid, 'path'),
  ];

  router.post('/hearings/:id/participants/:pid/reference-photo', async (req, res) => {
    const [hearingId, participantId] = ids(req.params);
    const file = await receiveFile(req, res, 'photo', MAX_REFERENCE_BYTES);
    res.status(201).json(await identity.enroll(hearingId, participantId, file.buffer, 'api'));
  });
  router.get('/hearings/:id/participants/:pid/identity', (req, res) => {
    const [hearingId, participantId] = ids(req.params);
    res.json(identity.view(hearingId, participantId));
  });
  router.get('/hearings/:id/participants/:pid/identity/frame', (req, res) => {
    const [hearingId, participantId] = ids(req.params);
    const frame = identity.frame(hearingId, participantId);
    if (!frame) throw new AppError(404, 'no_frame', 'no captured frame for this participant (no check has completed while the server ran)');
    res.type('image/jpeg').send(frame);
  });
  router.post('/hearings/:id/participants/:pid/identity/decision', express.json({ limit: '8kb' }), (req, res) => {
    const [hearingId, participantId] = ids(req.params);
    const body = validate(identityDecisionBody, req.body, 'body');
    res.json(identity.decide(hearingId, participantId, body.decision, body.reason, 'api'));
  });
  return router;
}
