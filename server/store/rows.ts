// The store's row types: what each table holds, as the rest of the server reads it.
import type { HearingState } from '../hearing/state.ts';
import type { Role } from '../hearing/roles.ts';

export interface HearingRow {
  id: string;
  caseNumber: string;
  title: string;
  scheduledAt: string | null;
  state: HearingState;
  asrEngine: string | null;
  asrLanguage: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StreamSettings {
  /** The court platform marked the hearing as one that may be streamed to the public. */
  streamable: boolean;
  approvedBy: string | null;
  approvedAt: string | null;
}

/** How a participant appears in the public stream. */
export interface Protection {
  hidden: boolean;
  voice: 'natural' | 'disguised';
}

export type IdentityStatus = 'unenrolled' | 'pending' | 'verified' | 'rejected' | 'needs_review';

export interface IdentityRow {
  hearingId: string;
  participantId: string;
  /** 128 little-endian float32; null once forgotten. */
  descriptor: Buffer | null;
  photoSha256: string | null;
  model: string | null;
  enrolledAt: string | null;
  status: IdentityStatus;
  distance: number | null;
  checkedAt: string | null;
  /** `system` for a model decision; the judge's or clerk's participant id for a manual one. */
  decidedBy: string | null;
  reason: string | null;
}

export interface ParticipantRow {
  id: string;
  hearingId: string;
  name: string;
  role: Role;
  /** What is kept of an ID number (see IdNumbers): the last four characters, and a keyed hash. */
  idMasked: string | null;
  idHash: string | null;
  createdAt: string;
}

export interface TranscriptRow {
  id: string;
  hearingId: string;
  participantId: string;
  speakerName: string;
  role: string;
  start: string;
  end: string;
  text: string;
  engine: string;
  language: string;
  confidence: number;
  status: 'partial' | 'final' | 'edited';
  /** Current version: 1 is the engine's text; every edit adds one. */
  version: number;
  createdAt: string;
}

export interface TranscriptVersionRow {
  segmentId: string;
  version: number;
  text: string;
  author: string;
  at: string;
}

export interface AnnotationRow {
  id: string;
  segmentId: string;
  author: string;
  text: string;
  at: string;
}

export interface EvidenceRow {
  id: string;
  hearingId: string;
  uploadedBy: string;
  originalName: string;
  sha256: string;
  bytes: number;
  width: number;
  height: number;
  /** Where the judge or clerk pasted it into the transcript (null: listed, not placed). */
  afterSegmentId: string | null;
  createdAt: string;
}

export interface FreezeRow {
  hearingId: string;
  version: number;
  digest: string;
  manifestHead: string | null;
  frozenBy: string;
  at: string;
}

export interface SignatureRow {
  id: string;
  hearingId: string;
  version: number;
  participantId: string;
  keyId: string;
  signature: string;
  signedAt: string;
  /** SHA-256 of the drawn signature image stored beside the record, if one was given. */
  imageSha256: string | null;
}

export interface AuditRow {
  seq: number;
  hearingId: string | null;
  at: string;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

/** A SIP terminal's digest account: HA1 = MD5(user:realm:pin), never the PIN. */
export interface SipAccountRow {
  participantId: string;
  hearingId: string;
  user: string;
  ha1: string;
}
