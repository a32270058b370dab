import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { HearingState } from './hearing-state.ts';
import type { Role } from './roles.ts';

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
  idNumber: string | null;
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

/** Schema migrations, applied in order; PRAGMA user_version records how many ran. */
const MIGRATIONS: string[] = [
  `CREATE TABLE hearings (
     id TEXT PRIMARY KEY,
     case_number TEXT NOT NULL,
     title TEXT NOT NULL,
     scheduled_at TEXT,
     state TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE participants (
     id TEXT PRIMARY KEY,
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     name TEXT NOT NULL,
     role TEXT NOT NULL,
     id_number TEXT,
     created_at TEXT NOT NULL
   );
   CREATE INDEX participants_hearing ON participants(hearing_id);
   CREATE TABLE audit_log (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     hearing_id TEXT,
     at TEXT NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     detail TEXT NOT NULL
   );
   CREATE INDEX audit_hearing ON audit_log(hearing_id, seq);`,
  `ALTER TABLE hearings ADD COLUMN asr_engine TEXT;
   ALTER TABLE hearings ADD COLUMN asr_language TEXT;
   CREATE TABLE transcript_segments (
     id TEXT PRIMARY KEY,
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     participant_id TEXT NOT NULL,
     speaker_name TEXT NOT NULL,
     role TEXT NOT NULL,
     start TEXT NOT NULL,
     end TEXT NOT NULL,
     text TEXT NOT NULL,
     engine TEXT NOT NULL,
     language TEXT NOT NULL,
     confidence REAL NOT NULL,
     status TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE INDEX transcript_hearing ON transcript_segments(hearing_id, start);`,
  `ALTER TABLE transcript_segments ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
   CREATE TABLE transcript_versions (
     segment_id TEXT NOT NULL REFERENCES transcript_segments(id),
     version INTEGER NOT NULL,
     text TEXT NOT NULL,
     author TEXT NOT NULL,
     at TEXT NOT NULL,
     PRIMARY KEY (segment_id, version)
   );
   CREATE TABLE transcript_annotations (
     id TEXT PRIMARY KEY,
     segment_id TEXT NOT NULL REFERENCES transcript_segments(id),
     author TEXT NOT NULL,
     text TEXT NOT NULL,
     at TEXT NOT NULL
   );
   CREATE INDEX annotations_segment ON transcript_annotations(segment_id);`,
  `CREATE TABLE evidence (
     id TEXT PRIMARY KEY,
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     uploaded_by TEXT NOT NULL,
     original_name TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     width INTEGER NOT NULL,
     height INTEGER NOT NULL,
     after_segment_id TEXT,
     created_at TEXT NOT NULL
   );
   CREATE INDEX evidence_hearing ON evidence(hearing_id, created_at);`,
  `CREATE TABLE participant_keys (
     key_id TEXT PRIMARY KEY,
     participant_id TEXT NOT NULL REFERENCES participants(id),
     jwk TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE transcript_freezes (
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     version INTEGER NOT NULL,
     digest TEXT NOT NULL,
     manifest_head TEXT,
     frozen_by TEXT NOT NULL,
     at TEXT NOT NULL,
     PRIMARY KEY (hearing_id, version)
   );
   CREATE TABLE transcript_signatures (
     id TEXT PRIMARY KEY,
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     version INTEGER NOT NULL,
     participant_id TEXT NOT NULL,
     key_id TEXT NOT NULL REFERENCES participant_keys(key_id),
     signature TEXT NOT NULL,
     signed_at TEXT NOT NULL
   );`,
  `ALTER TABLE transcript_signatures ADD COLUMN image_sha256 TEXT;`,
  // Face identity: the reference descriptor (128 float32, deleted when the hearing closes), never the photo.
  `CREATE TABLE participant_identity (
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     participant_id TEXT NOT NULL REFERENCES participants(id),
     descriptor BLOB,
     photo_sha256 TEXT,
     model TEXT,
     enrolled_at TEXT,
     status TEXT NOT NULL,
     distance REAL,
     checked_at TEXT,
     decided_by TEXT,
     reason TEXT,
     PRIMARY KEY (hearing_id, participant_id)
   );`,
  // Public livestream: the platform's flag, the judge's approval, per-participant protection.
  `CREATE TABLE hearing_streams (
     hearing_id TEXT PRIMARY KEY REFERENCES hearings(id),
     streamable INTEGER NOT NULL DEFAULT 0,
     approved_by TEXT,
     approved_at TEXT
   );
   CREATE TABLE stream_protection (
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     participant_id TEXT NOT NULL REFERENCES participants(id),
     hidden INTEGER NOT NULL DEFAULT 0,
     voice TEXT NOT NULL DEFAULT 'natural',
     PRIMARY KEY (hearing_id, participant_id)
   );`,
];

