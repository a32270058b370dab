import { createPublicKey, KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GENESIS, lineHash, sha256Hex, type ManifestLine, type SegmentLine } from './manifest.ts';
import { keyFingerprint, verifySignature, type RecordSignature } from './signing.ts';
import { EVIDENCE, MANIFEST, SIGNATURE, SIGNATURES, TRACKS } from './layout.ts';

export interface Problem {
  kind:
    | 'line_unparseable'
    | 'line_missing'
    | 'line_out_of_order'
    | 'line_altered'
    | 'segment_missing'
    | 'segment_altered'
    | 'segment_unlisted'
    | 'file_unlisted'
    | 'file_altered'
    | 'signature_missing'
    | 'signature_malformed'
    | 'signature_mismatch'
    | 'signature_invalid'
    | 'signature_wrong_key'
    | 'checkpoint_invalid'
    | 'head_missing';
  message: string;
  line?: number;
  file?: string;
}

export interface VerifyOptions {
  /** The court's key: the signature (and every checkpoint) must be by it. */
  publicKey?: KeyObject;
  /** Accept a record that is not signed yet (a hearing in progress): reported as incomplete, not verified. */
  allowUnsigned?: boolean;
  /** A head hash the court platform holds (e.g. from a `record.checkpoint` webhook): the chain must contain it. */
  expectHead?: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Signed and finalized: the whole hearing, as closed. False for an in-progress record (allowUnsigned). */
  complete: boolean;
  /** Signed checkpoints found in the chain (each verified), the last one's line count and head. */
  checkpoints: number;
  dir: string;
  lines: number;
  segments: number;
  events: number;
  headHash: string;
  signed: boolean;
  finalized: boolean;
  keyFingerprint: string | null;
  problems: Problem[];
  warnings: string[];
}

export class RecordError extends Error {}

function listFiles(dir: string, base = dir): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  });
}

/**
 * Recomputes every line hash, every segment hash and the signature of a hearing record and says
 * exactly which line or segment was altered, missing, added or reordered. `publicKey` pins the key a
 * court trusts; without it the key embedded in signature.json is used (and said so).
 */
