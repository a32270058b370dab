// The live transcript (笔录) as the page holds it: loaded at join, then kept by the server's events
// (recognized lines, partial text while someone speaks, edits, annotations).
import { update, type Line, type Note } from './store.ts';

export type { Line, Note } from './store.ts';

/** The most lines kept in the page (a long hearing's older lines stay in the record, not in memory). */
const MAX_LINES = 2000;

export function load(lines: Line[], notes: Note[]): void {
  update({ lines: lines.slice(-MAX_LINES), notes, partials: {} });
}

/** A recognized line (new) or an edited one (a new version of the same line). */
export function line(l: Line): void {
  update((s) => {
    const at = s.lines.findIndex((x) => x.id === l.id);
    const lines = at >= 0 ? s.lines.map((x, i) => (i === at && l.version >= x.version ? l : x)) : [...s.lines, l].slice(-MAX_LINES);
    const partials = { ...s.partials };
    delete partials[l.participantId];
    return { lines, partials };
  });
}

/** What is being said right now (replaced by the final line). */
export function partial(p: { participantId: string; text: string }): void {
  update((s) => ({ partials: { ...s.partials, [p.participantId]: p.text } }));
}

export function note(n: Note): void {
  update((s) => (s.notes.some((x) => x.id === n.id) ? {} : { notes: [...s.notes, n] }));
}
