import type { HearingService, HearingView } from '../hearing/hearings.ts';
import type { Role } from '../hearing/roles.ts';

const DEMO_CASE = 'DEMO-2026-0001';
const DEMO_PEOPLE: { name: string; role: Role }[] = [
  { name: 'Judge Wang', role: 'judge' },
  { name: 'Party Li', role: 'party' },
];

/**
 * The demo hearing for `npm start` with no configuration: reused across restarts (unless it was
 * closed) and printed with fresh join links for a judge and a party.
 */
export async function ensureDemoHearing(
  hearings: HearingService,
): Promise<{ hearing: HearingView; links: { name: string; role: Role; joinUrl: string }[] }> {
  let row = hearings.findByCase(DEMO_CASE);
  if (!row || row.state === 'closed') {
    row = hearings.create({ caseNumber: DEMO_CASE, title: 'Demo hearing: Li v. Zhang (contract dispute)' }, 'demo');
  }
  const hearingId = row.id;
  const existing = hearings.participants(hearingId);
  const links = [];
  for (const person of DEMO_PEOPLE) {
    const found = existing.find((p) => p.role === person.role && p.name === person.name);
    const participant = found ? hearings.participant(hearingId, found.id) : undefined;
    const issued = participant ? await hearings.issueToken(participant) : await hearings.addParticipant(hearingId, person, 'demo');
    links.push({ ...person, joinUrl: issued.joinUrl });
  }
  return { hearing: hearings.get(hearingId), links };
}
