import { EventEmitter } from 'node:events';
import { createHmac, randomUUID } from 'node:crypto';
import { AppError, notFound } from '../http/errors.ts';
import { allowedTransitions, canTransition, type HearingState } from './state.ts';
import type { Role } from './roles.ts';
import type { AuditRow, HearingRow, IdentityRow, IdentityStatus, ParticipantRow, Store } from '../store/store.ts';
import type { TokenIssuer } from '../http/auth.ts';

export interface HearingView extends HearingRow {
  allowedTransitions: readonly HearingState[];
  /** Marked by the court platform as one that may be streamed to the public. */
  streamable: boolean;
  participants: ParticipantView[];
}

export interface ParticipantView {
  id: string;
  name: string;
  role: Role;
  /** Only the last four characters of an ID number are kept... */
  idNumberMasked: string | null;
  /** ...and its keyed hash (hex HMAC-SHA256): the same number gives the same hash on this server. */
  idNumberHash: string | null;
  createdAt: string;
  /** For a lawyer: the parties they represent, the only ones they may consult. */
  represents?: string[];
  /** Face identity: `unenrolled` until the court platform enrolls a reference photo. */
  identity: { status: IdentityStatus; distance: number | null; checkedAt: string | null };
}

/** Refuses a transition with an AppError (e.g. identity checks outstanding before opening). */
export type TransitionGuard = (hearingId: string, from: HearingState, to: HearingState) => void;

interface HearingEvents {
  /** Every audit entry of a hearing, for signaling broadcast and webhooks. */
  event: [entry: AuditRow];
}

/**
 * What is kept of an ID number: the number masked to its last four characters (for people to recognise
 * it) and HMAC-SHA256 under the server's `idKey` (equal for the same number, so the platform can tell one
 * person added twice; without the key it cannot be reversed by trying the few billion possible numbers).
 */
export class IdNumbers {
  constructor(private readonly key: Uint8Array) {}
  keep(idNumber: string): { idMasked: string; idHash: string } {
    const normalized = idNumber.trim().toUpperCase();
    return {
      idMasked: `${'*'.repeat(Math.max(0, normalized.length - 4))}${normalized.slice(-4)}`,
      idHash: createHmac('sha256', this.key).update(normalized).digest('hex'),
    };
  }
}

const UNENROLLED = { status: 'unenrolled' as const, distance: null, checkedAt: null };

function participantView(p: ParticipantRow, identity?: IdentityRow, represents?: string[]): ParticipantView {
  return {
    id: p.id,
    name: p.name,
    role: p.role,
    idNumberMasked: p.idMasked,
    idNumberHash: p.idHash,
    createdAt: p.createdAt,
    ...(p.role === 'lawyer' ? { represents: represents ?? [] } : {}),
    identity: identity ? { status: identity.status, distance: identity.distance, checkedAt: identity.checkedAt } : UNENROLLED,
  };
}

/** Hearings, their participants, their state machine and their log: the control plane's core. */
export class HearingService extends EventEmitter<HearingEvents> {
  private readonly guards: TransitionGuard[] = [];
  /** Who has joined each hearing with an open cache (see joinedBefore). */
  private readonly joined = new Map<string, Set<string>>();

  addTransitionGuard(guard: TransitionGuard): void {
    this.guards.push(guard);
  }

  constructor(
    private readonly store: Store,
    private readonly tokens: TokenIssuer,
    private readonly joinBaseUrl: () => string,
    private readonly idNumbers: IdNumbers,
  ) {
    super();
  }

