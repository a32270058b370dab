import { execFileSync, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HearingServer } from '../server/app/server.ts';
import { api, createHearing, startTestServer } from './helpers/server.ts';
import { rtpPacket } from './helpers/rtp.ts';
import { verifyRecord } from '../recordings/verify.ts';
import { ffprobe } from './helpers/ffprobe.ts';
import { sleep, until } from './helpers/wait.ts';
import { ManifestWriter } from '../recordings/manifest.ts';
import { listedFiles } from '../workers/record/hearing-recording.ts';

const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]); // one 20 ms Opus (CELT) frame

function runVerify(dir: string, ...extra: string[]): { code: number; out: string } {
  const r = spawnSync('node', ['--import', 'tsx', 'recordings/verify-cli.ts', dir, ...extra], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function copyRecord(dir: string): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'record-copy-'));
  execFileSync('cp', ['-r', `${dir}/.`, copy]);
  return copy;
}

/** A hearing with one party whose microphone the test feeds as RTP (as a SIP gateway would), in session. */
async function opusFedHearing(server: HearingServer, name: string, ssrc: number) {
  const call = api(server);
  const { id, participants } = await createHearing(server, [{ name, role: 'party' }]);
  const party = participants[0]!;
  const room = await server.plane.room(id);
  const ingest = await room.createPlainTransport(party.id, 'send', { comedia: true });
  await room.produce(
    party.id,
    ingest.id,
    'audio',
    { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] },
    'mic',
  );
  for (const to of ['waiting_room', 'open']) await call('POST', `/api/v1/hearings/${id}/transitions`, { to });
  return { id, port: ingest.tuple.localPort };
}

