import type { HearingState } from '../hearing/state.ts';
import { PgDb, SqliteDb, type Db } from './db.ts';
import type {
  AnnotationRow,
  AuditRow,
  EvidenceRow,
  FreezeRow,
  HearingRow,
  IdentityRow,
  ParticipantRow,
  Protection,
  SignatureRow,
  SipAccountRow,
  StreamSettings,
  TranscriptRow,
  TranscriptVersionRow,
} from './rows.ts';

export type * from './rows.ts';

const HEARING_COLUMNS = `id, case_number AS "caseNumber", title, scheduled_at AS "scheduledAt", state,
  asr_engine AS "asrEngine", asr_language AS "asrLanguage", created_at AS "createdAt", updated_at AS "updatedAt"`;
const TRANSCRIPT_COLUMNS = `id, hearing_id AS "hearingId", participant_id AS "participantId", speaker_name AS "speakerName", role,
  start, "end", text, engine, language, confidence, status, version, created_at AS "createdAt"`;
const IDENTITY_COLUMNS = `hearing_id AS "hearingId", participant_id AS "participantId", descriptor, photo_sha256 AS "photoSha256", model,
  enrolled_at AS "enrolledAt", status, distance, checked_at AS "checkedAt", decided_by AS "decidedBy", reason`;
const PARTICIPANT_COLUMNS = `id, hearing_id AS "hearingId", name, role, id_masked AS "idMasked", id_hash AS "idHash", created_at AS "createdAt"`;

/**
 * The hearings' store: SQLite in the data folder (WAL mode), or PostgreSQL shared by a cluster's nodes
 * (HEARING_DATABASE_URL). `nodeId` (cluster mode) marks the hearings this node creates as its own.
 */
export class Store {
  private readonly db: Db;
  readonly kind: 'sqlite' | 'postgres';

  constructor(dataDir: string, o: { databaseUrl?: string; nodeId?: string } = {}) {
    this.db = o.databaseUrl ? new PgDb(o.databaseUrl) : new SqliteDb(dataDir);
    this.kind = this.db.kind;
    this.nodeId = o.nodeId ?? null;
  }

  /** The node this store's server is (cluster mode), or null. */
  readonly nodeId: string | null;

  insertHearing(h: HearingRow): void {
    this.db.run(
      `INSERT INTO hearings (id, case_number, title, scheduled_at, state, asr_engine, asr_language, created_at, updated_at, node_id)
                VALUES (@id, @caseNumber, @title, @scheduledAt, @state, @asrEngine, @asrLanguage, @createdAt, @updatedAt, @nodeId)`,
      { ...h, nodeId: this.nodeId },
    );
  }

  hearing(id: string): HearingRow | undefined {
    return this.db.get(`SELECT ${HEARING_COLUMNS} FROM hearings WHERE id = ?`, [id]) as HearingRow | undefined;
  }

  hearingByCase(caseNumber: string): HearingRow | undefined {
    return this.db.get(`SELECT ${HEARING_COLUMNS} FROM hearings WHERE case_number = ? ORDER BY created_at DESC LIMIT 1`, [caseNumber]) as
      HearingRow | undefined;
  }

  hearings(limit: number, offset: number): HearingRow[] {
    return this.db.all(`SELECT ${HEARING_COLUMNS} FROM hearings ORDER BY created_at DESC, id LIMIT ? OFFSET ?`, [
      limit,
      offset,
    ]) as HearingRow[];
  }

