import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { AppError, notFound } from '../http/errors.ts';
import type { EvidenceRow, Store } from '../store/store.ts';

export const MAX_EVIDENCE_BYTES = 10 * 1024 * 1024;
const MAX_PIXELS = 40_000_000;
const ACCEPTED = new Set(['jpeg', 'png', 'webp', 'heif', 'avif', 'tiff', 'gif']);

/** sharp's error as a 4xx: too many pixels is 413 wherever sharp notices it. */
function refusal(error: unknown, status: number, code: string, what: string): AppError {
  const message = (error as Error).message;
  if (/pixel limit/i.test(message)) return new AppError(413, 'image_too_large', `the photo has more than ${MAX_PIXELS} pixels`);
  return new AppError(status, code, `${what}: ${message}`);
}

/**
 * Checks that `input` is a real image (format sniffed from the bytes, byte and pixel limits, fully
 * decoded) and re-encodes it without metadata (EXIF: location, device); refusals are 4xx AppErrors.
 */
export async function reencodeImage(
  input: Buffer,
  maxBytes: number,
  as: 'jpeg' | 'png',
): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
  if (input.length === 0) throw new AppError(400, 'empty_upload', 'the uploaded file is empty');
  if (input.length > maxBytes) throw new AppError(413, 'image_too_large', `the image is over ${maxBytes} bytes`);
  const options = { limitInputPixels: MAX_PIXELS, failOn: 'warning' as const };
  let format: string | undefined;
  try {
    format = (await sharp(input, options).metadata()).format;
  } catch (error) {
    throw refusal(error, 415, 'not_an_image', 'not an image');
  }
  if (!format || !ACCEPTED.has(format)) throw new AppError(415, 'not_an_image', `unsupported image format ${format ?? 'unknown'}`);
  try {
    // rotate() applies the EXIF orientation before the metadata is dropped (sharp keeps none by default).
    const image = sharp(input, options).rotate();
    return await (as === 'jpeg' ? image.jpeg({ quality: 90 }) : image.png()).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw refusal(error, 422, 'corrupt_image', 'the image cannot be decoded');
  }
}

/**
 * Evidence photos: validated as real images by sharp (format sniffed from the bytes, size and pixel
 * limits, fully decoded), re-encoded as JPEG without EXIF (location, device), with a thumbnail. Stored
 * beside the hearing's record; nothing is written for a refused upload.
 */
export class EvidenceService {
  constructor(
    private readonly store: Store,
    private readonly dirOf: (hearingId: string) => string,
  ) {}

  async add(hearingId: string, uploadedBy: string, originalName: string, input: Buffer): Promise<EvidenceRow> {
    const photo = await reencodeImage(input, MAX_EVIDENCE_BYTES, 'jpeg');
    let thumb: Buffer;
    try {
      thumb = await sharp(photo.data).resize({ width: 320, height: 320, fit: 'inside' }).jpeg({ quality: 80 }).toBuffer();
    } catch (error) {
      throw refusal(error, 422, 'corrupt_image', 'the image cannot be decoded');
    }
    const row: EvidenceRow = {
      id: randomUUID(),
      hearingId,
      uploadedBy,
      originalName: originalName.slice(0, 200),
      sha256: createHash('sha256').update(photo.data).digest('hex'),
      bytes: photo.data.length,
      width: photo.info.width,
      height: photo.info.height,
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
