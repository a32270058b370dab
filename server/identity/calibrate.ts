// Thresholds from a court's own labelled pairs: distances of checks a person decided on (admitted: the
// same person; refused: not), or any list of labelled distances. Pure, so the report can be tested; the
// command that reads a server's store or a CSV file is scripts/calibrate.ts.
import { z } from 'zod';
import type { Store } from '../store/store.ts';
import type { IdentityThresholds } from './rule.ts';

export interface LabelledPair {
  distance: number;
  /** The same person (admitted), or not (refused). */
  same: boolean;
}

export interface Calibration {
  genuine: Spread;
  impostor: Spread;
  /** The operating point: accept below the nearest impostor by `margin`; reject above every genuine pair. */
  recommended: { accept: number; reject: number } | null;
  /** Why no point is recommended, or what limits trust in it. */
  warnings: string[];
  /** At the configured and the recommended thresholds: what each does with these pairs. */
  at: { label: string; accept: number; reject: number; outcome: Outcome }[];
  /** With no impostor accepted among n, the false-accept rate is below 3/n with 95 % confidence. */
  farUpperBound95: number | null;
  /** Enough pairs on both sides (MIN_GENUINE, MIN_IMPOSTOR) for the recommended point to be used. */
  enough: boolean;
}

export interface Spread {
  count: number;
  min: number | null;
  p05: number | null;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface Outcome {
  falseAccepts: number;
  genuineVerified: number;
  genuineToReview: number;
  genuineRejected: number;
  impostorToReview: number;
  impostorRejected: number;
}

/** Fewer labelled pairs than this on either side: the report says not to trust the point yet. */
export const MIN_GENUINE = 50;
export const MIN_IMPOSTOR = 300;

const r3 = (v: number): number => Number(v.toFixed(3));

function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? r3(s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!) : null);
  return { count: s.length, min: at(0), p05: at(0.05), p50: at(0.5), p95: at(0.95), max: at(1) };
}

export function outcome(pairs: LabelledPair[], t: Pick<IdentityThresholds, 'accept' | 'reject'>): Outcome {
  const o: Outcome = {
    falseAccepts: 0,
    genuineVerified: 0,
    genuineToReview: 0,
    genuineRejected: 0,
    impostorToReview: 0,
    impostorRejected: 0,
  };
  for (const p of pairs) {
    const verdict = p.distance <= t.accept ? 'verified' : p.distance >= t.reject ? 'rejected' : 'review';
    if (p.same) {
      if (verdict === 'verified') o.genuineVerified++;
      else if (verdict === 'review') o.genuineToReview++;
      else o.genuineRejected++;
    } else if (verdict === 'verified') o.falseAccepts++;
    else if (verdict === 'review') o.impostorToReview++;
    else o.impostorRejected++;
  }
  return o;
}

/**
 * The operating point for these pairs: accept at most `margin` below the nearest impostor (rounded down
 * to 0.01), reject from just above the farthest genuine pair (rounded up), so that nobody admitted before
 * would have been refused by the machine; between the two, a person decides.
 */
export function calibrate(pairs: LabelledPair[], configured: Pick<IdentityThresholds, 'accept' | 'reject'>, margin = 0.05): Calibration {
  const genuine = pairs.filter((p) => p.same).map((p) => p.distance);
  const impostor = pairs.filter((p) => !p.same).map((p) => p.distance);
  const warnings: string[] = [];
  if (genuine.length < MIN_GENUINE) warnings.push(`only ${genuine.length} admitted pairs (at least ${MIN_GENUINE} wanted)`);
  if (impostor.length < MIN_IMPOSTOR) warnings.push(`only ${impostor.length} refused pairs (at least ${MIN_IMPOSTOR} wanted)`);
  let recommended: Calibration['recommended'] = null;
  if (genuine.length && impostor.length) {
    const accept = Math.floor((Math.min(...impostor) - margin) * 100) / 100;
    const reject = Math.max(accept + 0.01, Math.ceil((Math.max(...genuine) + 0.005) * 100) / 100);
    if (accept <= 0) warnings.push('an impostor lies within the margin of zero: no threshold accepts anyone safely');
    else recommended = { accept: Number(accept.toFixed(2)), reject: Number(reject.toFixed(2)) };
    if (Math.min(...impostor) <= Math.max(...genuine))
      warnings.push(
        `the two overlap (nearest refused ${r3(Math.min(...impostor))}, farthest admitted ${r3(Math.max(...genuine))}): those between go to a person`,
      );
  } else warnings.push('both admitted and refused pairs are needed');
  const at = [{ label: 'configured', ...configured, outcome: outcome(pairs, configured) }];
  if (recommended) at.push({ label: 'recommended', ...recommended, outcome: outcome(pairs, recommended) });
  return {
    genuine: spread(genuine),
    impostor: spread(impostor),
    recommended,
    warnings,
    at,
    farUpperBound95: impostor.length ? Number(Math.min(1, 3 / impostor.length).toPrecision(2)) : null,
    enough: genuine.length >= MIN_GENUINE && impostor.length >= MIN_IMPOSTOR,
  };
}

