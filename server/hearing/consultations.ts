// Consultation rooms: a party and a lawyer step out of the courtroom to talk privately. Each is its own
// mediasoup router (under `consultation:<id>` in the media plane), so nothing in it can be consumed from
// the main room; the recorder, transcriber, face checker and livestream never touch such rooms. Only the
// fact that a consultation happened (who, when) is logged — never its content.
import { randomUUID } from 'node:crypto';
import { AppError } from '../http/errors.ts';
import type { HearingService } from './hearings.ts';
import { consultationRoomKey, type MediaPlane } from '../../workers/media/plane.ts';
import type { MediaRoom } from '../../workers/media/room.ts';

interface Consultation {
  id: string;
  hearingId: string;
  members: [string, string];
  openedAt: number;
}

/** Who may consult whom: a party with a lawyer (either may ask). */
const PAIRS = new Set(['party:lawyer', 'lawyer:party']);

export class ConsultationService {
  private readonly open = new Map<string, Consultation>();

  constructor(private readonly o: { hearings: HearingService; plane: MediaPlane }) {}

  async start(hearingId: string, by: string, withId: string): Promise<{ consultation: Consultation; room: MediaRoom }> {
    const a = this.o.hearings.participant(hearingId, by);
    const b = this.o.hearings.participant(hearingId, withId);
    if (!PAIRS.has(`${a.role}:${b.role}`))
      throw new AppError(403, 'forbidden', `a consultation is between a party and a lawyer, not ${a.role} and ${b.role}`);
    for (const c of this.open.values()) {
      if (c.members.includes(by) || c.members.includes(withId))
        throw new AppError(409, 'already_consulting', 'one of you is already in a consultation');
    }
    const consultation: Consultation = { id: randomUUID(), hearingId, members: [by, withId], openedAt: Date.now() };
    const room = await this.o.plane.room(consultationRoomKey(consultation.id));
    this.open.set(consultation.id, consultation);
    this.o.hearings.log(hearingId, by, 'consultation.opened', { consultationId: consultation.id, participants: consultation.members });
    return { consultation, room };
  }

  /** The consultation's room, for one of its two members only. */
  async roomFor(hearingId: string, participantId: string, consultationId: string): Promise<MediaRoom> {
    const c = this.open.get(consultationId);
    if (!c || c.hearingId !== hearingId || !c.members.includes(participantId))
      throw new AppError(404, 'not_found', 'consultation not found');
    return this.o.plane.room(consultationRoomKey(c.id));
  }

  get(consultationId: string): Consultation | undefined {
    return this.open.get(consultationId);
  }

  /** Consultations a participant is in (at most one). */
  of(participantId: string): Consultation[] {
    return [...this.open.values()].filter((c) => c.members.includes(participantId));
  }

  /** The hearing's consultation step at close: every consultation still open ends. */
  closeHearing(hearingId: string): void {
    for (const c of [...this.open.values()]) if (c.hearingId === hearingId) this.close(c.id, 'system', 'hearing closed');
  }

  close(consultationId: string, by: string, reason: string): Consultation | undefined {
    const c = this.open.get(consultationId);
    if (!c) return undefined;
    this.open.delete(consultationId);
    this.o.plane.closeRoom(consultationRoomKey(c.id));
    this.o.hearings.log(c.hearingId, by, 'consultation.closed', {
      consultationId: c.id,
      reason,
      seconds: Math.round((Date.now() - c.openedAt) / 1000),
    });
    return c;
  }
}
