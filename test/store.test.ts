// The Store behind the server, on SQLite (the embedded default) and on PostgreSQL (a cluster's shared
// store, started here in a temp dir): the same calls give the same rows on both. On PostgreSQL, two
// nodes share the store (each sees the other's hearings, each lists only its own as hosted), and a
// PostgreSQL that cannot be reached stops the store with the reason.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store, type HearingRow, type IdentityRow, type TranscriptRow } from '../server/store/store.ts';
import { toPostgres } from '../server/store/db.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';
import { freePort } from './helpers/server-process.ts';

const at = (s: number) => new Date(Date.UTC(2026, 10, 27, 9, 0, s)).toISOString();

/** Every kind of row the server keeps, written and read back; what came back, for comparing the two databases. */
function exercise(store: Store, prefix: string) {
  const hearing: HearingRow = {
    id: `${prefix}-h1`,
    caseNumber: '(2026)京0105民初1号',
    title: '合同纠纷',
    scheduledAt: null,
    state: 'scheduled',
    asrEngine: 'pocketsphinx',
    asrLanguage: 'zh',
    createdAt: at(0),
    updatedAt: at(0),
  };
  store.insertHearing(hearing);
  const judge = `${prefix}-judge`;
  const party = `${prefix}-party`;
  const lawyer = `${prefix}-lawyer`;
  for (const [id, role, name] of [
    [judge, 'judge', '王法官'],
    [party, 'party', '张三'],
    [lawyer, 'lawyer', '李律师'],
  ] as const)
    store.insertParticipant({
      id,
      hearingId: hearing.id,
      name,
      role,
      idMasked: role === 'party' ? '**********1234' : null,
      idHash: null,
      createdAt: at(1),
    } as never);
  const moved = store.updateState(hearing.id, 'scheduled', 'waiting_room', at(2));
  const stale = store.updateState(hearing.id, 'scheduled', 'open', at(3));
  store.setRepresents(lawyer, [party, party]);
  const segment: TranscriptRow = {
    id: `${prefix}-s1`,
    hearingId: hearing.id,
    participantId: party,
    speakerName: '张三',
    role: 'party',
    start: at(10),
    end: at(14),
    text: '我方认为合同有效',
    engine: 'pocketsphinx',
    language: 'zh',
    confidence: 0.8125,
    status: 'final',
    version: 1,
    createdAt: at(14),
  } as TranscriptRow;
  store.insertTranscript(segment);
  const edited = store.editTranscript(segment.id, '我方认为该合同有效', judge, at(20));
  store.insertAnnotation({ id: `${prefix}-a1`, segmentId: segment.id, author: judge, text: '核实', at: at(21) });
  store.insertEvidence({
    id: `${prefix}-e1`,
    hearingId: hearing.id,
    uploadedBy: party,
    originalName: '合同.jpg',
    sha256: 'ab'.repeat(32),
    bytes: 123_456,
    width: 1280,
    height: 960,
    afterSegmentId: null,
    createdAt: at(22),
  });
  store.placeEvidence(`${prefix}-e1`, segment.id);
  store.insertKey(`${prefix}-k1`, party, '{"kty":"EC"}', at(23));
  store.insertKey(`${prefix}-k1`, party, '{"kty":"EC","again":true}', at(24)); // the same key again: kept once
  store.insertFreeze({ hearingId: hearing.id, version: 1, digest: 'cd'.repeat(32), manifestHead: null, frozenBy: judge, at: at(25) });
  store.insertSignature({
    id: `${prefix}-sig1`,
    hearingId: hearing.id,
    version: 1,
    participantId: party,
    keyId: `${prefix}-k1`,
    signature: 'c2ln',
    signedAt: at(26),
    imageSha256: null,
  });
  const descriptor = Buffer.from(new Float32Array([0.25, -1.5, 3.125]).buffer);
  const identity: IdentityRow = {
    hearingId: hearing.id,
    participantId: party,
    descriptor,
    photoSha256: 'ef'.repeat(32),
    model: 'face-api',
    enrolledAt: at(27),
    status: 'pending',
    distance: 0.123456789,
    checkedAt: null,
    decidedBy: null,
    reason: null,
  } as IdentityRow;
  store.saveIdentity(identity);
  store.saveIdentity({ ...identity, status: 'verified', checkedAt: at(28), decidedBy: 'system' } as IdentityRow);
  store.saveStreamSettings(hearing.id, { streamable: true, approvedBy: judge, approvedAt: at(29) });
  store.saveProtection(hearing.id, party, { hidden: true, voice: 'disguised' });
  const audits = [
    store.audit({ hearingId: hearing.id, at: at(30), actor: judge, action: 'participant.joined', detail: { role: 'judge' } }),
    store.audit({ hearingId: hearing.id, at: at(31), actor: party, action: 'participant.joined', detail: { role: 'party', 中文: '是' } }),
  ];
  const code = store.hearingSipCode(hearing.id, () => `${prefix === 'a' ? '1' : '2'}2345678`);
  store.insertSipAccount({ participantId: party, hearingId: hearing.id, user: `${prefix}-t1`, ha1: '00'.repeat(16) });

  return {
    moved,
    stale,
    hearing: store.hearing(hearing.id),
    byCase: store.hearingByCase(hearing.caseNumber)?.id,
    participants: store.participants(hearing.id),
    representations: store.representations(hearing.id),
    represents: [store.represents(lawyer, party), store.represents(lawyer, judge)],
    edited,
    versions: store.transcriptVersions(segment.id),
    annotations: store.annotations(hearing.id),
    transcript: store.transcript(hearing.id),
    evidence: store.evidence(hearing.id),
    keyCount: store.keyCount(party),
    key: store.key(`${prefix}-k1`),
    freezes: store.freezes(hearing.id),
    signatures: store.signatures(hearing.id),
    identity: store.identity(hearing.id, party),
    identities: store.identities(hearing.id).length,
    forgotten: store.forgetDescriptors(hearing.id),
    afterForget: store.identity(hearing.id, party)?.descriptor ?? null,
    stream: store.streamSettings(hearing.id),
    protections: [...store.protections(hearing.id)],
    audits,
    auditLog: store.auditLog(hearing.id, audits[0]!.seq),
    actors: store.actorsOf(hearing.id, 'participant.joined').sort(),
    code: [code, store.hearingSipCode(hearing.id, () => 'never'), store.hearingBySipCode(code)],
    sip: [store.sipAccountByUser(`${prefix}-t1`), store.sipUserTaken(`${prefix}-t1`), store.sipUserTaken('nobody')],
    counts: store.countByState(),
    open: store.openHearings(),
  };
}