describe('record integrity: loss accounting, tampering, bad input', () => {
  let server: HearingServer;
  let dir: string;
  let gaps: any[];
  let hearingId: string;

  beforeAll(async () => {
    server = await startTestServer();
    server.config.recordCheckpoint.seconds = 1; // a signed checkpoint of the head each second lines came
    const call = api(server);
    // A recorded producer fed with RTP by the test, with sequence gaps.
    const ssrc = 0x5eed;
    const { id, port } = await opusFedHearing(server, 'Party Li', ssrc);
    hearingId = id;
    await sleep(300);

    const socket = dgram.createSocket('udp4');
    const skip = new Map([
      [60, 3],
      [150, 7],
    ]); // after packet index → how many sequence numbers go missing
    // Packet 100 arrives 7 packets (140 ms) late, as a packet repaired by NACK does: not a loss.
    const late = { index: 100, after: 107 };
    let held: Buffer | undefined;
    let seq = 1000;
    for (let i = 0; i < 250; i++) {
      const packet = Buffer.concat([
        rtpPacket({ payloadType: 100, seq, timestamp: i * 960, ssrc, index: i, size: 4 }).subarray(0, 12),
        OPUS_SILENCE,
      ]);
      if (i === late.index) held = packet;
      else socket.send(packet, port, '127.0.0.1');
      if (i === late.after) socket.send(held!, port, '127.0.0.1');
      seq += 1 + (skip.get(i) ?? 0);
      await sleep(20);
    }
    socket.close();
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'closed' });
    dir = server.recorder.dirOf(id);
    for (let i = 0; i < 80 && !fs.existsSync(path.join(dir, 'signature.json')); i++) await sleep(100);
    const lines = fs
      .readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    gaps = lines.filter((l) => l.event === 'gap');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('writes each sequence gap that reaches the recorder as an event with the right count; a late (repaired) packet is put back, not lost', () => {
    expect(gaps.map((g) => g.missing)).toEqual([3, 7]);
    expect(gaps[0].nextSeq - gaps[0].afterSeq - 1).toBe(3);
    const report = verifyRecord(dir, server.recordKey.publicKey);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.segments).toBeGreaterThanOrEqual(2);
    const segments = fs
      .readdirSync(path.join(dir, 'tracks'))
      .flatMap((t) => fs.readdirSync(path.join(dir, 'tracks', t)).map((f) => path.join(dir, 'tracks', t, f)));
    expect(segments.every((f) => ffprobe(f).codec === 'opus')).toBe(true);
  });

  it('tells the bench of the loss once, summed over the hearing’s tracks, not once per gap (the record has each)', () => {
    const party = server.store.participants(hearingId)[0]!;
    const reported = server.store.auditLog(hearingId).filter((e) => e.action === 'record.gap');
    // The first gap is reported at once; the second, seconds later, waits for the next report (30 s on).
    expect(reported.map((e) => e.detail)).toEqual([{ missing: 3, tracks: [{ participantId: party.id, kind: 'audio', missing: 3 }] }]);
  });

  it('verify names every kind of tampering', () => {
    const lines = () => fs.readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8').trim().split('\n');
    const firstSegment = JSON.parse(lines().find((l) => l.includes('"type":"segment"'))!).file as string;
    const eventLine = lines().findIndex((l) => l.includes('"event":"record.started"')) + 1;

    const flipped = copyRecord(dir);
    const target = path.join(flipped, firstSegment);
    const data = fs.readFileSync(target);
    const middle = Math.floor(data.length / 2);
    data.writeUInt8(data.readUInt8(middle) ^ 0x01, middle);
    fs.writeFileSync(target, data);
    const flipReport = verifyRecord(flipped);
    expect(flipReport.problems).toEqual([expect.objectContaining({ kind: 'segment_altered', file: firstSegment })]);
    const cli = runVerify(flipped);
    expect(cli.code).toBe(1);
    expect(cli.out).toContain(`segment ${firstSegment} was altered`);

    const deleted = copyRecord(dir);
    fs.rmSync(path.join(deleted, firstSegment));
    expect(verifyRecord(deleted).problems).toEqual([expect.objectContaining({ kind: 'segment_missing', file: firstSegment })]);

    const added = copyRecord(dir);
    fs.copyFileSync(path.join(added, firstSegment), path.join(path.dirname(path.join(added, firstSegment)), '999999.webm'));
    expect(verifyRecord(added).problems).toEqual([expect.objectContaining({ kind: 'segment_unlisted' })]);

    const edited = copyRecord(dir);
    const editedLines = lines();
    editedLines[eventLine - 1] = editedLines[eventLine - 1]!.replace('"reason":"hearing open"', '"reason":"hearing opened late"');
    fs.writeFileSync(path.join(edited, 'manifest.jsonl'), `${editedLines.join('\n')}\n`);
    const editReport = verifyRecord(edited);
    expect(editReport.problems).toContainEqual(expect.objectContaining({ kind: 'line_altered', line: eventLine }));
    expect(runVerify(edited).out).toContain(`line ${eventLine} was altered`);

    const reordered = copyRecord(dir);
    const swapped = lines();
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    fs.writeFileSync(path.join(reordered, 'manifest.jsonl'), `${swapped.join('\n')}\n`);
    const reorderKinds = verifyRecord(reordered)
      .problems.filter((p) => p.kind === 'line_out_of_order')
      .map((p) => p.line);
    expect(reorderKinds).toEqual([4, 5]);

    const removedLine = copyRecord(dir);
    const fewer = lines();
    fewer.splice(2, 1);
    fs.writeFileSync(path.join(removedLine, 'manifest.jsonl'), `${fewer.join('\n')}\n`);
    expect(verifyRecord(removedLine).problems).toContainEqual(expect.objectContaining({ kind: 'line_missing', line: 3 }));

    const appended = copyRecord(dir);
    fs.appendFileSync(path.join(appended, 'manifest.jsonl'), `${lines().at(-1)}\n`);
    expect(verifyRecord(appended).problems.map((p) => p.kind)).toContain('signature_mismatch');

    const truncated = copyRecord(dir);
    const sig = fs.readFileSync(path.join(truncated, 'signature.json'), 'utf8');
    fs.writeFileSync(path.join(truncated, 'signature.json'), sig.slice(0, sig.length - 40));
    expect(verifyRecord(truncated).problems).toEqual([expect.objectContaining({ kind: 'signature_malformed' })]);
    expect(runVerify(truncated).code).toBe(1);

    // A court pins its own copy of the server key; another key's signature is refused.
    const keyFile = path.join(os.tmpdir(), `other-key-${process.pid}.pem`);
    fs.writeFileSync(keyFile, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const wrongKey = runVerify(dir, '--public-key', keyFile);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.out).toContain('signature_wrong_key');
    const serverKey = path.join(os.tmpdir(), `server-key-${process.pid}.pem`);
    fs.writeFileSync(serverKey, server.recordKey.publicKeyPem);
    const pinned = runVerify(dir, '--public-key', serverKey);
    expect(pinned.out).toContain('VERIFIED');
    expect(pinned.code).toBe(0);
  });

  it('a record cut short and unsigned does not verify against a pinned key; signed checkpoints catch a record cut back', () => {
    const raw = fs.readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8').trim().split('\n');
    const lines = raw.map((l) => JSON.parse(l));
    const checkpoints = lines.filter((l) => l.event === 'record.checkpoint');
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    // Each checkpoint reached the court platform through the hearing's log (and so its webhook).
    const sent = server.store.auditLog(hearingId).filter((e) => e.action === 'record.checkpoint');
    expect(sent.map((e) => [e.detail.lines, e.detail.headHash])).toEqual(checkpoints.map((c) => [c.lines, c.headHash]));
    const serverKey = path.join(os.tmpdir(), `server-key-cp-${process.pid}.pem`);
    fs.writeFileSync(serverKey, server.recordKey.publicKeyPem);
    const last = checkpoints.at(-1);
    expect(runVerify(dir, '--public-key', serverKey, '--expect-head', last.headHash)).toMatchObject({ code: 0 });
    expect(verifyRecord(dir, server.recordKey.publicKey).checkpoints).toBe(checkpoints.length);

    // Cut back to just after the first checkpoint: the lines, the segments they list and nothing else,
    // no signature. Consistent in itself, but not signed, and short of the head the platform holds.
    const cut = copyRecord(dir);
    const kept = lines.slice(0, checkpoints[0].seq);
    fs.writeFileSync(path.join(cut, 'manifest.jsonl'), `${raw.slice(0, kept.length).join('\n')}\n`);
    fs.rmSync(path.join(cut, 'signature.json'));
    const keptFiles = new Set(kept.filter((l) => l.type === 'segment').map((l) => l.file));
    for (const l of lines) if (l.type === 'segment' && !keptFiles.has(l.file)) fs.rmSync(path.join(cut, l.file));
    const unsigned = runVerify(cut, '--public-key', serverKey);
    expect(unsigned.code, unsigned.out).toBe(1);
    expect(unsigned.out).toContain('not signed');
    expect(unsigned.out).not.toMatch(/^VERIFIED/m);
    const inProgress = runVerify(cut, '--public-key', serverKey, '--allow-unsigned');
    expect(inProgress.code, inProgress.out).toBe(3);
    expect(inProgress.out).toContain('INCOMPLETE');
    const cutBack = runVerify(cut, '--public-key', serverKey, '--allow-unsigned', '--expect-head', last.headHash);
    expect(cutBack.code).toBe(1);
    expect(cutBack.out).toContain('head_missing');

    // A checkpoint whose signature was forged is named.
    const forged = copyRecord(dir);
    const at = checkpoints[0].seq - 1;
    const flipped = { ...lines[at], signature: Buffer.alloc(64, 7).toString('base64') };
    const forgedRaw = [...raw];
    forgedRaw[at] = JSON.stringify(flipped);
    fs.writeFileSync(path.join(forged, 'manifest.jsonl'), `${forgedRaw.join('\n')}\n`);
    expect(verifyRecord(forged, server.recordKey.publicKey).problems.map((p) => p.kind)).toContain('checkpoint_invalid');

    // Anything else in the record's folder is named too.
    const extra = copyRecord(dir);
    fs.mkdirSync(path.join(extra, 'evidence'), { recursive: true });
    fs.writeFileSync(path.join(extra, 'evidence', 'planted.jpg'), 'x');
    expect(verifyRecord(extra, server.recordKey.publicKey).problems).toEqual([
      expect.objectContaining({ kind: 'file_unlisted', file: 'evidence/planted.jpg' }),
    ]);
  });

  it('a record another writer took over (a cluster node carrying on a lost node’s record): nothing of this writer enters it after, not even a write under way; it stops and sets aside the files it closed after', async () => {
    const ssrc = 0x7a4e;
    const { id, port } = await opusFedHearing(server, 'Party Wu', ssrc);
    const socket = dgram.createSocket('udp4');
    let feeding = true;
    const fed = (async () => {
      for (let i = 0; feeding && i < 1500; i++) {
        const header = rtpPacket({ payloadType: 100, seq: i, timestamp: i * 960, ssrc, index: i, size: 4 }).subarray(0, 12);
        socket.send(Buffer.concat([header, OPUS_SILENCE]), port, '127.0.0.1');
        await sleep(20);
      }
    })();
    const dir = server.recorder.dirOf(id);
    const file = path.join(dir, 'manifest.jsonl');
    const read = () =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    try {
      await until('a segment in the record', () => fs.existsSync(file) && read().some((l) => l.type === 'segment'), 10_000);
      const rec = server.recorder.get(id)!;
      const held = (rec.manifest as unknown as { fd: number }).fd;
      // Another writer takes the record over and carries it on.
      const other = new ManifestWriter(file, id, { takeOver: true });
      const atTakeover = read().length;
      other.append({ type: 'event', event: 'interruption', cause: 'node lost', node: 'node-x' });
      // A line this server was writing at that very moment lands in the file it held: no longer the record.
      fs.writeSync(held, '{"late":true}\n');
      // Its next line (the next segment) is refused: it stops writing to the record (and says so once).
      await until('the recording learns the record was taken over', () => rec.isTakenOver, 10_000);
      const tracks = path.join(dir, 'tracks');
      const files = () => fs.readdirSync(tracks).flatMap((t) => fs.readdirSync(path.join(tracks, t)).map((f) => `tracks/${t}/${f}`));
      await until(
        'a segment closed after the takeover',
        () => files().some((f) => !f.endsWith('.part') && !listedFiles(dir).has(f)),
        10_000,
      );
      const setAside = (await server.recorder.relinquish(id, 'test'))!;
      expect(setAside.files.length).toBeGreaterThan(0);
      for (const f of setAside.files) {
        expect(fs.existsSync(path.join(setAside.dir, f)), f).toBe(true);
        expect(fs.existsSync(path.join(dir, f)), f).toBe(false);
      }
      expect(server.recorder.hearingIds()).not.toContain(id);
      other.append({ type: 'event', event: 'record.resumed', reason: 'carried on', actor: 'system' });
      other.close();
      const lines = read();
      expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: atTakeover + 2 }, (_, i) => i + 1));
      expect(lines.slice(atTakeover).map((l) => l.event)).toEqual(['interruption', 'record.resumed']);
      expect(verifyRecord(dir, { allowUnsigned: true }).problems).toEqual([]);
    } finally {
      feeding = false;
      await fed;
      socket.close();
    }
  });

  it('verify refuses a missing or non-record directory with a clear error', () => {
    const missing = runVerify('/nonexistent/record');
    expect(missing.code).toBe(2);
    expect(missing.out).toContain('no such directory');
    const notRecord = runVerify(fs.mkdtempSync(path.join(os.tmpdir(), 'not-a-record-')));
    expect(notRecord.code).toBe(2);
    expect(notRecord.out).toContain('not a hearing record');
    expect(runVerify('').code).toBe(2);
  });
});