const HEARING_COLUMNS = `id, case_number AS caseNumber, title, scheduled_at AS scheduledAt, state,
  asr_engine AS asrEngine, asr_language AS asrLanguage, created_at AS createdAt, updated_at AS updatedAt`;
const TRANSCRIPT_COLUMNS = `id, hearing_id AS hearingId, participant_id AS participantId, speaker_name AS speakerName, role,
  start, end, text, engine, language, confidence, status, version, created_at AS createdAt`;
const IDENTITY_COLUMNS = `hearing_id AS hearingId, participant_id AS participantId, descriptor, photo_sha256 AS photoSha256, model,
  enrolled_at AS enrolledAt, status, distance, checked_at AS checkedAt, decided_by AS decidedBy, reason`;
const PARTICIPANT_COLUMNS = `id, hearing_id AS hearingId, name, role, id_number AS idNumber, created_at AS createdAt`;

/** The embedded store: one SQLite file in the data directory (WAL mode). */
export class Store {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.db = new Database(path.join(dataDir, 'hearings.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
  }

  private migrate(): void {
    const applied = this.db.pragma('user_version', { simple: true }) as number;
    for (let i = applied; i < MIGRATIONS.length; i++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[i] as string);
        this.db.pragma(`user_version = ${i + 1}`);
      })();
    }
  }

  insertHearing(h: HearingRow): void {
    this.db
      .prepare(`INSERT INTO hearings (id, case_number, title, scheduled_at, state, asr_engine, asr_language, created_at, updated_at)
                VALUES (@id, @caseNumber, @title, @scheduledAt, @state, @asrEngine, @asrLanguage, @createdAt, @updatedAt)`)
      .run(h);
  }

  hearing(id: string): HearingRow | undefined {
    return this.db.prepare(`SELECT ${HEARING_COLUMNS} FROM hearings WHERE id = ?`).get(id) as HearingRow | undefined;
  }

  hearingByCase(caseNumber: string): HearingRow | undefined {
    return this.db
      .prepare(`SELECT ${HEARING_COLUMNS} FROM hearings WHERE case_number = ? ORDER BY created_at DESC LIMIT 1`)
      .get(caseNumber) as HearingRow | undefined;
  }

  hearings(limit: number, offset: number): HearingRow[] {
    return this.db
      .prepare(`SELECT ${HEARING_COLUMNS} FROM hearings ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
      .all(limit, offset) as HearingRow[];
  }

  countByState(): Record<string, number> {
    const rows = this.db.prepare('SELECT state, COUNT(*) AS n FROM hearings GROUP BY state').all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** Sets the state only if it is still `from` (no lost update between two concurrent transitions). */
  updateState(id: string, from: HearingState, to: HearingState, at: string): boolean {
    return this.db.prepare('UPDATE hearings SET state = ?, updated_at = ? WHERE id = ? AND state = ?').run(to, at, id, from).changes === 1;
  }

  insertParticipant(p: ParticipantRow): void {
    this.db
      .prepare(`INSERT INTO participants (id, hearing_id, name, role, id_number, created_at)
                VALUES (@id, @hearingId, @name, @role, @idNumber, @createdAt)`)
      .run(p);
  }

  participant(id: string): ParticipantRow | undefined {
    return this.db.prepare(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id = ?`).get(id) as ParticipantRow | undefined;
  }

  participants(hearingId: string): ParticipantRow[] {
    return this.db
      .prepare(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE hearing_id = ? ORDER BY created_at, id`)
      .all(hearingId) as ParticipantRow[];
  }

  insertTranscript(t: TranscriptRow): void {
    this.db
      .prepare(`INSERT INTO transcript_segments (id, hearing_id, participant_id, speaker_name, role, start, end, text, engine, language, confidence, status, version, created_at)
                VALUES (@id, @hearingId, @participantId, @speakerName, @role, @start, @end, @text, @engine, @language, @confidence, @status, @version, @createdAt)`)
      .run(t);
    this.db.prepare('INSERT INTO transcript_versions (segment_id, version, text, author, at) VALUES (?, 1, ?, ?, ?)').run(t.id, t.text, t.engine, t.createdAt);
  }

  transcriptSegment(id: string): TranscriptRow | undefined {
    return this.db.prepare(`SELECT ${TRANSCRIPT_COLUMNS} FROM transcript_segments WHERE id = ?`).get(id) as TranscriptRow | undefined;
  }

  /** A new version of a segment's text, in one transaction (the earlier versions stay). */
  editTranscript(id: string, text: string, author: string, at: string): TranscriptRow {
    this.db.transaction(() => {
      const { version } = this.db.prepare('SELECT version FROM transcript_segments WHERE id = ?').get(id) as { version: number };
      this.db.prepare('INSERT INTO transcript_versions (segment_id, version, text, author, at) VALUES (?, ?, ?, ?, ?)').run(id, version + 1, text, author, at);
      this.db.prepare("UPDATE transcript_segments SET text = ?, version = ?, status = 'edited' WHERE id = ?").run(text, version + 1, id);
    })();
    return this.transcriptSegment(id)!;
  }

  transcriptVersions(id: string): TranscriptVersionRow[] {
    return this.db.prepare('SELECT segment_id AS segmentId, version, text, author, at FROM transcript_versions WHERE segment_id = ? ORDER BY version').all(id) as TranscriptVersionRow[];
  }

  insertAnnotation(a: AnnotationRow): void {
    this.db.prepare('INSERT INTO transcript_annotations (id, segment_id, author, text, at) VALUES (@id, @segmentId, @author, @text, @at)').run(a);
  }

  annotations(hearingId: string): AnnotationRow[] {
    return this.db
      .prepare(`SELECT a.id, a.segment_id AS segmentId, a.author, a.text, a.at FROM transcript_annotations a
                JOIN transcript_segments s ON s.id = a.segment_id WHERE s.hearing_id = ? ORDER BY a.at, a.id`)
      .all(hearingId) as AnnotationRow[];
  }

  transcript(hearingId: string): TranscriptRow[] {
    return this.db.prepare(`SELECT ${TRANSCRIPT_COLUMNS} FROM transcript_segments WHERE hearing_id = ? ORDER BY start, id`).all(hearingId) as TranscriptRow[];
  }

  insertEvidence(e: EvidenceRow): void {
    this.db
      .prepare(`INSERT INTO evidence (id, hearing_id, uploaded_by, original_name, sha256, bytes, width, height, after_segment_id, created_at)
                VALUES (@id, @hearingId, @uploadedBy, @originalName, @sha256, @bytes, @width, @height, @afterSegmentId, @createdAt)`)
      .run(e);
  }

  evidence(hearingId: string): EvidenceRow[] {
    return this.db
      .prepare(`SELECT id, hearing_id AS hearingId, uploaded_by AS uploadedBy, original_name AS originalName, sha256, bytes, width, height,
                after_segment_id AS afterSegmentId, created_at AS createdAt FROM evidence WHERE hearing_id = ? ORDER BY created_at, id`)
      .all(hearingId) as EvidenceRow[];
  }

  placeEvidence(id: string, afterSegmentId: string): void {
    this.db.prepare('UPDATE evidence SET after_segment_id = ? WHERE id = ?').run(afterSegmentId, id);
  }

  insertKey(keyId: string, participantId: string, jwk: string, at: string): void {
    this.db.prepare('INSERT OR IGNORE INTO participant_keys (key_id, participant_id, jwk, created_at) VALUES (?, ?, ?, ?)').run(keyId, participantId, jwk, at);
  }

  key(keyId: string): { participantId: string; jwk: string } | undefined {
    return this.db.prepare('SELECT participant_id AS participantId, jwk FROM participant_keys WHERE key_id = ?').get(keyId) as { participantId: string; jwk: string } | undefined;
  }

  insertFreeze(f: FreezeRow): void {
    this.db.prepare('INSERT INTO transcript_freezes (hearing_id, version, digest, manifest_head, frozen_by, at) VALUES (@hearingId, @version, @digest, @manifestHead, @frozenBy, @at)').run(f);
  }

  freezes(hearingId: string): FreezeRow[] {
    return this.db
      .prepare('SELECT hearing_id AS hearingId, version, digest, manifest_head AS manifestHead, frozen_by AS frozenBy, at FROM transcript_freezes WHERE hearing_id = ? ORDER BY version')
      .all(hearingId) as FreezeRow[];
  }

  insertSignature(sig: SignatureRow): void {
    this.db.prepare('INSERT INTO transcript_signatures (id, hearing_id, version, participant_id, key_id, signature, signed_at, image_sha256) VALUES (@id, @hearingId, @version, @participantId, @keyId, @signature, @signedAt, @imageSha256)').run(sig);
  }

  signatures(hearingId: string): SignatureRow[] {
    return this.db
      .prepare('SELECT id, hearing_id AS hearingId, version, participant_id AS participantId, key_id AS keyId, signature, signed_at AS signedAt, image_sha256 AS imageSha256 FROM transcript_signatures WHERE hearing_id = ? ORDER BY signed_at, id')
      .all(hearingId) as SignatureRow[];
  }

  saveIdentity(r: IdentityRow): void {
    this.db
      .prepare(`INSERT INTO participant_identity (hearing_id, participant_id, descriptor, photo_sha256, model, enrolled_at, status, distance, checked_at, decided_by, reason)
                VALUES (@hearingId, @participantId, @descriptor, @photoSha256, @model, @enrolledAt, @status, @distance, @checkedAt, @decidedBy, @reason)
                ON CONFLICT (hearing_id, participant_id) DO UPDATE SET descriptor = excluded.descriptor, photo_sha256 = excluded.photo_sha256,
                  model = excluded.model, enrolled_at = excluded.enrolled_at, status = excluded.status, distance = excluded.distance,
                  checked_at = excluded.checked_at, decided_by = excluded.decided_by, reason = excluded.reason`)
      .run(r);
  }

  identities(hearingId: string): IdentityRow[] {
    return this.db.prepare(`SELECT ${IDENTITY_COLUMNS} FROM participant_identity WHERE hearing_id = ?`).all(hearingId) as IdentityRow[];
  }

  identity(hearingId: string, participantId: string): IdentityRow | undefined {
    return this.db.prepare(`SELECT ${IDENTITY_COLUMNS} FROM participant_identity WHERE hearing_id = ? AND participant_id = ?`).get(hearingId, participantId) as IdentityRow | undefined;
  }

  /** Reference descriptors are only needed while the hearing can still check faces. */
  forgetDescriptors(hearingId: string): number {
    return this.db.prepare('UPDATE participant_identity SET descriptor = NULL WHERE hearing_id = ? AND descriptor IS NOT NULL').run(hearingId).changes;
  }

  streamSettings(hearingId: string): StreamSettings {
    const row = this.db.prepare('SELECT streamable, approved_by AS approvedBy, approved_at AS approvedAt FROM hearing_streams WHERE hearing_id = ?').get(hearingId) as
      | { streamable: number; approvedBy: string | null; approvedAt: string | null }
      | undefined;
    return { streamable: row?.streamable === 1, approvedBy: row?.approvedBy ?? null, approvedAt: row?.approvedAt ?? null };
  }

  saveStreamSettings(hearingId: string, s: StreamSettings): void {
    this.db
      .prepare(`INSERT INTO hearing_streams (hearing_id, streamable, approved_by, approved_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (hearing_id) DO UPDATE SET streamable = excluded.streamable, approved_by = excluded.approved_by, approved_at = excluded.approved_at`)
      .run(hearingId, s.streamable ? 1 : 0, s.approvedBy, s.approvedAt);
  }

  protections(hearingId: string): Map<string, Protection> {
    const rows = this.db.prepare('SELECT participant_id AS participantId, hidden, voice FROM stream_protection WHERE hearing_id = ?').all(hearingId) as { participantId: string; hidden: number; voice: string }[];
    return new Map(rows.map((r) => [r.participantId, { hidden: r.hidden === 1, voice: r.voice === 'disguised' ? 'disguised' : 'natural' }]));
  }

  saveProtection(hearingId: string, participantId: string, p: Protection): void {
    this.db
      .prepare(`INSERT INTO stream_protection (hearing_id, participant_id, hidden, voice) VALUES (?, ?, ?, ?)
                ON CONFLICT (hearing_id, participant_id) DO UPDATE SET hidden = excluded.hidden, voice = excluded.voice`)
      .run(hearingId, participantId, p.hidden ? 1 : 0, p.voice);
  }

  audit(entry: Omit<AuditRow, 'seq'>): AuditRow {
    const info = this.db
      .prepare('INSERT INTO audit_log (hearing_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)')
      .run(entry.hearingId, entry.at, entry.actor, entry.action, JSON.stringify(entry.detail));
    return { seq: Number(info.lastInsertRowid), ...entry };
  }

  auditLog(hearingId: string, afterSeq = 0): AuditRow[] {
    const rows = this.db
      .prepare('SELECT seq, hearing_id AS hearingId, at, actor, action, detail FROM audit_log WHERE hearing_id = ? AND seq > ? ORDER BY seq')
      .all(hearingId, afterSeq) as (Omit<AuditRow, 'detail'> & { detail: string })[];
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  close(): void {
    this.db.close();
  }
}