const row = (id: string): HearingRow => ({
  id,
  caseNumber: id,
  title: id,
  scheduledAt: null,
  state: 'scheduled',
  asrEngine: null,
  asrLanguage: null,
  createdAt: at(0),
  updatedAt: at(0),
});

/** Ids and sequence numbers differ by prefix and database: the rest must be equal. */
const normalized = (x: unknown, prefix: string): unknown =>
  JSON.parse(
    JSON.stringify(x, (_k, v: unknown) => (Buffer.isBuffer(v) ? `buffer:${v.toString('hex')}` : v)).replaceAll(`${prefix}-`, 'X-'),
  );

describe('the store on SQLite and on PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it('gives the same rows on both', () => {
    const sqlite = new Store(fs.mkdtempSync(path.join(os.tmpdir(), 'store-')));
    const postgres = new Store('', { databaseUrl: pg.url });
    expect([sqlite.kind, postgres.kind]).toEqual(['sqlite', 'postgres']);
    const a = exercise(sqlite, 'a');
    const b = exercise(postgres, 'b');
    sqlite.close();
    postgres.close();
    // Spot checks of what each kept, then the whole of it compared.
    expect(a.moved && !a.stale).toBe(true);
    expect(b.hearing?.state).toBe('waiting_room');
    expect(b.edited).toMatchObject({ text: '我方认为该合同有效', version: 2, status: 'edited', end: at(14), confidence: 0.8125 });
    expect(b.identity?.descriptor).toEqual(Buffer.from(new Float32Array([0.25, -1.5, 3.125]).buffer));
    expect(b.identity).toMatchObject({ status: 'verified', distance: 0.123456789 });
    expect(b.afterForget).toBeNull();
    expect(b.keyCount).toBe(1);
    expect(b.audits[1]!.seq).toBeGreaterThan(b.audits[0]!.seq);
    expect(typeof b.audits[0]!.seq).toBe('number');
    expect(b.auditLog).toHaveLength(1);
    expect(b.evidence[0]).toMatchObject({ bytes: 123_456, afterSegmentId: 'b-s1' });
    expect(b.counts).toEqual({ waiting_room: 1 });
    expect(b.sip[0]).toMatchObject({ user: 'b-t1' });
    const { audits: auditsA, code: codeA, ...restA } = a;
    const { audits: auditsB, code: codeB, ...restB } = b;
    expect(normalized(restB, 'b')).toEqual(normalized(restA, 'a'));
    expect(auditsB.map(({ seq: _s, ...e }) => normalized(e, 'b'))).toEqual(auditsA.map(({ seq: _s, ...e }) => normalized(e, 'a')));
    expect([codeA[0] === codeA[1], codeA[2], codeB[0] === codeB[1], codeB[2]]).toEqual([true, 'a-h1', true, 'b-h1']);
  });

  it('is shared by the nodes of a cluster: each sees every hearing, each hosts its own', () => {
    // (Nodes migrating at the same moment: test/cluster.test.ts starts three on a fresh database.)
    const nodeA = new Store('', { databaseUrl: pg.url, nodeId: 'node-a' });
    const nodeB = new Store('', { databaseUrl: pg.url, nodeId: 'node-b' });
    nodeA.insertHearing(row('shared-1'));
    nodeB.insertHearing(row('shared-2'));
    expect(nodeB.hearing('shared-1')?.id).toBe('shared-1');
    expect([nodeA.hostOf('shared-2'), nodeB.hostOf('shared-1'), nodeA.hostOf('none')]).toEqual(['node-b', 'node-a', undefined]);
    expect(nodeA.openHearings().map((h) => h.id)).toEqual(['shared-1']);
    expect(nodeB.openHearings().map((h) => h.id)).toEqual(['shared-2']);
    nodeA.close();
    nodeB.close();
  });

  it('keeps working across a PostgreSQL restart: at most the call that finds its connection gone fails', async () => {
    const store = new Store('', { databaseUrl: pg.url, nodeId: 'node-r' });
    store.insertHearing(row('restart-1'));
    await pg.restart();
    let failed = 0;
    let found: HearingRow | undefined;
    for (let i = 0; i < 2 && !found; i++) {
      try {
        found = store.hearing('restart-1');
      } catch {
        failed++;
      }
    }
    expect(found?.id).toBe('restart-1');
    expect(failed).toBeLessThanOrEqual(1);
    store.insertHearing(row('restart-2'));
    expect(
      store
        .openHearings()
        .map((h) => h.id)
        .sort(),
    ).toEqual(['restart-1', 'restart-2']);
    store.close();
  });

  it('a PostgreSQL that cannot be reached stops the store with the reason', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    expect(() => new Store('', { databaseUrl: url })).toThrow(
      /^cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: .*ECONNREFUSED/,
    );
  });

  it('turns the SQL of both into PostgreSQL parameters', () => {
    expect(toPostgres('SELECT * FROM t WHERE a = ? AND b = ?', [1, 'x'])).toEqual({
      sql: 'SELECT * FROM t WHERE a = $1 AND b = $2',
      values: [1, 'x'],
    });
    expect(toPostgres('INSERT INTO t (a, b, c) VALUES (@a, @b, @a)', { a: 1, b: undefined })).toEqual({
      sql: 'INSERT INTO t (a, b, c) VALUES ($1, $2, $1)',
      values: [1, null],
    });
  });
});
