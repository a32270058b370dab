import express, { type Request } from 'express';
import { receiveFile } from '../http/upload.ts';
import { AppError } from '../http/errors.ts';
import { apiKeyMatches, type TokenIssuer } from '../http/auth.ts';
import type { HearingService } from '../hearing/hearings.ts';
import { may, type Action } from '../hearing/roles.ts';
import { validate } from '../http/validate.ts';
import { idParam } from '../http/schemas.ts';
import { MAX_EVIDENCE_BYTES, type EvidenceService } from './evidence.ts';

/**
 * Evidence over REST. The court platform uses its API key; a participant uses their own token
 * (`Authorization: Bearer <participant token>`) and only for their own hearing.
 */
export function evidenceRouter(
  hearings: HearingService,
  evidence: EvidenceService,
  tokens: TokenIssuer,
  apiKey: string,
  isRefused: (hearingId: string, participantId: string) => boolean,
): express.Router {
  const router = express.Router();

  /**
   * Who is calling, for this hearing: 'api', or a participant of it (as the token says, still in the
   * hearing: not refused) whose role may `action`.
   */
  const caller = async (req: Request, hearingId: string, action: Action): Promise<string> => {
    const bearer = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    if (!bearer) throw new AppError(401, 'unauthorized', 'missing Authorization: Bearer <api key or participant token>');
    if (apiKeyMatches(bearer, apiKey)) return 'api';
    const claims = await tokens.verify(bearer).catch(() => {
      throw new AppError(401, 'unauthorized', 'invalid API key or participant token');
    });
    if (claims.hearingId !== hearingId) throw new AppError(403, 'forbidden', 'token is for another hearing');
    const participant = hearings.participant(hearingId, claims.participantId);
    if (participant.role !== claims.role) throw new AppError(401, 'unauthorized', 'token role does not match the participant');
    if (isRefused(hearingId, claims.participantId)) throw new AppError(403, 'identity_refused', 'the court refused this participant');
    if (!may(claims.role, action))
      throw new AppError(403, 'forbidden', `role ${claims.role} may not ${action === 'publish' ? 'submit' : 'see'} evidence`);
    return claims.participantId;
  };
  const hearingOf = (req: Request): string => {
    const hearingId = validate(idParam, req.params.id, 'path');
    hearings.row(hearingId);
    return hearingId;
  };

  router.post('/hearings/:id/evidence', async (req, res) => {
    const hearingId = hearingOf(req);
    const by = await caller(req, hearingId, 'publish');
    if (hearings.row(hearingId).state === 'closed') throw new AppError(409, 'hearing_closed', 'hearing is closed: its record is sealed');
    const file = await receiveFile(req, res, 'photo', MAX_EVIDENCE_BYTES);
    const item = await evidence.add(hearingId, by, file.originalname, file.buffer);
    hearings.log(hearingId, by, 'evidence.added', {
      evidenceId: item.id,
      sha256: item.sha256,
      bytes: item.bytes,
      width: item.width,
      height: item.height,
    });
    res.status(201).json(item);
  });
  router.get('/hearings/:id/evidence', async (req, res) => {
    const hearingId = hearingOf(req);
    await caller(req, hearingId, 'viewEvidence');
    res.json({ evidence: evidence.list(hearingId) });
  });
  router.get('/hearings/:id/evidence/:eid', async (req, res) => {
    const hearingId = hearingOf(req);
    await caller(req, hearingId, 'viewEvidence');
    res.type('image/jpeg').sendFile(evidence.file(hearingId, validate(idParam, req.params.eid, 'path'), req.query.thumb === '1'));
  });
  return router;
}
