// The store's schema, as migrations applied in order: SQLite's (the embedded store) and PostgreSQL's
// (HEARING_DATABASE_URL). A change to the schema is a new migration at the end of both lists.

/** Schema migrations, applied in order; PRAGMA user_version records how many ran. */
export const MIGRATIONS: string[] = [
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
  // ID numbers: only the last four characters and a keyed hash are kept (the full numbers of an older
  // store are replaced at start: Store.scrubIdNumbers).
  `ALTER TABLE participants ADD COLUMN id_masked TEXT;
   ALTER TABLE participants ADD COLUMN id_hash TEXT;`,
  // Which parties a lawyer represents (a consultation is only ever between a lawyer and their party).
  `CREATE TABLE representations (
     lawyer_id TEXT NOT NULL REFERENCES participants(id),
     party_id TEXT NOT NULL REFERENCES participants(id),
     PRIMARY KEY (lawyer_id, party_id)
   );`,
  // SIP terminals: the number a hearing is dialled at, and each terminal participant's digest account
  // (the PIN itself is given out once; only HA1 = MD5(user:realm:pin) is kept, which digest needs).
  `CREATE TABLE hearing_sip (
     hearing_id TEXT PRIMARY KEY REFERENCES hearings(id),
     code TEXT NOT NULL UNIQUE
   );
   CREATE TABLE sip_accounts (
     participant_id TEXT PRIMARY KEY REFERENCES participants(id),
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     user TEXT NOT NULL UNIQUE,
     ha1 TEXT NOT NULL
   );`,
  // Cluster mode on a shared store: the node that hosts the hearing (its media, record, transcript).
  `ALTER TABLE hearings ADD COLUMN node_id TEXT;`,
];

/**
 * PostgreSQL: the schema as SQLite's migrations leave it, in one step (a table `schema_migrations`
 * records which ran). Reserved words (`end`, `user`) are quoted, as the Store's SQL quotes them.
 */
export const PG_MIGRATIONS: string[] = [
  `CREATE TABLE hearings (
     id TEXT PRIMARY KEY,
     case_number TEXT NOT NULL,
     title TEXT NOT NULL,
     scheduled_at TEXT,
     state TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     asr_engine TEXT,
     asr_language TEXT,
     node_id TEXT
   );
   CREATE INDEX hearings_node ON hearings(node_id, state);
   CREATE TABLE participants (
     id TEXT PRIMARY KEY,
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     name TEXT NOT NULL,
     role TEXT NOT NULL,
     id_number TEXT,
     created_at TEXT NOT NULL,
     id_masked TEXT,
     id_hash TEXT
   );
   CREATE INDEX participants_hearing ON participants(hearing_id);
   CREATE TABLE audit_log (
     seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     hearing_id TEXT,
     at TEXT NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     detail TEXT NOT NULL
   );
   CREATE INDEX audit_hearing ON audit_log(hearing_id, seq);
   CREATE TABLE transcript_segments (
     id TEXT PRIMARY KEY,
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     participant_id TEXT NOT NULL,
     speaker_name TEXT NOT NULL,
     role TEXT NOT NULL,
     start TEXT NOT NULL,
     "end" TEXT NOT NULL,
     text TEXT NOT NULL,
     engine TEXT NOT NULL,
     language TEXT NOT NULL,
     confidence DOUBLE PRECISION NOT NULL,
     status TEXT NOT NULL,
     created_at TEXT NOT NULL,
     version INTEGER NOT NULL DEFAULT 1
   );
   CREATE INDEX transcript_hearing ON transcript_segments(hearing_id, start);
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
   CREATE INDEX annotations_segment ON transcript_annotations(segment_id);
   CREATE TABLE evidence (
     id TEXT PRIMARY KEY,
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     uploaded_by TEXT NOT NULL,
     original_name TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     bytes BIGINT NOT NULL,
     width INTEGER NOT NULL,
     height INTEGER NOT NULL,
     after_segment_id TEXT,
     created_at TEXT NOT NULL
   );
   CREATE INDEX evidence_hearing ON evidence(hearing_id, created_at);
   CREATE TABLE participant_keys (
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
     signed_at TEXT NOT NULL,
     image_sha256 TEXT
   );
   CREATE TABLE participant_identity (
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     participant_id TEXT NOT NULL REFERENCES participants(id),
     descriptor BYTEA,
     photo_sha256 TEXT,
     model TEXT,
     enrolled_at TEXT,
     status TEXT NOT NULL,
     distance DOUBLE PRECISION,
     checked_at TEXT,
     decided_by TEXT,
     reason TEXT,
     PRIMARY KEY (hearing_id, participant_id)
   );
   CREATE TABLE hearing_streams (
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
   );
   CREATE TABLE representations (
     lawyer_id TEXT NOT NULL REFERENCES participants(id),
     party_id TEXT NOT NULL REFERENCES participants(id),
     PRIMARY KEY (lawyer_id, party_id)
   );
   CREATE TABLE hearing_sip (
     hearing_id TEXT PRIMARY KEY REFERENCES hearings(id),
     code TEXT NOT NULL UNIQUE
   );
   CREATE TABLE sip_accounts (
     participant_id TEXT PRIMARY KEY REFERENCES participants(id),
     hearing_id TEXT NOT NULL REFERENCES hearings(id),
     "user" TEXT NOT NULL UNIQUE,
     ha1 TEXT NOT NULL
   );`,
];