  create(
    input: { caseNumber: string; title: string; scheduledAt?: string; asr?: { engine: string; language: string }; streamable?: boolean },
    actor: string,
  ): HearingView {
    const now = new Date().toISOString();
    const row: HearingRow = {
      id: randomUUID(),
      caseNumber: input.caseNumber,
      title: input.title,
      scheduledAt: input.scheduledAt ?? null,
      state: 'scheduled',
      asrEngine: input.asr?.engine ?? null,
      asrLanguage: input.asr?.language ?? null,
      createdAt: now,
      updatedAt: now,
    };
    this.store.insertHearing(row);
    if (input.streamable) this.store.saveStreamSettings(row.id, { streamable: true, approvedBy: null, approvedAt: null });
    this.log(row.id, actor, 'hearing.created', { caseNumber: row.caseNumber, title: row.title, streamable: input.streamable ?? false });
    return this.view(row);
  }

  get(id: string): HearingView {
    return this.view(this.row(id));
  }

  row(id: string): HearingRow {
    const row = this.store.hearing(id);
    if (!row) throw notFound('hearing');
    return row;
  }

  list(limit: number, offset: number): HearingView[] {
    return this.store.hearings(limit, offset).map((row) => this.view(row));
  }

  findByCase(caseNumber: string): HearingRow | undefined {
    return this.store.hearingByCase(caseNumber);
  }

  async addParticipant(
    hearingId: string,
    input: { name: string; role: Role; idNumber?: string; represents?: string[] },
    actor: string,
  ): Promise<ParticipantView & { token: string; expiresAt: string; joinUrl: string }> {
    const hearing = this.row(hearingId);
    if (hearing.state === 'closed') throw new AppError(409, 'hearing_closed', 'hearing is closed');
    if (input.represents) this.checkRepresents(hearingId, input.role, input.represents);
    const row: ParticipantRow = {
      id: randomUUID(),
      hearingId,
      name: input.name,
      role: input.role,
      ...(input.idNumber ? this.idNumbers.keep(input.idNumber) : { idMasked: null, idHash: null }),
      createdAt: new Date().toISOString(),
    };
    this.store.insertParticipant(row);
    this.log(hearingId, actor, 'participant.added', {
      participantId: row.id,
      role: row.role,
      name: row.name,
      ...(input.represents ? { represents: input.represents } : {}),
    });
    if (input.represents) this.store.setRepresents(row.id, input.represents);
    return { ...participantView(row, undefined, input.represents), ...(await this.issueToken(row)) };
  }

  /** A courtroom camera (server/sources/): a participant of role `courtroom`, without a token. */
  addSource(hearingId: string, name: string, detail: Record<string, unknown>, actor: string): ParticipantView {
    const hearing = this.row(hearingId);
    if (hearing.state === 'closed') throw new AppError(409, 'hearing_closed', 'hearing is closed');
    const row: ParticipantRow = {
      id: randomUUID(),
      hearingId,
      name,
      role: 'courtroom',
      idMasked: null,
      idHash: null,
      createdAt: new Date().toISOString(),
    };
    this.store.insertParticipant(row);
    this.log(hearingId, actor, 'participant.added', { participantId: row.id, role: row.role, name, ...detail });
    return participantView(row, undefined, undefined);
  }

  /** Sets the parties a lawyer represents (replacing the list). */
  setRepresents(hearingId: string, lawyerId: string, represents: string[], actor: string): ParticipantView {
    this.assertOpen(hearingId);
    const lawyer = this.participant(hearingId, lawyerId);
    this.checkRepresents(hearingId, lawyer.role, represents);
    this.store.setRepresents(lawyerId, represents);
    this.log(hearingId, actor, 'participant.represents', { participantId: lawyerId, represents });
    return this.participants(hearingId).find((p) => p.id === lawyerId)!;
  }

  /** Whether `lawyerId` represents `partyId` (a consultation needs it). */
  represents(lawyerId: string, partyId: string): boolean {
    return this.store.represents(lawyerId, partyId);
  }

  private checkRepresents(hearingId: string, role: Role, represents: string[]): void {
    if (role !== 'lawyer') throw new AppError(400, 'not_a_lawyer', 'only a lawyer represents parties');
    for (const partyId of represents) {
      const p = this.store.participant(partyId);
      if (!p || p.hearingId !== hearingId || p.role !== 'party')
        throw new AppError(422, 'not_a_party', `${partyId} is not a party of this hearing`, { participantId: partyId });
    }
  }

