import { spawn } from 'node:child_process';
import { guardChild } from '../../workers/taps/children.ts';
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { AppError } from '../http/errors.ts';
import type { HearingService } from '../hearing/hearings.ts';
import { requireApiKey } from '../http/api.ts';
import { validate } from '../http/validate.ts';
import { idParam } from '../http/schemas.ts';
import type { Recorder } from '../../workers/record/recorder.ts';
import { GENESIS, lineHash, readManifest, type ManifestLine, type SegmentLine } from '../../recordings/manifest.ts';
import { MANIFEST, SIGNATURE } from '../../recordings/layout.ts';
import { keyFingerprint, type RecordKey } from '../../recordings/signing.ts';
import { verifyRecord } from '../../recordings/verify.ts';

/** The hearing record over REST: listing, verification, export, and the public key that signs records. */
export function recordRouter(hearings: HearingService, recorder: Recorder, key: RecordKey, apiKey: string): express.Router {
  const router = express.Router();
  router.get('/record-key', (_req, res) => {
    res.json({ algorithm: 'Ed25519', publicKeyPem: key.publicKeyPem, fingerprint: keyFingerprint(key.publicKey) });
  });

  const dirOf = (id: unknown): string => {
    const hearingId = validate(idParam, id, 'path');
    hearings.row(hearingId);
    const dir = recorder.dirOf(hearingId);
    if (!fs.existsSync(path.join(dir, MANIFEST)))
      throw new AppError(404, 'no_record', 'this hearing has no record yet (it has not been in session)');
    return dir;
  };

  router.get('/hearings/:id/record', requireApiKey(apiKey), (req, res) => {
    const dir = dirOf(req.params.id);
    // Complete lines only (a crash can leave a partial last one); the head is the last line's hash.
    const { raw, lines } = readManifest(dir);
    const segments = lines.filter((l): l is ManifestLine & SegmentLine => l.type === 'segment');
    const tracks = new Map<
      string,
      {
        track: string;
        participantId: string;
        role: string;
        kind: string;
        codec: string;
        segments: number;
        bytes: number;
        durationSeconds: number;
      }
    >();
    for (const s of segments) {
      const t = tracks.get(s.track) ?? {
        track: s.track,
        participantId: s.participantId,
        role: s.role,
        kind: s.kind,
        codec: s.codec,
        segments: 0,
        bytes: 0,
        durationSeconds: 0,
      };
      t.segments++;
      t.bytes += s.bytes;
      t.durationSeconds = Number((t.durationSeconds + s.durationSeconds).toFixed(3));
      tracks.set(s.track, t);
    }
    const sigFile = path.join(dir, SIGNATURE);
    const signature = fs.existsSync(sigFile) ? (JSON.parse(fs.readFileSync(sigFile, 'utf8')) as Record<string, unknown>) : null;
    res.json({
      hearingId: req.params.id,
      tracks: [...tracks.values()],
      segments,
      events: lines.filter((l) => l.type === 'event'),
      head: { lines: raw.length, hash: raw.length ? lineHash(raw.at(-1)!) : GENESIS },
      signature,
    });
  });

  router.get('/hearings/:id/record/verify', requireApiKey(apiKey), (req, res) => {
    // A hearing still going on has a record that is consistent so far but not signed yet: incomplete.
    const dir = dirOf(req.params.id as string);
    const inProgress = hearings.row(req.params.id as string).state !== 'closed';
    res.json(verifyRecord(dir, { publicKey: key.publicKey, allowUnsigned: inProgress }));
  });

  router.get('/hearings/:id/record/export', requireApiKey(apiKey), (req, res) => {
    const dir = dirOf(req.params.id);
    res.type('application/x-tar');
    res.attachment(`hearing-record-${req.params.id}.tar`);
    const tar = guardChild(spawn('tar', ['-C', path.dirname(dir), '-cf', '-', path.basename(dir)], { stdio: ['ignore', 'pipe', 'pipe'] }));
    tar.stdout.pipe(res);
    tar.on('close', (code) => {
      if (code !== 0) res.destroy(new Error(`tar exited with ${code}`));
    });
  });
  return router;
}