const csvRow = z.tuple([
  z.coerce.number().min(0).max(4),
  z.string().transform((s, ctx) => {
    const v = s.trim().toLowerCase();
    if (['1', 'same', 'admit', 'admitted', 'genuine', 'true'].includes(v)) return true;
    if (['0', 'different', 'refuse', 'refused', 'impostor', 'false'].includes(v)) return false;
    ctx.addIssue({ code: 'custom', message: `not a label: "${s}" (same/admit/1 or different/refuse/0)` });
    return z.NEVER;
  }),
]);

/** `distance,label` lines (a header line is skipped); a bad line is an error naming it. */
export function pairsFromCsv(text: string): LabelledPair[] {
  const pairs: LabelledPair[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || (i === 0 && /[a-z]/i.test(line.split(',')[0] ?? ''))) return;
    const parsed = csvRow.safeParse(line.split(',').map((c) => c.trim()));
    if (!parsed.success) throw new Error(`line ${i + 1}: ${parsed.error.issues.map((x) => x.message).join('; ')}`);
    pairs.push({ distance: parsed.data[0], same: parsed.data[1] });
  });
  return pairs;
}

/**
 * A court's own labels from a server's store: each admit or refuse by a judge or clerk, with the distance
 * of that participant's last automatic check before it (decisions without a check are left out).
 */
export function pairsFromStore(store: Store): LabelledPair[] {
  const pairs: LabelledPair[] = [];
  for (let offset = 0; ; offset += 500) {
    const hearings = store.hearings(500, offset);
    for (const h of hearings) {
      const last = new Map<string, number>();
      for (const e of store.auditLog(h.id)) {
        const participantId = e.detail.participantId as string | undefined;
        if (!participantId) continue;
        if (e.action === 'identity.checked' && typeof e.detail.distance === 'number') last.set(participantId, e.detail.distance);
        if (e.action === 'identity.decided' && last.has(participantId))
          pairs.push({ distance: last.get(participantId)!, same: e.detail.decision === 'admit' });
      }
    }
    if (hearings.length < 500) return pairs;
  }
}

/** The report as Markdown, with the settings to use. */
export function calibrationReport(c: Calibration): string {
  const row = (name: string, s: Spread) =>
    `| ${name} | ${s.count} | ${[s.min, s.p05, s.p50, s.p95, s.max].map((v) => v ?? '—').join(' | ')} |`;
  const lines = [
    '# Identity thresholds from labelled pairs',
    '',
    '| pairs | count | min | p5 | p50 | p95 | max |',
    '|---|---|---|---|---|---|---|',
    row('admitted (same person)', c.genuine),
    row('refused (another person)', c.impostor),
    '',
    '| thresholds | accept | reject | false accepts | admitted verified | admitted to review | admitted rejected | refused to review | refused rejected |',
    '|---|---|---|---|---|---|---|---|---|',
    ...c.at.map(
      (a) =>
        `| ${a.label} | ${a.accept} | ${a.reject} | ${a.outcome.falseAccepts} | ${a.outcome.genuineVerified} | ${a.outcome.genuineToReview} | ${a.outcome.genuineRejected} | ${a.outcome.impostorToReview} | ${a.outcome.impostorRejected} |`,
    ),
    '',
  ];
  const recommendedFa = c.at.find((a) => a.label === 'recommended')?.outcome.falseAccepts;
  if (c.farUpperBound95 !== null && recommendedFa === 0)
    lines.push(
      `At the recommended point no refused pair is accepted: with ${c.impostor.count} of them, the false-accept rate is below ${c.farUpperBound95} (95 % confidence).`,
      '',
    );
  if (c.warnings.length) lines.push(...c.warnings.map((w) => `- ${w}`), '');
  if (c.recommended)
    lines.push(
      c.enough ? 'Settings:' : 'Settings these pairs point to — too few pairs to use them yet:',
      '',
      `    HEARING_IDENTITY_ACCEPT=${c.recommended.accept}`,
      `    HEARING_IDENTITY_REJECT=${c.recommended.reject}`,
      '',
    );
  return lines.join('\n');
}
