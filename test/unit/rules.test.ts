// The pure rules, without a server: identity decisions and the static-image hint, the hearing state
// machine, the record's hash chain and signature.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decide, DEFAULT_THRESHOLDS, frameQuality, looksStatic, median } from '../../server/identity/rule.ts';
import { allowedTransitions, canTransition, HEARING_STATES, isInSession } from '../../server/hearing/state.ts';
import { GENESIS, lineHash, ManifestWriter } from '../../recordings/manifest.ts';
import { RecordKey } from '../../recordings/signing.ts';
import { SIGNATURE } from '../../recordings/layout.ts';
import { verifyRecord } from '../../recordings/verify.ts';

const box = { x: 100, y: 100, width: 200, height: 200 };
const faceAt = (score = 0.9, width = 200) => ({ score, box: { ...box, width } }) as never;

describe('identity rule', () => {
  it('decides by the median distance: verified at or below accept, rejected at or above reject, review between', () => {
    const t = DEFAULT_THRESHOLDS;
    expect(decide([0.3, 0.9, 0.4], t)).toEqual({ status: 'verified', distance: 0.4 });
    expect(decide([t.accept, t.accept, 0.1], t).status).toBe('verified');
    expect(decide([0.55, 0.52, 0.58], t)).toEqual({ status: 'needs_review', distance: 0.55 });
    expect(decide([t.reject, 0.7, 0.1], t).status).toBe('rejected');
    // One bad frame neither passes nor fails a person.
    expect(decide([0.9, 0.3, 0.35], t).status).toBe('verified');
    expect(decide([0.1, 0.8, 0.85], t).status).toBe('rejected');
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('close to a threshold, takes more frames and decides on the median of them all, up to maxFrames', () => {
    const t = DEFAULT_THRESHOLDS;
    // Clear either way: decided on the first frames, even while more could be taken.
    expect(decide([0.3, 0.45, 0.4], t, false).status).toBe('verified');
    expect(decide([0.7, 0.8, 0.65], t, false).status).toBe('rejected');
    // Between the thresholds: one more frame, until maxFrames.
    const close = [0.52, 0.55, 0.47];
    expect(decide(close, t, false)).toEqual({ status: 'more', distance: 0.52 });
    // Frames that come in lower settle it (the median of all five: 0.47).
    expect(decide([...close, 0.44, 0.46], t, false)).toEqual({ status: 'verified', distance: 0.47 });
    // Still between at maxFrames: a person decides; and so when the check runs out of time (final).
    const undecided = Array.from({ length: t.maxFrames }, (_, i) => 0.51 + (i % 3) * 0.02);
    expect(decide(undecided, t, false).status).toBe('needs_review');
    expect(decide(undecided.slice(0, t.maxFrames - 1), t, false).status).toBe('more');
    expect(decide(close, t).status).toBe('needs_review');
    // An impostor close to the accept line is not let through by taking more frames: the median of all.
    expect(decide([0.49, 0.62, 0.58, 0.61, 0.57], t, false).status).toBe('more');
    expect(decide([0.49, 0.62, 0.58, 0.61, 0.57, 0.59, 0.6, 0.63, 0.58], t, false).status).toBe('needs_review');
  });

  it('counts a frame only with exactly one face, big enough and clearly detected', () => {
    expect(frameQuality([])).toBe('no_face');
    expect(frameQuality([faceAt(), faceAt()])).toBe('several_faces');
    expect(frameQuality([faceAt(0.9, 59)])).toBe('face_too_small');
    expect(frameQuality([faceAt(0.59)])).toBe('low_score');
    expect(frameQuality([faceAt(0.6, 60)])).toBe('ok');
  });

  it('hints at a held-up photo only when no key point moved 1 % of the face width over three frames', () => {
    const points = [10, 20, 30, 40, 50, 60];
    const frame = (dx: number) => ({ keypoints: points.map((v, i) => (i === 0 ? v + dx : v) + box.x), box });
    expect(looksStatic([frame(0), frame(0), frame(1)])).toBe(true); // 1 px of a 200 px face: 0.5 %
    expect(looksStatic([frame(0), frame(0), frame(3)])).toBe(false); // 1.5 %
    expect(looksStatic([frame(0), frame(0)])).toBe(false); // too few frames to say
  });
});

describe('hearing state machine', () => {
  it('allows exactly the documented transitions', () => {
    expect(allowedTransitions('scheduled')).toEqual(['waiting_room', 'closed']);
    expect(canTransition('waiting_room', 'open')).toBe(true);
    expect(canTransition('scheduled', 'open')).toBe(false);
    expect(canTransition('adjourned', 'debate')).toBe(false);
    expect(canTransition('debate', 'investigation')).toBe(true);
    for (const s of HEARING_STATES) expect(canTransition('closed', s)).toBe(false);
    for (const s of HEARING_STATES) if (s !== 'closed') expect(canTransition(s, 'closed')).toBe(true);
    expect(HEARING_STATES.filter(isInSession)).toEqual(['open', 'investigation', 'debate', 'final_statement']);
  });
});

describe('record hash chain', () => {
  const record = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chain-'));
    const writer = new ManifestWriter(path.join(dir, 'manifest.jsonl'), 'h1');
    writer.append({ type: 'event', event: 'record.started' });
    writer.append({ type: 'event', event: 'participant.joined', participantId: 'p1' });
    writer.append({ type: 'event', event: 'record.finalized' });
    const key = RecordKey.loadOrCreate(fs.mkdtempSync(path.join(os.tmpdir(), 'key-')));
    fs.writeFileSync(path.join(dir, SIGNATURE), JSON.stringify(key.sign('h1', writer.head.seq, writer.head.hash)));
    writer.close();
    return { dir, key, file: path.join(dir, 'manifest.jsonl') };
  };

  it('links every line to the hash of the one before, from the genesis', () => {
    const { dir, key, file } = record();
    const raw = fs.readFileSync(file, 'utf8').trim().split('\n');
    const lines = raw.map((l) => JSON.parse(l));
    expect(lines[0].prev).toBe(GENESIS);
    for (let i = 1; i < raw.length; i++) expect(lines[i].prev).toBe(lineHash(raw[i - 1]!));
    const report = verifyRecord(dir, key.publicKey);
    expect(report).toMatchObject({ ok: true, lines: 3, signed: true, headHash: lineHash(raw[2]!) });
  });

  it('names the line that was altered, and a signature that no longer covers the head', () => {
    const { dir, key, file } = record();
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"participantId":"p1"', '"participantId":"p2"'));
    const report = verifyRecord(dir, key.publicKey);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.kind, p.line])).toContainEqual(['line_altered', 2]);
  });

  it('a writer reopening a file cut mid-line removes the partial line and goes on from the last complete one', () => {
    const { file } = record();
    fs.appendFileSync(file, '{"seq":4,"partial');
    const reopened = new ManifestWriter(file, 'h1');
    expect(reopened.truncatedTail).toBe('{"seq":4,"partial');
    expect(reopened.head.seq).toBe(3);
    reopened.close();
  });
});
