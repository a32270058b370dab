import express from 'express';
import { requireApiKey } from '../http/api.ts';
import { validate } from '../http/validate.ts';
import { idParam } from '../http/schemas.ts';
import type { CourtroomSources } from './courtroom.ts';
import { addSourceBody } from './schemas.ts';

/** The court platform adds, lists and removes a hearing's courtroom cameras (API key). */
export function sourcesRouter(sources: CourtroomSources, apiKey: string): express.Router {
  const router = express.Router();
  router.use('/hearings/:id/sources', requireApiKey(apiKey), express.json({ limit: '8kb', strict: true }));
  router.post('/hearings/:id/sources', (req, res) => {
    const hearingId = validate(idParam, req.params.id, 'path');
    res.status(201).json(sources.add(hearingId, validate(addSourceBody, req.body, 'body'), 'api'));
  });
  router.get('/hearings/:id/sources', (req, res) => {
    res.json({ sources: sources.list(validate(idParam, req.params.id, 'path')) });
  });
  router.get('/hearings/:id/sources/:sid', (req, res) => {
    res.json(sources.get(validate(idParam, req.params.id, 'path'), validate(idParam, req.params.sid, 'path')));
  });
  router.delete('/hearings/:id/sources/:sid', (req, res) => {
    sources.remove(validate(idParam, req.params.id, 'path'), validate(idParam, req.params.sid, 'path'), 'api');
    res.status(204).end();
  });
  return router;
}
