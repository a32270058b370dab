import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { MediaError } from '../../workers/media/error.ts';
import { AppError } from './errors.ts';
import { apiKeyMatches } from './auth.ts';
import type { HearingService } from '../hearing/hearings.ts';
import { validate } from './validate.ts';
import {
  addParticipantBody,
  createHearingBody,
  eventsQuery,
  idParam,
  listQuery,
  representsBody,
  transcriptQuery,
  transitionBody,
} from './schemas.ts';
import type { TranscriptService } from '../transcript/transcripts.ts';
import type { EvidenceService } from '../evidence/evidence.ts';
import { toHtml, toVtt } from '../transcript/export.ts';
import type { TranscriptSigning } from '../transcript/signing.ts';
import { openApiDocument } from './openapi.ts';
import type { SipAccounts } from '../sip/accounts.ts';
import { translator, type Language } from '../i18n/i18n.ts';

const ACTOR = 'api';

/** The court platform's REST API under /api/v1, authenticated with the API key as a bearer token. */
export function apiRouter(
  hearings: HearingService,
  transcripts: TranscriptService,
  evidence: EvidenceService,
  signing: TranscriptSigning,
  apiKey: string,
  lang: Language,
  /** SIP terminals' accounts (HEARING_SIP_PORT); without them `endpoint: "sip"` is refused. */
  sip?: SipAccounts,
): express.Router {
  const router = express.Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  router.use(requireApiKey(apiKey));
  router.use(express.json({ limit: '64kb', strict: true }));

  const id = (req: Request, name = 'id'): string => validate(idParam, req.params[name], 'path');

  router.post('/hearings', (req, res) => {
    const body = validate(createHearingBody, req.body, 'body');
    res.status(201).json(hearings.create(body, ACTOR));
  });
  router.get('/hearings', (req, res) => {
    const { limit, offset } = validate(listQuery, req.query, 'query');
    res.json({ hearings: hearings.list(limit, offset), limit, offset });
  });
  router.get('/hearings/:id', (req, res) => {
    res.json(hearings.get(id(req)));
  });
  router.post('/hearings/:id/participants', async (req, res) => {
    const hearingId = id(req);
    const { endpoint, ...body } = validate(addParticipantBody, req.body, 'body');
    if (endpoint === 'sip' && !sip) throw new AppError(409, 'sip_off', 'this server takes no SIP terminals (HEARING_SIP_PORT is not set)');
    const added = await hearings.addParticipant(hearingId, body, ACTOR);
    // A terminal's account: the number to dial, its digest user and PIN (given out this once).
    res.status(201).json(endpoint === 'sip' ? { ...added, sip: sip!.issue(hearingId, added.id) } : added);
  });
  router.put('/hearings/:id/participants/:pid/represents', (req, res) => {
    const { represents } = validate(representsBody, req.body, 'body');
    res.json(hearings.setRepresents(id(req), id(req, 'pid'), represents, ACTOR));
  });
  router.post('/hearings/:id/participants/:pid/token', async (req, res) => {
    const participant = hearings.participant(id(req), id(req, 'pid'));
    res.status(201).json(await hearings.issueToken(participant));
  });
  router.post('/hearings/:id/transitions', (req, res) => {
    const hearingId = id(req);
    const { to } = validate(transitionBody, req.body, 'body');
    res.json(hearings.transition(hearingId, to, ACTOR));
  });
  router.get('/hearings/:id/events', (req, res) => {
    const { after } = validate(eventsQuery, req.query, 'query');
    res.json({ events: hearings.events(id(req), after) });
  });
  router.get('/hearings/:id/transcript', (req, res) => {
    const hearingId = id(req);
    hearings.row(hearingId);
    const { format, speaker, lang: asked } = validate(transcriptQuery, req.query, 'query');
    if (format === 'txt') res.type('text/plain; charset=utf-8').send(transcripts.text(hearingId));
    else if (format === 'vtt') res.type('text/vtt; charset=utf-8').send(toVtt(transcripts.list(hearingId), { speaker }));
    else if (format === 'html') {
      res.type('text/html; charset=utf-8').send(
        toHtml(
          {
            hearing: hearings.row(hearingId),
            participants: hearings.participants(hearingId).map((p) => hearings.participant(hearingId, p.id)),
            segments: transcripts.list(hearingId),
            annotations: transcripts.annotations(hearingId),
            evidence: evidence.list(hearingId),
            phases: hearings.events(hearingId).filter((e) => e.action === 'hearing.state_changed'),
            digest: transcripts.digest(hearingId),
            signatures: signing.statuses(hearingId),
            signatureImage: (sid) => signing.imageFile(hearingId, sid),
            evidenceFile: (eid, thumb) => evidence.file(hearingId, eid, thumb),
          },
          translator(asked ?? lang),
          asked ?? lang,
        ),
      );
    } else
      res.json({
        hearingId,
        digest: transcripts.digest(hearingId),
        segments: transcripts.list(hearingId),
        annotations: transcripts.annotations(hearingId),
        evidence: evidence.list(hearingId).filter((e) => e.afterSegmentId),
        freezes: signing.freezes(hearingId),
        signatures: signing.statuses(hearingId),
      });
  });
  router.get('/hearings/:id/transcript/:sid/history', (req, res) => {
    res.json({ versions: transcripts.history(id(req), id(req, 'sid')) });
  });
  router.use((_req, _res, next) => next(new AppError(404, 'not_found', 'no such endpoint')));
  return router;
}

/** Bearer API-key check for the court platform's endpoints. */
export function requireApiKey(apiKey: string): RequestHandler {
  return (req, _res, next) => {
    const match = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!match) return next(new AppError(401, 'unauthorized', 'missing Authorization: Bearer <api key>'));
    if (!apiKeyMatches(match[1] as string, apiKey)) return next(new AppError(401, 'unauthorized', 'invalid API key'));
    next();
  };
}

const MEDIA_STATUS = { not_found: 404, forbidden: 403, bad_request: 400, unavailable: 503 } as const;

/** Turns every error into a JSON body with a reason; never leaks a stack trace. */
export function errorHandler(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (error instanceof AppError) {
    res.status(error.status).json({ error: { code: error.code, message: error.message, ...error.details } });
    return;
  }
  // The media plane's expected refusals (no such transport, bad parameters) keep their code.
  if (error instanceof MediaError) {
    res.status(MEDIA_STATUS[error.code]).json({ error: { code: error.code, message: error.message } });
    return;
  }
  const e = error as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.parse.failed') {
    res.status(400).json({ error: { code: 'invalid_json', message: 'request body is not valid JSON' } });
    return;
  }
  if (e.type === 'entity.too.large') {
    res.status(413).json({ error: { code: 'body_too_large', message: 'request body is too large' } });
    return;
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    // Messages of the HTTP layer (e.g. the static file server's) can name paths on the server: logged,
    // never sent.
    console.warn(`[api] ${e.status}: ${e.message ?? ''}`);
    const code = e.status === 404 ? 'not_found' : e.status === 403 ? 'forbidden' : 'bad_request';
    res
      .status(e.status)
      .json({ error: { code, message: e.status === 404 ? 'not found' : e.status === 403 ? 'forbidden' : 'bad request' } });
    return;
  }
  console.error('[api] unexpected error', error);
  res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
}
