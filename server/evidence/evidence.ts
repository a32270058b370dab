import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { notFound } from '../http/errors.ts';
import type { ImageDecoder } from './images.ts';
import type { EvidenceRow, Store } from '../store/store.ts';

export const MAX_EVIDENCE_BYTES = 10 * 1024 * 1024;

/**
 * Evidence photos: validated as real images in the image process (format sniffed from the bytes, size
 * and pixel limits, fully decoded), re-encoded as JPEG without EXIF (location, device), with a
 * thumbnail. Stored beside the hearing's record; nothing is written for a refused upload.
 */
export class EvidenceService {
  constructor(
    private readonly store: Store,
    private readonly dirOf: (hearingId: string) => string,
    private readonly images: ImageDecoder,
  ) {}

  async add(hearingId: string, uploadedBy: string, originalName: string, input: Buffer): Promise<EvidenceRow> {
    const photo = await this.images.reencode(input, MAX_EVIDENCE_BYTES, 'jpeg', 320);
    const thumb = photo.thumb!;
    const row: EvidenceRow = {
      id: randomUUID(),
      hearingId,
      uploadedBy,
      originalName: originalName.slice(0, 200),
      sha256: createHash('sha256').update(photo.data).digest('hex'),
      bytes: photo.data.length,
      width: photo.width,
      height: photo.height,
      afterSegmentId: null,
      createdAt: new Date().toISOString(),
    };
    const dir = path.join(this.dirOf(hearingId), 'evidence');
    fs.mkdirSync(dir, { recursive: true });
    for (const [file, data] of [
      [`${row.id}.jpg`, photo.data],
      [`${row.id}.thumb.jpg`, thumb],
    ] as const) {
      fs.writeFileSync(path.join(dir, `${file}.tmp`), data);
      fs.renameSync(path.join(dir, `${file}.tmp`), path.join(dir, file));
    }
    this.store.insertEvidence(row);
    return row;
  }

  list(hearingId: string): EvidenceRow[] {
    return this.store.evidence(hearingId);
  }

  file(hearingId: string, evidenceId: string, thumb: boolean): string {
    if (!this.list(hearingId).some((e) => e.id === evidenceId)) throw notFound('evidence');
    return path.join(this.dirOf(hearingId), 'evidence', `${evidenceId}${thumb ? '.thumb' : ''}.jpg`);
  }

  /** The judge or clerk pastes a photo into the transcript after a segment. */
  place(hearingId: string, evidenceId: string, afterSegmentId: string): EvidenceRow {
    const item = this.list(hearingId).find((e) => e.id === evidenceId);
    if (!item) throw notFound('evidence');
    const segment = this.store.transcriptSegment(afterSegmentId);
    if (!segment || segment.hearingId !== hearingId) throw notFound('transcript segment');
    this.store.placeEvidence(evidenceId, afterSegmentId);
    return { ...item, afterSegmentId };
  }
}
