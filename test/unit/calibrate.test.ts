// The calibration report a court runs on its own labelled pairs (scripts/calibrate.ts).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrate, MIN_GENUINE, MIN_IMPOSTOR, pairsFromCsv, pairsFromStore, type LabelledPair } from '../../server/identity/calibrate.ts';
import { DEFAULT_THRESHOLDS } from '../../server/identity/rule.ts';
import { Store } from '../../server/store/store.ts';

/** `n` distances spread evenly from `from` to `to`. */
const spread = (n: number, from: number, to: number, same: boolean): LabelledPair[] =>
  Array.from({ length: n }, (_, i) => ({ distance: from + ((to - from) * i) / (n - 1), same }));

function calibrateCli(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/calibrate.ts', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe('identity calibration from labelled pairs', () => {
  it('accepts below the nearest refused pair by the margin, rejects beyond the farthest admitted one', () => {
    const pairs = [...spread(60, 0.3, 0.55, true), ...spread(400, 0.66, 1.0, false)];
    const c = calibrate(pairs, DEFAULT_THRESHOLDS);
    expect(c.recommended).toEqual({ accept: 0.61, reject: 0.62 });
    expect(c.enough).toBe(true);
    expect(c.warnings).toEqual([]);
    const at = Object.fromEntries(c.at.map((a) => [a.label, a.outcome]));
    // The configured 0.50 sends the admitted pairs above it to a person; the recommended point verifies them all.
    expect(at.configured!.genuineToReview).toBe(pairs.filter((p) => p.same && p.distance > 0.5).length);
    expect(at.recommended).toMatchObject({ falseAccepts: 0, genuineVerified: 60, genuineToReview: 0, genuineRejected: 0 });
    expect(c.farUpperBound95).toBe(0.0075);
    expect(c.genuine).toMatchObject({ count: 60, min: 0.3, max: 0.55 });
  });

  it('where the two overlap, accepts below every refused pair and says so; too few pairs are not enough', () => {
    const pairs = [...spread(60, 0.3, 0.62, true), ...spread(400, 0.66, 1.0, false), { distance: 0.47, same: false }];
    const c = calibrate(pairs, DEFAULT_THRESHOLDS);
    expect(c.recommended).toEqual({ accept: 0.42, reject: 0.63 });
    expect(c.at.find((a) => a.label === 'recommended')!.outcome.falseAccepts).toBe(0);
    expect(c.warnings.join()).toMatch(/overlap \(nearest refused 0.47, farthest admitted 0.62\)/);
    const few = calibrate([...spread(MIN_GENUINE - 1, 0.3, 0.5, true), ...spread(MIN_IMPOSTOR, 0.7, 1, false)], DEFAULT_THRESHOLDS);
    expect(few.enough).toBe(false);
    expect(few.warnings).toEqual([`only ${MIN_GENUINE - 1} admitted pairs (at least ${MIN_GENUINE} wanted)`]);
    expect(calibrate(spread(60, 0.3, 0.5, true), DEFAULT_THRESHOLDS).recommended).toBeNull();
  });

  it('reads a CSV of distance,label (naming a bad line) and a server store’s admit and refuse decisions; the command prints the settings', () => {
    expect(pairsFromCsv('distance,label\n0.31,admit\n0.8, refuse\n\n0.4,1\n')).toEqual([
      { distance: 0.31, same: true },
      { distance: 0.8, same: false },
      { distance: 0.4, same: true },
    ]);
    expect(() => pairsFromCsv('0.3,same\n0.5,maybe\n')).toThrow(/line 2: not a label: "maybe"/);
    expect(() => pairsFromCsv('0.3,same\n-1,same\n')).toThrow(/line 2/);

    // A store as the server leaves it: checks, then a person's decision on some of them.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calibrate-'));
    try {
      const store = new Store(dir);
      const now = new Date().toISOString();
      const hearingId = randomUUID();
      store.insertHearing({
        id: hearingId,
        caseNumber: 'CAL-1',
        title: 't',
        scheduledAt: null,
        state: 'open',
        asrEngine: null,
        asrLanguage: null,
        createdAt: now,
        updatedAt: now,
      });
      const log = (action: string, detail: Record<string, unknown>) => store.audit({ hearingId, at: now, actor: 'system', action, detail });
      const people = ['admitted', 'refused', 'undecided', 'twice'].map((name) => {
        const id = randomUUID();
        store.insertParticipant({ id, hearingId, name, role: 'party', idMasked: null, idHash: null, createdAt: now });
        return id;
      });
      const [admitted, refused, undecided, twice] = people as [string, string, string, string];
      log('identity.checked', { participantId: admitted, result: 'needs_review', distance: 0.53 });
      log('identity.decided', { participantId: admitted, decision: 'admit', reason: 'ID card shown' });
      log('identity.checked', { participantId: refused, result: 'needs_review', distance: 0.57 });
      log('identity.decided', { participantId: refused, decision: 'refuse', reason: 'not the party' });
      log('identity.checked', { participantId: undecided, result: 'verified', distance: 0.41 });
      // A decision goes with the check just before it.
      log('identity.checked', { participantId: twice, result: 'verified', distance: 0.2 });
      log('identity.checked', { participantId: twice, result: 'needs_review', distance: 0.55 });
      log('identity.decided', { participantId: twice, decision: 'admit', reason: 'known to the court' });
      expect(pairsFromStore(store)).toEqual([
        { distance: 0.53, same: true },
        { distance: 0.57, same: false },
        { distance: 0.55, same: true },
      ]);
      store.close();

      // Too few to use: the report, and exit 2.
      const fromStore = calibrateCli(['--data-dir', dir]);
      expect(fromStore.status, fromStore.err).toBe(2);
      expect(fromStore.out).toContain('| admitted (same person) | 2 | 0.53 |');
      expect(fromStore.out).toContain('too few pairs to use them yet');
      // Enough pairs in a CSV: the settings, exit 0.
      const csv = path.join(dir, 'pairs.csv');
      const many = [...spread(60, 0.3, 0.55, true), ...spread(400, 0.66, 1.0, false)];
      fs.writeFileSync(csv, `distance,label\n${many.map((p) => `${p.distance},${p.same ? 'admit' : 'refuse'}`).join('\n')}\n`);
      const fromCsv = calibrateCli(['--csv', csv]);
      expect(fromCsv.status, fromCsv.err).toBe(0);
      expect(fromCsv.out).toMatch(/Settings:\n\n {4}HEARING_IDENTITY_ACCEPT=0.61\n {4}HEARING_IDENTITY_REJECT=0.62/);
      // Bad input: a clear message and exit 1.
      for (const args of [[], ['--csv', path.join(dir, 'missing.csv')], ['--data-dir', os.tmpdir()], ['--csv', csv, '--margin', 'lots']]) {
        const bad = calibrateCli(args);
        expect(bad.status, args.join(' ')).toBe(1);
        expect(bad.err).toMatch(/^calibrate: /);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