export function verifyRecord(dir: string, options: VerifyOptions | KeyObject = {}): VerifyReport {
  const { publicKey, allowUnsigned = false, expectHead } = options instanceof KeyObject ? { publicKey: options } : options;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new RecordError(`no such directory: ${dir}`);
  const manifestFile = path.join(dir, MANIFEST);
  if (!fs.existsSync(manifestFile)) throw new RecordError(`not a hearing record: ${dir} has no ${MANIFEST}`);

  const problems: Problem[] = [];
  const warnings: string[] = [];
  const text = fs.readFileSync(manifestFile, 'utf8');
  const rawLines = text.split('\n');
  const tail = rawLines.pop();
  if (tail) warnings.push(`the manifest ends in an incomplete line (${tail.length} bytes): a write was cut off`);

  let prevHash = GENESIS;
  let prevSeq = 0;
  let prevInPlace = true;
  const segments: SegmentLine[] = [];
  const accounted = new Set<string>();
  /** Files other than segments that lines list with their hash (evidence photos), and signature images by hash. */
  const hashed = new Map<string, string>();
  const signedImages = new Set<string>();
  /** Hash of each line, in file order (hashes[i] is line i + 1's). */
  const hashes: string[] = [];
  const checkpointLines: { position: number; line: ManifestLine }[] = [];
  let events = 0;
  let finalized = false;
  const parsed = rawLines.map((raw) => {
    try {
      return JSON.parse(raw) as ManifestLine;
    } catch {
      return undefined;
    }
  });
  parsed.forEach((line, i) => {
    const position = i + 1;
    const raw = rawLines[i]!;
    if (!line) {
      problems.push({ kind: 'line_unparseable', line: position, message: `line ${position} is not valid JSON` });
      prevHash = lineHash(raw);
      hashes.push(prevHash);
      prevInPlace = false;
      return;
    }
    const expected = prevSeq + 1;
    let inPlace = line.seq === expected;
    if (line.seq > expected) {
      const laterHasExpected = parsed.slice(i + 1).some((l) => l && l.seq >= expected && l.seq < line.seq);
      if (laterHasExpected)
        problems.push({
          kind: 'line_out_of_order',
          line: position,
          message: `line ${position} holds seq ${line.seq} where ${expected} belongs: lines reordered`,
        });
      else
        problems.push({
          kind: 'line_missing',
          line: expected,
          message: `line(s) ${expected}${line.seq - 1 > expected ? `–${line.seq - 1}` : ''} missing before the line with seq ${line.seq}`,
        });
    } else if (line.seq < expected) {
      problems.push({
        kind: 'line_out_of_order',
        line: position,
        message: `line ${position} holds seq ${line.seq} after seq ${prevSeq}: lines reordered or repeated`,
      });
      inPlace = false;
    }
    if (inPlace && prevInPlace && line.prev !== prevHash) {
      problems.push({
        kind: 'line_altered',
        line: position - 1,
        message: `line ${position - 1} was altered: its hash no longer matches the prev of line ${position}`,
      });
    }
    if (line.type === 'event' && line.event === 'record.checkpoint') checkpointLines.push({ position, line });
    prevHash = lineHash(raw);
    hashes.push(prevHash);
    prevSeq = Math.max(prevSeq, line.seq);
    prevInPlace = inPlace;
    if (line.type === 'segment') segments.push(line);
    else {
      events++;
      if (line.event === 'record.finalized') finalized = true;
      if ((line.event === 'interruption' || line.event === 'recorder.crashed') && Array.isArray(line.unlistedFiles)) {
        for (const f of line.unlistedFiles as { file: string }[]) accounted.add(f.file);
      }
      if (line.event === 'evidence.added' && typeof line.evidenceId === 'string' && typeof line.sha256 === 'string') {
        hashed.set(`${EVIDENCE}/${line.evidenceId}.jpg`, line.sha256);
        accounted.add(`${EVIDENCE}/${line.evidenceId}.thumb.jpg`); // derived from the photo, not hashed
      }
      if (line.event === 'transcript.signed' && typeof line.imageSha256 === 'string') signedImages.add(line.imageSha256);
    }
  });

  for (const s of segments) {
    accounted.add(s.file);
    const file = path.join(dir, s.file);
    if (!fs.existsSync(file)) {
      problems.push({ kind: 'segment_missing', file: s.file, message: `segment ${s.file} is missing` });
      continue;
    }
    const data = fs.readFileSync(file);
    if (data.length !== s.bytes || sha256Hex(data) !== s.sha256) {
      problems.push({
        kind: 'segment_altered',
        file: s.file,
        message: `segment ${s.file} was altered (${data.length} bytes, manifest says ${s.bytes}; SHA-256 differs)`,
      });
    }
  }
  for (const [f, sha256] of hashed) {
    accounted.add(f);
    const file = path.join(dir, f);
    if (!fs.existsSync(file)) problems.push({ kind: 'file_altered', file: f, message: `${f} is listed in the manifest but missing` });
    else if (sha256Hex(fs.readFileSync(file)) !== sha256)
      problems.push({ kind: 'file_altered', file: f, message: `${f} was altered (SHA-256 differs from the manifest)` });
  }
  // Every other file in the record's folder must be accounted for by a line.
  for (const f of listFiles(dir)) {
    if (f === MANIFEST || f === SIGNATURE || accounted.has(f)) continue;
    if (f.startsWith(`${SIGNATURES}/`) && signedImages.has(sha256Hex(fs.readFileSync(path.join(dir, f))))) continue;
    if (f.startsWith(`${TRACKS}/`))
      problems.push({ kind: 'segment_unlisted', file: f, message: `${f} is not in the manifest: added after recording` });
    else problems.push({ kind: 'file_unlisted', file: f, message: `${f} is not in the manifest: added to the record's folder afterwards` });
  }

  // Checkpoints: each signs the head as it was `lines` lines in; a platform that kept one can tell a
  // record cut back to before it (expectHead).
  let checkpoints = 0;
  for (const { position, line } of checkpointLines) {
    const cp = line as unknown as { lines: number; headHash: string; signature: string; publicKeyPem?: string };
    const key = publicKey ?? (typeof cp.publicKeyPem === 'string' ? createPublicKey(cp.publicKeyPem) : undefined);
    const valid =
      typeof cp.lines === 'number' &&
      cp.lines < position &&
      hashes[cp.lines - 1] === cp.headHash &&
      key !== undefined &&
      verifySignature(
        { hearingId: line.hearingId, lines: cp.lines, headHash: cp.headHash, signature: cp.signature } as RecordSignature,
        key,
      );
    if (valid) checkpoints++;
    else problems.push({ kind: 'checkpoint_invalid', line: position, message: `the checkpoint on line ${position} does not verify` });
  }
  if (expectHead !== undefined && !hashes.includes(expectHead)) {
    problems.push({
      kind: 'head_missing',
      message: `the chain does not contain head ${expectHead.slice(0, 12)}…: the record was cut back to before that checkpoint, or is another record`,
    });
  }

  const report: VerifyReport = {
    ok: false,
    complete: false,
    checkpoints,
    dir,
    lines: rawLines.length,
    segments: segments.length,
    events,
    headHash: prevHash,
    signed: false,
    finalized,
    keyFingerprint: null,
    problems,
    warnings,
  };
  const sigFile = path.join(dir, SIGNATURE);
  if (!fs.existsSync(sigFile)) {
    if (finalized) problems.push({ kind: 'signature_missing', message: `the record was finalized but ${SIGNATURE} is missing` });
    else if (!allowUnsigned)
      problems.push({
        kind: 'signature_missing',
        message: `not signed: ${SIGNATURE} is missing (a record still in progress verifies only as incomplete, with --allow-unsigned)`,
      });
    else warnings.push('INCOMPLETE: the record is not finalized (hearing not closed, or the server stopped): not signed yet');
  } else {
    let sig: RecordSignature | undefined;
    let key: KeyObject | undefined;
    try {
      sig = JSON.parse(fs.readFileSync(sigFile, 'utf8')) as RecordSignature;
      if (typeof sig.signature !== 'string' || typeof sig.headHash !== 'string' || typeof sig.publicKeyPem !== 'string')
        throw new Error('fields');
      key = publicKey ?? createPublicKey(sig.publicKeyPem);
    } catch {
      problems.push({ kind: 'signature_malformed', message: `${SIGNATURE} is malformed or truncated` });
    }
    if (sig && key) {
      report.keyFingerprint = keyFingerprint(key);
      if (!publicKey)
        warnings.push(
          `signature checked with the public key inside ${SIGNATURE} (fingerprint ${report.keyFingerprint}); pin the court's key with --public-key`,
        );
      else if (sig.keyFingerprint !== report.keyFingerprint)
        problems.push({
          kind: 'signature_wrong_key',
          message: `signed by key ${sig.keyFingerprint}, not by the pinned key ${report.keyFingerprint}`,
        });
      if (sig.headHash !== prevHash || sig.lines !== rawLines.length) {
        problems.push({
          kind: 'signature_mismatch',
          message: `the signature covers ${sig.lines} lines with head ${sig.headHash.slice(0, 12)}…, the manifest has ${rawLines.length} lines with head ${prevHash.slice(0, 12)}…: lines were changed, added or removed after signing`,
        });
      }
      if (!verifySignature(sig, key)) problems.push({ kind: 'signature_invalid', message: 'the Ed25519 signature does not verify' });
      else report.signed = true;
    }
  }
  report.ok = problems.length === 0;
  report.complete = report.ok && report.signed && finalized;
  return report;
}
