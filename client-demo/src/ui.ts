// What the session tells the page (status, hearing, tracks, consultations): written into the store,
// which the panels render.
import { getState, update, type Consult, type IdentityNotice, type Person } from './store.ts';

export type { IdentityNotice } from './store.ts';

export function setStatus(key: string, params?: Record<string, unknown>): void {
  update({ status: { key, params } });
}

export function setHearing(h: { title?: string; caseNumber?: string; state: string; allowedTransitions: readonly string[] }): void {
  update((s) => ({
    title: h.title ?? s.title,
    caseNumber: h.caseNumber ?? s.caseNumber,
    hearingState: h.state,
    allowedTransitions: [...h.allowedTransitions],
  }));
}

/** Shows a participant's track in their tile, creating the tile on first use. */
export function showTrack(info: Person, track: MediaStreamTrack, self = false): void {
  update((s) => {
    const existing = s.tiles.find((t) => t.participantId === info.participantId);
    const tile = existing ?? { participantId: info.participantId, name: info.name, role: info.role, self, audio: [] };
    const next =
      track.kind === 'video'
        ? { ...tile, video: track }
        : self
          ? tile
          : { ...tile, audio: [...tile.audio.filter((a) => a.id !== track.id), track] };
    const others = s.tiles.filter((t) => t.participantId !== info.participantId);
    return { tiles: self ? [next, ...others] : existing ? s.tiles.map((t) => (t === existing ? next : t)) : [...others, next] };
  });
}

export function removeTrack(participantId: string, track: MediaStreamTrack): void {
  update((s) => ({
    tiles: s.tiles.map((t) =>
      t.participantId !== participantId
        ? t
        : { ...t, video: t.video?.id === track.id ? undefined : t.video, audio: t.audio.filter((a) => a.id !== track.id) },
    ),
  }));
}

export function removeTile(participantId: string): void {
  update((s) => ({ tiles: s.tiles.filter((t) => t.participantId !== participantId) }));
}

export function clearRemoteTiles(): void {
  update((s) => ({ tiles: s.tiles.filter((t) => t.self) }));
}

export function setSpeaker(participantId: string | null): void {
  update({ speaker: participantId });
}

export function showIdentity(n: IdentityNotice): void {
  update((s) => ({ identities: { ...s.identities, [n.participantId]: n } }));
}

export function setPeople(people: Person[], self?: Person): void {
  update((s) => ({ people: Object.fromEntries(people.map((p) => [p.participantId, p])), self: self ?? s.self }));
}

export function setOnline(participantId: string, online: boolean, who?: Person): void {
  update((s) => {
    const known = s.people[participantId] ?? who;
    return known ? { people: { ...s.people, [participantId]: { ...known, ...who, online } } } : {};
  });
}

/** Consultation controls; the actions are the session's (see consult panel). */
export function setConsultations(c: Consult): void {
  update({ consult: c });
}

export const nameOf = (participantId: string): string => getState().people[participantId]?.name ?? '';
