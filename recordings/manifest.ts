import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MANIFEST } from './layout.ts';

/** Hash of the genesis: the first line's `prev` (64 zeros). */
export const GENESIS = '0'.repeat(64);

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** A line's hash: SHA-256 of its exact UTF-8 text as written, without the newline. */
export const lineHash = (text: string): string => sha256Hex(Buffer.from(text, 'utf8'));

export interface SegmentLine {
  type: 'segment';
  track: string;
  participantId: string;
  role: string;
  kind: 'audio' | 'video';
  codec: string;
  /** Path relative to the hearing's record directory. */
  file: string;
  bytes: number;
  sha256: string;
  start: string;
  end: string;
  durationSeconds: number;
  rtpFirst: number | null;
  rtpLast: number | null;
}

export interface EventLine {
  type: 'event';
  event: string;
  [key: string]: unknown;
}

export type ManifestBody = SegmentLine | EventLine;
export type ManifestLine = ManifestBody & { seq: number; at: string; hearingId: string; prev: string };

/** The complete lines of a record's manifest (a crash can leave a partial last one), raw and parsed. */
export function readManifest(recordDir: string): { raw: string[]; lines: ManifestLine[] } {
  const raw = fs.readFileSync(path.join(recordDir, MANIFEST), 'utf8').split('\n').slice(0, -1);
  return { raw, lines: raw.map((l) => JSON.parse(l) as ManifestLine) };
}

/** Reads the last complete line of an existing manifest (a crash can leave a partial last line). */
function readTail(file: string): { seq: number; head: string; partial: string | null } {
  if (!fs.existsSync(file)) return { seq: 0, head: GENESIS, partial: null };
  const text = fs.readFileSync(file, 'utf8');
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  const partial = complete.length < text.length ? text.slice(complete.length) : null;
  const lines = complete.split('\n').filter(Boolean);
  const last = lines.at(-1);
  if (!last) return { seq: 0, head: GENESIS, partial };
  return { seq: (JSON.parse(last) as ManifestLine).seq, head: lineHash(last), partial };
}

/**
 * A writer whose manifest another writer took over (a cluster node that was frozen or cut off while
 * its hearing moved to another node): it must not write to the record any more.
 */
export class RecordTakenOver extends Error {
  constructor(readonly file: string) {
    super(`${file} was taken over by another writer: nothing more is written from here`);
    this.name = 'RecordTakenOver';
  }
}

/**
 * The hearing's `manifest.jsonl`: one JSON line per closed segment or event, each carrying `prev`, the
 * hash of the line before, so the file is a hash chain. Lines are appended and fsynced one at a time,
 * so a crash loses at most the line being written (which `open` then cuts off and reports).
 *
 * Taking over (`takeOver`, a cluster node carrying on the record of a node it lost) replaces the file
 * with a copy of itself, by rename: a writer still holding the old file (the lost node, frozen or cut
 * off, that comes back) writes from then on into a file that is no longer the record — its lines can
 * never enter the chain, whatever the timing — and learns so at its next line (the old file has no
 * name any more: `RecordTakenOver`).
 */
export class ManifestWriter {
  private seq: number;
  private headHash: string;
  private readonly fd: number;
  /** Text of a partial last line found on open (a crash mid-write), already removed from the file. */
  readonly truncatedTail: string | null;

  constructor(
    readonly file: string,
    readonly hearingId: string,
    o: { takeOver?: boolean } = {},
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (o.takeOver && fs.existsSync(file)) {
      const copy = `${file}.takeover`;
      fs.copyFileSync(file, copy);
      const fd = fs.openSync(copy, 'r+');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(copy, file);
    }
    const tail = readTail(file);
    if (tail.partial !== null) fs.truncateSync(file, fs.statSync(file).size - Buffer.byteLength(tail.partial));
    this.truncatedTail = tail.partial;
    this.seq = tail.seq;
    this.headHash = tail.head;
    this.fd = fs.openSync(file, 'a');
  }

  /** Whether another writer took the record over (this writer's file is no longer the record). */
  get takenOver(): boolean {
    return fs.fstatSync(this.fd).nlink === 0;
  }

  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.headHash };
  }

  append(body: ManifestBody, at = new Date().toISOString()): ManifestLine {
    if (this.takenOver) throw new RecordTakenOver(this.file);
    const line = { seq: this.seq + 1, at, hearingId: this.hearingId, ...body, prev: this.headHash } as ManifestLine;
    const text = JSON.stringify(line);
    fs.writeSync(this.fd, `${text}\n`);
    fs.fsyncSync(this.fd);
    this.seq = line.seq;
    this.headHash = lineHash(text);
    return line;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
