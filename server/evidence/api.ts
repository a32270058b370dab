import express, { type Request } from 'express';
import { receiveFile } from '../http/upload.ts';
import { AppError } from '../http/errors.ts';
import { apiKeyMatches, type TokenIssuer } from '../http/auth.ts';
import type { HearingService } from '../hearing/hearings.ts';
import { may, type Action } from '../hearing/roles.ts';
import { validate } from '../http/validate.ts';
import { idParam } from '../http/schemas.ts';
import { MAX_EVIDENCE_BYTES, type EvidenceService } from './evidence.ts';
import { Allowances } from '../http/allowance.ts';

/**
 * Evidence uploads by one participant: one at a time, a burst of 10 photos (a handful picked from the
 * phone's gallery at once), then one every 5 s. The court platform's own uploads are bounded by the
 * image process's queue alone.
 */
export const UPLOAD_LIMITS = { burst: 10, perSecond: 0.2 };

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
  const uploading = new Set<string>();
  const allowances = new Allowances(UPLOAD_LIMITS.burst, UPLOAD_LIMITS.perSecond);
  /** Refuses a participant's upload beyond their allowance (the limit logged once), or marks one under way. */
  const beginUpload = (hearingId: string, by: string): void => {
    if (by === 'api') return;
    if (uploading.has(by)) throw new AppError(429, 'upload_in_progress', 'one photo at a time: the previous upload is still being checked');
    allowances.spend(
      by,
      () => hearings.log(hearingId, by, 'participant.rate_limited', { what: 'evidence upload', ...UPLOAD_LIMITS }),
      () =>
        new AppError(
          429,
          'upload_rate_limited',
          `too many photos: ${UPLOAD_LIMITS.burst} at once, then one every ${1 / UPLOAD_LIMITS.perSecond} s`,
        ),
    );
    uploading.add(by);
  };

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
      throw new AppError(403, 'forbidden', `role ${claims.role} may not ${action === 'submitEvidence' ? 'submit' : 'see'} evidence`);
    return claims.participantId;
  };
  const hearingOf = (req: Request): string => {
    const hearingId = validate(idParam, req.params.id, 'path');
    hearings.row(hearingId);
    return hearingId;
  };

  router.post('/hearings/:id/evidence', async (req, res) => {
    const hearingId = hearingOf(req);
    const by = await caller(req, hearingId, 'submitEvidence');
    if (hearings.row(hearingId).state === 'closed') throw new AppError(409, 'hearing_closed', 'hearing is closed: its record is sealed');
    beginUpload(hearingId, by);
    let item;
    try {
      const file = await receiveFile(req, res, 'photo', MAX_EVIDENCE_BYTES);
      item = await evidence.add(hearingId, by, file.originalname, file.buffer);
    } finally {
      uploading.delete(by);
    }
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
