import { randomUUID } from 'node:crypto';
import type { Store, TranscriptRow } from './store.ts';
import type { TranscriptSegmentEvent } from '../workers/transcriber.ts';

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
      createdAt: new Date().toISOString(),
    };
    this.store.insertTranscript(row);
    return row;
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
