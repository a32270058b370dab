// Consultation rooms: a party and a lawyer step out of the courtroom to talk privately. Each is its own
// mediasoup router (under `consultation:<id>` in the media plane), so nothing in it can be consumed from
// the main room; the recorder, transcriber, face checker and livestream never touch such rooms. Only the
// fact that a consultation happened (who, when) is logged — never its content.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AppError } from '../http/errors.ts';
import type { HearingService } from './hearings.ts';
import { consultationRoomKey, type MediaPlane } from '../../workers/media/plane.ts';
import type { MediaRoom } from '../../workers/media/room.ts';

export interface Consultation {
  id: string;
  hearingId: string;
  /** The one who asked, then the one asked. */
  members: [string, string];
  /** `invited` until the one asked accepts: no room, no media before. */
  state: 'invited' | 'open';
  openedAt: number;
  expiry?: NodeJS.Timeout;
}

/** How long an invitation waits for an answer. */
export const INVITATION_TTL_MS = 60_000;

interface ConsultationEvents {
  /** An invitation nobody answered in time (the one who asked is told). */
  expired: [consultation: Consultation];
}

/**
 * A consultation is between a lawyer and a party the lawyer represents (as the court platform said,
 * `represents`); either may ask, and the other must accept before a room exists or any media flows.
 */
export class ConsultationService extends EventEmitter<ConsultationEvents> {
  private readonly open = new Map<string, Consultation>();

  constructor(private readonly o: { hearings: HearingService; plane: MediaPlane }) {
    super();
  }

  /** Asks `withId` for a consultation: an invitation, which `answer` accepts or declines. */
  invite(hearingId: string, by: string, withId: string): Consultation {
    const a = this.o.hearings.participant(hearingId, by);
    const b = this.o.hearings.participant(hearingId, withId);
    const lawyer = a.role === 'lawyer' ? a : b;
    const party = a.role === 'party' ? a : b;
    if (lawyer.role !== 'lawyer' || party.role !== 'party')
      throw new AppError(403, 'forbidden', `a consultation is between a party and a lawyer, not ${a.role} and ${b.role}`);
    if (!this.o.hearings.represents(lawyer.id, party.id))
      throw new AppError(403, 'not_represented', 'a lawyer consults only the parties they represent');
    for (const c of this.open.values()) {
      if (c.members.includes(by) || c.members.includes(withId))
        throw new AppError(409, 'already_consulting', 'one of you is already in a consultation or asked for one');
    }
    const consultation: Consultation = { id: randomUUID(), hearingId, members: [by, withId], state: 'invited', openedAt: Date.now() };
    this.open.set(consultation.id, consultation);
    consultation.expiry = setTimeout(() => {
      if (this.open.get(consultation.id)?.state !== 'invited') return;
      this.close(consultation.id, 'system', 'not answered');
      this.emit('expired', consultation);
    }, INVITATION_TTL_MS);
    consultation.expiry.unref();
    this.o.hearings.log(hearingId, by, 'consultation.requested', { consultationId: consultation.id, participants: consultation.members });
    return consultation;
  }

  /** The one asked accepts (the room opens) or declines (the invitation ends). */
  async answer(hearingId: string, by: string, consultationId: string, accept: boolean): Promise<Consultation> {
    const c = this.open.get(consultationId);
    if (!c || c.hearingId !== hearingId || c.members[1] !== by || c.state !== 'invited')
      throw new AppError(404, 'not_found', 'no invitation to answer');
    clearTimeout(c.expiry);
    if (!accept) {
      this.close(c.id, by, 'declined');
      return c;
    }
    await this.o.plane.room(consultationRoomKey(c.id));
    // Closed meanwhile (the one who asked left or withdrew): its room must not stay.
    if (this.open.get(c.id) !== c) {
      this.o.plane.closeRoom(consultationRoomKey(c.id));
      throw new AppError(404, 'not_found', 'the consultation was withdrawn');
    }
    c.state = 'open';
    c.openedAt = Date.now();
    this.o.hearings.log(hearingId, c.members[0], 'consultation.opened', { consultationId: c.id, participants: c.members, acceptedBy: by });
    return c;
  }

  /** The consultation's room, for one of its two members only, once accepted. */
  async roomFor(hearingId: string, participantId: string, consultationId: string): Promise<MediaRoom> {
    const c = this.open.get(consultationId);
    if (!c || c.hearingId !== hearingId || !c.members.includes(participantId) || c.state !== 'open')
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

  /** The hearing moved to another node (cluster): its consultations here end, each logged as ended for that reason. */
  relinquish(hearingId: string): void {
    for (const c of [...this.open.values()]) if (c.hearingId === hearingId) this.close(c.id, 'system', 'hearing moved to another node');
  }

  close(consultationId: string, by: string, reason: string): Consultation | undefined {
    const c = this.open.get(consultationId);
    if (!c) return undefined;
    this.open.delete(consultationId);
    clearTimeout(c.expiry);
    if (c.state === 'open') this.o.plane.closeRoom(consultationRoomKey(c.id));
    this.o.hearings.log(c.hearingId, by, c.state === 'open' ? 'consultation.closed' : 'consultation.not_opened', {
      consultationId: c.id,
      reason,
      seconds: Math.round((Date.now() - c.openedAt) / 1000),
    });
    return c;
  }
}