  countByState(): Record<string, number> {
    const rows = this.db.all('SELECT state, COUNT(*) AS n FROM hearings GROUP BY state') as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** Every hearing of this node (all of them on a server alone) that is not closed, with its state. */
  openHearings(): { id: string; state: HearingState }[] {
    return this.db.all(
      "SELECT id, state FROM hearings WHERE state != 'closed' AND (node_id = ? OR CAST(? AS TEXT) IS NULL) ORDER BY created_at",
      [this.nodeId, this.nodeId],
    ) as {
      id: string;
      state: HearingState;
    }[];
  }

  /** Sets the state only if it is still `from` (no lost update between two concurrent transitions). */
  updateState(id: string, from: HearingState, to: HearingState, at: string): boolean {
    return this.db.run('UPDATE hearings SET state = ?, updated_at = ? WHERE id = ? AND state = ?', [to, at, id, from]).changes === 1;
  }

  insertParticipant(p: ParticipantRow): void {
    this.db.run(
      `INSERT INTO participants (id, hearing_id, name, role, id_masked, id_hash, created_at)
                VALUES (@id, @hearingId, @name, @role, @idMasked, @idHash, @createdAt)`,
      p,
    );
  }

  /** Replaces full ID numbers kept by a store from before with what is kept now; returns how many. */
  scrubIdNumbers(keep: (idNumber: string) => { idMasked: string; idHash: string }): number {
    const rows = this.db.all('SELECT id, id_number AS "idNumber" FROM participants WHERE id_number IS NOT NULL') as {
      id: string;
      idNumber: string;
    }[];
    this.db.transaction(() => {
      for (const r of rows)
        this.db.run('UPDATE participants SET id_number = NULL, id_masked = @idMasked, id_hash = @idHash WHERE id = @id', {
          id: r.id,
          ...keep(r.idNumber),
        });
    });
    // SQLite: the old numbers out of the write-ahead log too.
    if (rows.length && this.db instanceof SqliteDb) this.db.raw.pragma('wal_checkpoint(TRUNCATE)');
    return rows.length;
  }

  /** Replaces the parties a lawyer represents. */
  setRepresents(lawyerId: string, partyIds: string[]): void {
    this.db.transaction(() => {
      this.db.run('DELETE FROM representations WHERE lawyer_id = ?', [lawyerId]);
      for (const p of new Set(partyIds)) this.db.run('INSERT INTO representations (lawyer_id, party_id) VALUES (?, ?)', [lawyerId, p]);
    });
  }

  /** Every lawyer → party link of a hearing's participants. */
  representations(hearingId: string): { lawyerId: string; partyId: string }[] {
    return this.db.all(
      `SELECT r.lawyer_id AS "lawyerId", r.party_id AS "partyId" FROM representations r
           JOIN participants p ON p.id = r.lawyer_id WHERE p.hearing_id = ? ORDER BY r.lawyer_id, r.party_id`,
      [hearingId],
    ) as { lawyerId: string; partyId: string }[];
  }

  represents(lawyerId: string, partyId: string): boolean {
    return this.db.get('SELECT 1 FROM representations WHERE lawyer_id = ? AND party_id = ?', [lawyerId, partyId]) !== undefined;
  }

  participant(id: string): ParticipantRow | undefined {
    return this.db.get(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id = ?`, [id]) as ParticipantRow | undefined;
  }

  participants(hearingId: string): ParticipantRow[] {
    return this.db.all(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE hearing_id = ? ORDER BY created_at, id`, [
      hearingId,
    ]) as ParticipantRow[];
  }

  insertTranscript(t: TranscriptRow): void {
    this.db.run(
      `INSERT INTO transcript_segments (id, hearing_id, participant_id, speaker_name, role, start, "end", text, engine, language, confidence, status, version, created_at)
                VALUES (@id, @hearingId, @participantId, @speakerName, @role, @start, @end, @text, @engine, @language, @confidence, @status, @version, @createdAt)`,
      t,
    );
    this.db.run('INSERT INTO transcript_versions (segment_id, version, text, author, at) VALUES (?, 1, ?, ?, ?)', [
      t.id,
      t.text,
      t.engine,
      t.createdAt,
    ]);
  }

  transcriptSegment(id: string): TranscriptRow | undefined {
    return this.db.get(`SELECT ${TRANSCRIPT_COLUMNS} FROM transcript_segments WHERE id = ?`, [id]) as TranscriptRow | undefined;
  }

  /** A new version of a segment's text, in one transaction (the earlier versions stay). */
  editTranscript(id: string, text: string, author: string, at: string): TranscriptRow {
    this.db.transaction(() => {
      const { version } = this.db.get('SELECT version FROM transcript_segments WHERE id = ?', [id]) as { version: number };
      this.db.run('INSERT INTO transcript_versions (segment_id, version, text, author, at) VALUES (?, ?, ?, ?, ?)', [
        id,
        version + 1,
        text,
        author,
        at,
      ]);
      this.db.run("UPDATE transcript_segments SET text = ?, version = ?, status = 'edited' WHERE id = ?", [text, version + 1, id]);
    });
    return this.transcriptSegment(id)!;
  }

  transcriptVersions(id: string): TranscriptVersionRow[] {
    return this.db.all(
      'SELECT segment_id AS "segmentId", version, text, author, at FROM transcript_versions WHERE segment_id = ? ORDER BY version',
      [id],
    ) as TranscriptVersionRow[];
  }

  insertAnnotation(a: AnnotationRow): void {
    this.db.run('INSERT INTO transcript_annotations (id, segment_id, author, text, at) VALUES (@id, @segmentId, @author, @text, @at)', a);
  }

  annotations(hearingId: string): AnnotationRow[] {
    return this.db.all(
      `SELECT a.id, a.segment_id AS "segmentId", a.author, a.text, a.at FROM transcript_annotations a
                JOIN transcript_segments s ON s.id = a.segment_id WHERE s.hearing_id = ? ORDER BY a.at, a.id`,
      [hearingId],
    ) as AnnotationRow[];
  }

  transcript(hearingId: string): TranscriptRow[] {
    return this.db.all(`SELECT ${TRANSCRIPT_COLUMNS} FROM transcript_segments WHERE hearing_id = ? ORDER BY start, id`, [
      hearingId,
    ]) as TranscriptRow[];
  }

  insertEvidence(e: EvidenceRow): void {
    this.db.run(
      `INSERT INTO evidence (id, hearing_id, uploaded_by, original_name, sha256, bytes, width, height, after_segment_id, created_at)
                VALUES (@id, @hearingId, @uploadedBy, @originalName, @sha256, @bytes, @width, @height, @afterSegmentId, @createdAt)`,
      e,
    );
  }

  evidence(hearingId: string): EvidenceRow[] {
    return this.db.all(
      `SELECT id, hearing_id AS "hearingId", uploaded_by AS "uploadedBy", original_name AS "originalName", sha256, bytes, width, height,
                after_segment_id AS "afterSegmentId", created_at AS "createdAt" FROM evidence WHERE hearing_id = ? ORDER BY created_at, id`,
      [hearingId],
    ) as EvidenceRow[];
  }

  placeEvidence(id: string, afterSegmentId: string): void {
    this.db.run('UPDATE evidence SET after_segment_id = ? WHERE id = ?', [afterSegmentId, id]);
  }

  insertKey(keyId: string, participantId: string, jwk: string, at: string): void {
    this.db.run('INSERT INTO participant_keys (key_id, participant_id, jwk, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', [
      keyId,
      participantId,
      jwk,
      at,
    ]);
  }

  keyCount(participantId: string): number {
    return (this.db.get('SELECT COUNT(*) AS n FROM participant_keys WHERE participant_id = ?', [participantId]) as { n: number }).n;
  }

  key(keyId: string): { participantId: string; jwk: string } | undefined {
    return this.db.get('SELECT participant_id AS "participantId", jwk FROM participant_keys WHERE key_id = ?', [keyId]) as
      { participantId: string; jwk: string } | undefined;
  }

  insertFreeze(f: FreezeRow): void {
    this.db.run(
      'INSERT INTO transcript_freezes (hearing_id, version, digest, manifest_head, frozen_by, at) VALUES (@hearingId, @version, @digest, @manifestHead, @frozenBy, @at)',
      f,
    );
  }

  freezes(hearingId: string): FreezeRow[] {
    return this.db.all(
      'SELECT hearing_id AS "hearingId", version, digest, manifest_head AS "manifestHead", frozen_by AS "frozenBy", at FROM transcript_freezes WHERE hearing_id = ? ORDER BY version',
      [hearingId],
    ) as FreezeRow[];
  }

  insertSignature(sig: SignatureRow): void {
    this.db.run(
      'INSERT INTO transcript_signatures (id, hearing_id, version, participant_id, key_id, signature, signed_at, image_sha256) VALUES (@id, @hearingId, @version, @participantId, @keyId, @signature, @signedAt, @imageSha256)',
      sig,
    );
  }

  signatures(hearingId: string): SignatureRow[] {
    return this.db.all(
      'SELECT id, hearing_id AS "hearingId", version, participant_id AS "participantId", key_id AS "keyId", signature, signed_at AS "signedAt", image_sha256 AS "imageSha256" FROM transcript_signatures WHERE hearing_id = ? ORDER BY signed_at, id',
      [hearingId],
    ) as SignatureRow[];
  }

  saveIdentity(r: IdentityRow): void {
    this.db.run(
      `INSERT INTO participant_identity (hearing_id, participant_id, descriptor, photo_sha256, model, enrolled_at, status, distance, checked_at, decided_by, reason)
                VALUES (@hearingId, @participantId, @descriptor, @photoSha256, @model, @enrolledAt, @status, @distance, @checkedAt, @decidedBy, @reason)
                ON CONFLICT (hearing_id, participant_id) DO UPDATE SET descriptor = excluded.descriptor, photo_sha256 = excluded.photo_sha256,
                  model = excluded.model, enrolled_at = excluded.enrolled_at, status = excluded.status, distance = excluded.distance,
                  checked_at = excluded.checked_at, decided_by = excluded.decided_by, reason = excluded.reason`,
      r,
    );
  }

  identities(hearingId: string): IdentityRow[] {
    return this.db.all(`SELECT ${IDENTITY_COLUMNS} FROM participant_identity WHERE hearing_id = ?`, [hearingId]) as IdentityRow[];
  }

  identity(hearingId: string, participantId: string): IdentityRow | undefined {
    return this.db.get(`SELECT ${IDENTITY_COLUMNS} FROM participant_identity WHERE hearing_id = ? AND participant_id = ?`, [
      hearingId,
      participantId,
    ]) as IdentityRow | undefined;
  }

  /** Reference descriptors are only needed while the hearing can still check faces. */
  forgetDescriptors(hearingId: string): number {
    return this.db.run('UPDATE participant_identity SET descriptor = NULL WHERE hearing_id = ? AND descriptor IS NOT NULL', [hearingId])
      .changes;
  }

  streamSettings(hearingId: string): StreamSettings {
    const row = this.db.get(
      'SELECT streamable, approved_by AS "approvedBy", approved_at AS "approvedAt" FROM hearing_streams WHERE hearing_id = ?',
      [hearingId],
    ) as { streamable: number; approvedBy: string | null; approvedAt: string | null } | undefined;
    return { streamable: row?.streamable === 1, approvedBy: row?.approvedBy ?? null, approvedAt: row?.approvedAt ?? null };
  }

  saveStreamSettings(hearingId: string, s: StreamSettings): void {
    this.db.run(
      `INSERT INTO hearing_streams (hearing_id, streamable, approved_by, approved_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (hearing_id) DO UPDATE SET streamable = excluded.streamable, approved_by = excluded.approved_by, approved_at = excluded.approved_at`,
      [hearingId, s.streamable ? 1 : 0, s.approvedBy, s.approvedAt],
    );
  }

  protections(hearingId: string): Map<string, Protection> {
    const rows = this.db.all('SELECT participant_id AS "participantId", hidden, voice FROM stream_protection WHERE hearing_id = ?', [
      hearingId,
    ]) as { participantId: string; hidden: number; voice: string }[];
    return new Map(
      rows.map((r) => [r.participantId, { hidden: r.hidden === 1, voice: r.voice === 'disguised' ? 'disguised' : 'natural' }]),
    );
  }

  saveProtection(hearingId: string, participantId: string, p: Protection): void {
    this.db.run(
      `INSERT INTO stream_protection (hearing_id, participant_id, hidden, voice) VALUES (?, ?, ?, ?)
                ON CONFLICT (hearing_id, participant_id) DO UPDATE SET hidden = excluded.hidden, voice = excluded.voice`,
      [hearingId, participantId, p.hidden ? 1 : 0, p.voice],
    );
  }

  audit(entry: Omit<AuditRow, 'seq'>): AuditRow {
    const row = this.db.get<{ seq: number }>(
      'INSERT INTO audit_log (hearing_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?) RETURNING seq',
      [entry.hearingId, entry.at, entry.actor, entry.action, JSON.stringify(entry.detail)],
    );
    return { seq: Number(row!.seq), ...entry };
  }

  auditLog(hearingId: string, afterSeq = 0): AuditRow[] {
    const rows = this.db.all(
      'SELECT seq, hearing_id AS "hearingId", at, actor, action, detail FROM audit_log WHERE hearing_id = ? AND seq > ? ORDER BY seq',
      [hearingId, afterSeq],
    ) as (Omit<AuditRow, 'detail'> & { detail: string })[];
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  /** Whoever logged `action` in the hearing at least once (e.g. who has joined before). */
  actorsOf(hearingId: string, action: string): string[] {
    const rows = this.db.all('SELECT DISTINCT actor FROM audit_log WHERE hearing_id = ? AND action = ?', [hearingId, action]) as {
      actor: string;
    }[];
    return rows.map((r) => r.actor);
  }

  close(): void {
    this.db.close();
  }

  /** Cluster mode: the hearing now hosted by node `to` if it was `from`'s (one node wins a race); whether it moved. */
  moveHearing(hearingId: string, from: string, to: string): boolean {
    return this.db.run('UPDATE hearings SET node_id = ? WHERE id = ? AND node_id = ?', [to, hearingId, from]).changes === 1;
  }

  /** The node hosting a hearing (cluster mode; null on a server alone), undefined for no such hearing. */
  hostOf(hearingId: string): string | null | undefined {
    return this.db.get<{ nodeId: string | null }>('SELECT node_id AS "nodeId" FROM hearings WHERE id = ?', [hearingId])?.nodeId;
  }

  /** The number a hearing is dialled at, made (unique) by `make` the first time it is asked for. */
  hearingSipCode(hearingId: string, make: () => string): string {
    const row = this.db.get('SELECT code FROM hearing_sip WHERE hearing_id = ?', [hearingId]) as { code: string } | undefined;
    if (row) return row.code;
    for (;;) {
      const code = make();
      const taken = this.db.get('SELECT 1 FROM hearing_sip WHERE code = ?', [code]);
      if (taken) continue;
      this.db.run('INSERT INTO hearing_sip (hearing_id, code) VALUES (?, ?)', [hearingId, code]);
      return code;
    }
  }

  hearingBySipCode(code: string): string | undefined {
    return (this.db.get('SELECT hearing_id AS "hearingId" FROM hearing_sip WHERE code = ?', [code]) as { hearingId: string } | undefined)
      ?.hearingId;
  }

  insertSipAccount(a: SipAccountRow): void {
    this.db.run('INSERT INTO sip_accounts (participant_id, hearing_id, "user", ha1) VALUES (@participantId, @hearingId, @user, @ha1)', a);
  }

  sipAccountByUser(user: string): SipAccountRow | undefined {
    return this.db.get(
      'SELECT participant_id AS "participantId", hearing_id AS "hearingId", "user", ha1 FROM sip_accounts WHERE "user" = ?',
      [user],
    ) as SipAccountRow | undefined;
  }

  sipUserTaken(user: string): boolean {
    return this.db.get('SELECT 1 FROM sip_accounts WHERE "user" = ?', [user]) !== undefined;
  }
}
