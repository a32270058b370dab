import { createHash, randomUUID } from 'node:crypto';
import { notFound } from '../http/errors.ts';
import type { AnnotationRow, Store, TranscriptRow, TranscriptVersionRow } from '../store/store.ts';
import type { TranscriptSegmentEvent } from '../../workers/transcript/transcriber.ts';

/** The hearing transcript (笔录): segments as recognized, attributed to their speaker. */
export class TranscriptService {
  constructor(private readonly store: Store) {}

  addRecognized(seg: TranscriptSegmentEvent): TranscriptRow {
    const speaker = this.store.participant(seg.participantId);
    const row: TranscriptRow = {
      id: randomUUID(),
      hearingId: seg.hearingId,
      participantId: seg.participantId,
      speakerName: speaker?.name ?? 'unknown',
      role: speaker?.role ?? 'unknown',
      start: seg.start,
      end: seg.end,
      text: seg.text,
      engine: seg.engine,
      language: seg.language,
      confidence: seg.confidence,
      status: 'final',
      version: 1,
      createdAt: new Date().toISOString(),
    };
    this.store.insertTranscript(row);
    return row;
  }

  private segmentOf(hearingId: string, segmentId: string): TranscriptRow {
    const segment = this.store.transcriptSegment(segmentId);
    if (!segment || segment.hearingId !== hearingId) throw notFound('transcript segment');
    return segment;
  }

  /** A clerk's or judge's correction: a new version; the engine's text and every earlier edit stay. */
  edit(hearingId: string, segmentId: string, text: string, author: string): TranscriptRow {
    this.segmentOf(hearingId, segmentId);
    return this.store.editTranscript(segmentId, text, author, new Date().toISOString());
  }

  history(hearingId: string, segmentId: string): TranscriptVersionRow[] {
    this.segmentOf(hearingId, segmentId);
    return this.store.transcriptVersions(segmentId);
  }

  annotate(hearingId: string, segmentId: string, text: string, author: string): AnnotationRow {
    this.segmentOf(hearingId, segmentId);
    const row: AnnotationRow = { id: randomUUID(), segmentId, author, text, at: new Date().toISOString() };
    this.store.insertAnnotation(row);
    return row;
  }

  annotations(hearingId: string): AnnotationRow[] {
    return this.store.annotations(hearingId);
  }

  /**
   * SHA-256 over the transcript as it stands (every segment's id, speaker, times, text and version):
   * what a signature covers; any edit changes it.
   */
  digest(hearingId: string): string {
    const canonical = this.list(hearingId).map((s) => [s.id, s.participantId, s.start, s.end, s.text, s.version]);
    return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
  }

  list(hearingId: string): TranscriptRow[] {
    return this.store.transcript(hearingId);
  }

  /** Plain text: one line per segment, `[HH:MM:SS] Name (role): text`, in time order. */
  text(hearingId: string): string {
    return this.list(hearingId)
      .map((s) => `[${s.start.slice(11, 19)}] ${s.speakerName} (${s.role}): ${s.text}`)
      .join('\n');
  }
}
