import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import { AppError } from '../http/errors.ts';
import { requireApiKey } from '../http/api.ts';
import { validate } from '../http/validate.ts';
import { idParam } from '../http/schemas.ts';
import type { LivestreamService } from './livestream.ts';
import { protectionBody, streamableBody, streamActionBody } from './schemas.ts';

/** Court-platform control of the livestream (API key). */
export function livestreamRouter(live: LivestreamService, apiKey: string): express.Router {
  const router = express.Router();
  router.use('/hearings/:id/stream', requireApiKey(apiKey), express.json({ limit: '4kb' }));
  router.use('/hearings/:id/participants/:pid/protection', requireApiKey(apiKey), express.json({ limit: '4kb' }));
  router.get('/hearings/:id/stream', (req, res) => {
    res.json(live.status(validate(idParam, req.params.id, 'path')));
  });
  router.post('/hearings/:id/stream', async (req, res) => {
    const id = validate(idParam, req.params.id, 'path');
    res.json(await live.act(id, validate(streamActionBody, req.body, 'body').action, 'api'));
  });
  router.put('/hearings/:id/stream/streamable', (req, res) => {
    const id = validate(idParam, req.params.id, 'path');
    live.setStreamable(id, validate(streamableBody, req.body, 'body').streamable, 'api');
    res.json(live.status(id));
  });
  router.post('/hearings/:id/participants/:pid/protection', (req, res) => {
    const id = validate(idParam, req.params.id, 'path');
    const pid = validate(idParam, req.params.pid, 'path');
    res.json(live.setProtection(id, pid, validate(protectionBody, req.body, 'body'), 'api'));
  });
  return router;
}

const PUBLIC_FILE = /^(index\.m3u8|video\.m3u8|subs\.m3u8|status\.json|seg_\d{6}\.(ts|vtt))$/;

/**
 * What the public sees: the HLS files of an approved stream under /live/<hearing>/ (plain static files,
 * so a CDN or nginx in front serves any audience; this server is the origin) and the viewer page
 * /watch/<hearing>. No token; rate-limited per client address.
 */
export function publicLiveRouter(live: LivestreamService, pageDir: string): express.Router {
  const router = express.Router();
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: 600,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    message: { error: { code: 'rate_limited', message: 'too many requests' } },
  });
  router.use(['/live', '/watch'], limiter);
  const publicHearing = (raw: unknown): string => {
    const id = validate(idParam, raw, 'path');
    if (!live.isPublic(id)) throw new AppError(404, 'not_streamed', 'this hearing is not streamed to the public');
    return id;
  };
  router.get('/live/:id/:file', async (req, res) => {
    const id = publicHearing(req.params.id);
    if (!PUBLIC_FILE.test(req.params.file)) throw new AppError(404, 'not_found', 'no such stream file');
    const file = path.join(live.publicDir(id), req.params.file);
    if (!fs.existsSync(file)) throw new AppError(404, 'not_found', 'no such stream file (not yet published, or expired)');
    const playlist = /\.(m3u8|json)$/.test(file);
    res.set('cache-control', playlist ? 'no-cache' : 'public, max-age=3600, immutable');
    res.set('access-control-allow-origin', '*');
    res.type(
      file.endsWith('.m3u8')
        ? 'application/vnd.apple.mpegurl'
        : file.endsWith('.ts')
          ? 'video/mp2t'
          : file.endsWith('.vtt')
            ? 'text/vtt'
            : 'application/json',
    );
    if (!playlist) return res.sendFile(file); // segments are written once (renamed into place) and never change
    // Playlists are replaced (renamed over) every segment: read in one open, so the length sent is the
    // length of the one version read (sendFile's stat and its read could see two versions).
    const body = await fs.promises.readFile(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new AppError(404, 'not_found', 'no such stream file (not yet published, or expired)');
      throw error;
    });
    res.send(body);
  });
  router.get('/watch/:id', (req, res) => {
    publicHearing(req.params.id);
    res.sendFile(path.join(pageDir, 'watch.html'));
  });
  return router;
}
