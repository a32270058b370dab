/** Participant roles and what each may do (shared/DESIGN.md, "Roles and what each may do"). */
/** The people in a hearing: each joins with a link (a token) or from a SIP terminal. */
export const PERSON_ROLES = ['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness', 'viewer'] as const;
/**
 * With `courtroom`: a fixed courtroom camera (RTSP pulled or RTMP pushed, server/sources/), which
 * appears, is recorded and is streamed like a participant's camera, but is nobody: no token, no link, no
 * signaling, no signature.
 */
export const ROLES = [...PERSON_ROLES, 'courtroom'] as const;
export type Role = (typeof ROLES)[number];
export type PersonRole = (typeof PERSON_ROLES)[number];

export type Action =
  | 'publish'
  | 'subscribe'
  | 'changeState'
  | 'controlRecord'
  | 'editTranscript'
  | 'annotateTranscript'
  | 'decideIdentity'
  | 'approveStream'
  | 'controlStream'
  | 'consult'
  | 'viewEvidence'
  | 'submitEvidence'
  | 'moderate';

const CAN: Record<Action, readonly Role[]> = {
  // A witness speaks and hears only once the judge has called them in (see `waitsToBeCalled`).
  publish: ['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness'],
  subscribe: ['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness', 'viewer'],
  changeState: ['judge'],
  controlRecord: ['judge', 'clerk'],
  editTranscript: ['judge', 'clerk'],
  annotateTranscript: ['judge', 'clerk', 'party', 'lawyer', 'interpreter'],
  decideIdentity: ['judge', 'clerk'],
  approveStream: ['judge'],
  controlStream: ['judge', 'clerk'],
  consult: ['party', 'lawyer'],
  // Evidence is for the parties and the court, not the public.
  viewEvidence: ['judge', 'clerk', 'party', 'lawyer', 'interpreter'],
  // A witness testifies; what is put into evidence comes from the parties and the court.
  submitEvidence: ['judge', 'clerk', 'party', 'lawyer', 'interpreter'],
  // Muting someone in the courtroom is the presiding judge's.
  moderate: ['judge'],
};

export function may(role: Role, action: Action): boolean {
  return CAN[action].includes(role);
}

/**
 * A witness joins into a separate waiting area: they see and hear nothing of the courtroom (no media, no
 * transcript, no events) and the courtroom nothing of them, until the judge calls them in; the judge may
 * send them back to it after their testimony.
 */
export function waitsToBeCalled(role: Role): boolean {
  return role === 'witness';
}
