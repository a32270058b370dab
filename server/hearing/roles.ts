/** Participant roles and what each may do (shared/DESIGN.md, "Roles and what each may do"). */
export const ROLES = ['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

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
  | 'moderate';

const CAN: Record<Action, readonly Role[]> = {
  publish: ['judge', 'clerk', 'party', 'lawyer', 'interpreter'],
  subscribe: ['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'viewer'],
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
  // Muting someone in the courtroom is the presiding judge's.
  moderate: ['judge'],
};

export function may(role: Role, action: Action): boolean {
  return CAN[action].includes(role);
}