  /** Throws 409 for a closed hearing: nothing is written to it any more. */
  assertOpen(hearingId: string): void {
    if (this.row(hearingId).state === 'closed') throw new AppError(409, 'hearing_closed', 'hearing is closed');
  }

  async issueToken(p: ParticipantRow): Promise<{ token: string; expiresAt: string; joinUrl: string }> {
    this.assertOpen(p.hearingId);
    if (p.role === 'courtroom') throw new AppError(409, 'not_a_person', 'a courtroom camera joins as its source, not with a link');
    const { token, expiresAt } = await this.tokens.issue({ hearingId: p.hearingId, participantId: p.id, role: p.role });
    return { token, expiresAt, joinUrl: `${this.joinBaseUrl()}/join?token=${encodeURIComponent(token)}` };
  }

  participant(hearingId: string, participantId: string): ParticipantRow {
    const p = this.store.participant(participantId);
    if (!p || p.hearingId !== hearingId) throw notFound('participant');
    return p;
  }

  /** A participant's role, whatever the hearing (undefined for internal peers: recorder, taps). */
  participantRole(participantId: string): Role | undefined {
    return this.store.participant(participantId)?.role;
  }

  participants(hearingId: string): ParticipantView[] {
    const identities = new Map(this.store.identities(hearingId).map((r) => [r.participantId, r]));
    const represents = new Map<string, string[]>();
    for (const r of this.store.representations(hearingId)) represents.set(r.lawyerId, [...(represents.get(r.lawyerId) ?? []), r.partyId]);
    return this.store.participants(hearingId).map((p) => participantView(p, identities.get(p.id), represents.get(p.id)));
  }

  transition(hearingId: string, to: HearingState, actor: string): HearingView {
    const row = this.row(hearingId);
    if (!canTransition(row.state, to)) {
      throw new AppError(409, 'invalid_transition', `cannot go from ${row.state} to ${to}`, {
        state: row.state,
        allowed: allowedTransitions(row.state),
      });
    }
    for (const guard of this.guards) guard(hearingId, row.state, to);
    const at = new Date().toISOString();
    if (!this.store.updateState(hearingId, row.state, to, at)) {
      throw new AppError(409, 'concurrent_transition', 'the hearing changed state meanwhile; retry', {
        allowed: allowedTransitions(this.row(hearingId).state),
      });
    }
    this.log(hearingId, actor, 'hearing.state_changed', { from: row.state, to });
    return this.get(hearingId);
  }

  /** Appends to the hearing's audit log and tells listeners (signaling, webhooks). */
  /**
   * Whether the participant joined this hearing before (a reconnect, a rejoin after a worker death or a
   * server restart), remembered per hearing from the log.
   */
  joinedBefore(hearingId: string, participantId: string): boolean {
    let seen = this.joined.get(hearingId);
    if (!seen) {
      seen = new Set(this.store.actorsOf(hearingId, 'participant.joined'));
      this.joined.set(hearingId, seen);
    }
    return seen.has(participantId);
  }

  log(hearingId: string, actor: string, action: string, detail: Record<string, unknown> = {}): AuditRow {
    const entry = this.store.audit({ hearingId, at: new Date().toISOString(), actor, action, detail });
    if (action === 'participant.joined') this.joined.get(hearingId)?.add(actor);
    if (action === 'hearing.state_changed' && detail.to === 'closed') this.joined.delete(hearingId);
    this.emit('event', entry);
    return entry;
  }

  events(hearingId: string, afterSeq = 0): AuditRow[] {
    this.row(hearingId);
    return this.store.auditLog(hearingId, afterSeq);
  }

  private view(row: HearingRow): HearingView {
    return {
      ...row,
      allowedTransitions: allowedTransitions(row.state),
      streamable: this.store.streamSettings(row.id).streamable,
      participants: this.participants(row.id),
    };
  }
}
