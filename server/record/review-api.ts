import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { AppError } from '../http/errors.ts';
import type { HearingService } from '../hearing/hearings.ts';
import { requireApiKey } from '../http/api.ts';
import { validate } from '../http/validate.ts';
import { idParam } from '../http/schemas.ts';
import { MANIFEST } from '../../recordings/layout.ts';
import { buildReview } from '../../recordings/review.ts';
import { sha256Hex } from '../../recordings/manifest.ts';

type ReviewState =
  | { status: 'building' }
  | { status: 'ready'; bytes: number; sha256: string; durationSeconds: number }
  | { status: 'failed'; error: string };

/**
 * The optional mixed review file of a closed hearing, on request: `POST …/record/review` starts one
 * ffmpeg pass (one at a time, low priority), `GET …/record/review` says how it stands or streams the MP4.
 * It lives apart from the record (`<data>/reviews/`), so the record, its verification and its export
 * are untouched by it.
 */
export function reviewRouter(
  hearings: HearingService,
  recordDirOf: (id: string) => string,
  dataDir: string,
  apiKey: string,
): express.Router {
  const router = express.Router();
  const dir = path.join(dataDir, 'reviews');
  const states = new Map<string, ReviewState>();
  let queue: Promise<void> = Promise.resolve();
  const fileOf = (id: string): string => path.join(dir, `${id}.mp4`);

  const closedRecord = (raw: unknown): string => {
    const id = validate(idParam, raw, 'path');
    const hearing = hearings.row(id);
    if (!fs.existsSync(path.join(recordDirOf(id), MANIFEST)))
      throw new AppError(404, 'no_record', 'this hearing has no record (it has not been in session)');
    if (hearing.state !== 'closed')
      throw new AppError(409, 'hearing_not_closed', 'the review file is made after the hearing: close it first');
    return id;
  };

  router.post('/hearings/:id/record/review', requireApiKey(apiKey), (req, res) => {
    const id = closedRecord(req.params.id);
    const current = states.get(id);
    if (current?.status === 'building' || current?.status === 'ready')
      return void res.status(current.status === 'ready' ? 200 : 202).json(current);
    states.set(id, { status: 'building' });
    fs.mkdirSync(dir, { recursive: true });
    queue = queue.then(async () => {
      try {
        const plan = await buildReview(recordDirOf(id), fileOf(id));
        const data = await fs.promises.readFile(fileOf(id));
        const ready = {
          status: 'ready' as const,
          bytes: data.length,
          sha256: sha256Hex(data),
          durationSeconds: Number(plan.durationSeconds.toFixed(3)),
        };
        states.set(id, ready);
        hearings.log(id, 'system', 'record.review_built', {
          bytes: ready.bytes,
          sha256: ready.sha256,
          tracks: plan.tracks,
          origin: new Date(plan.originMs).toISOString(),
        });
      } catch (error) {
        states.set(id, { status: 'failed', error: (error as Error).message.slice(0, 1000) });
        hearings.log(id, 'system', 'record.review_failed', { error: (error as Error).message.slice(0, 300) });
      }
    });
    res.status(202).json({ status: 'building' });
  });

  router.get('/hearings/:id/record/review', requireApiKey(apiKey), (req, res) => {
    const id = closedRecord(req.params.id);
    const state = states.get(id) ?? (fs.existsSync(fileOf(id)) ? { status: 'ready' as const } : undefined);
    if (!state) throw new AppError(404, 'no_review', 'no review file was requested for this hearing (POST to make one)');
    if (state.status === 'building') return void res.status(202).json(state);
    if (state.status === 'failed') throw new AppError(500, 'review_failed', state.error);
    res.type('video/mp4').sendFile(fileOf(id));
  });
  return router;
}
