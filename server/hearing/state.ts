/**
 * Hearing states (shared/DESIGN.md): scheduled → waiting_room → open → {investigation, debate,
 * final_statement} → adjourned ↔ open → closed. The three phases are sub-states of a hearing in
 * session; from any of them the judge may adjourn or close.
 */
export const HEARING_STATES = [
  'scheduled',
  'waiting_room',
  'open',
  'investigation',
  'debate',
  'final_statement',
  'adjourned',
  'closed',
] as const;
export type HearingState = (typeof HEARING_STATES)[number];

const inSession = ['investigation', 'debate', 'final_statement', 'adjourned', 'closed'] as const;

const TRANSITIONS: Record<HearingState, readonly HearingState[]> = {
  scheduled: ['waiting_room', 'closed'],
  waiting_room: ['open', 'closed'],
  open: inSession,
  investigation: ['open', 'debate', 'final_statement', 'adjourned', 'closed'],
  debate: ['open', 'investigation', 'final_statement', 'adjourned', 'closed'],
  final_statement: ['open', 'debate', 'adjourned', 'closed'],
  adjourned: ['open', 'closed'],
  closed: [],
};

export function allowedTransitions(from: HearingState): readonly HearingState[] {
  return TRANSITIONS[from];
}

export function canTransition(from: HearingState, to: HearingState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States in which the hearing is in session (recorded, transcribed). */
export function isInSession(state: HearingState): boolean {
  return state === 'open' || state === 'investigation' || state === 'debate' || state === 'final_statement';
}
