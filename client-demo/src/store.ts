// What the page shows, in one place: the session and the signaling handlers write it, the panels
// (preact components) read it through `useApp` and re-render when it changes.
import { useEffect, useState } from 'preact/hooks';

export interface Message {
  key: string;
  params?: Record<string, unknown>;
}
export interface Person {
  participantId: string;
  name: string;
  role: string;
  online?: boolean;
  represents?: string[];
  /** A witness not (yet) called in by the judge. */
  waiting?: boolean;
  /** In the hearing by a SIP call (a courtroom or detention-centre terminal), not a page. */
  terminal?: boolean;
}
export interface Tile {
  participantId: string;
  name: string;
  role: string;
  self: boolean;
  video?: MediaStreamTrack;
  audio: MediaStreamTrack[];
}
export interface IdentityNotice {
  participantId: string;
  status: string;
  distance: number | null;
  alert?: string;
  staticImage?: boolean;
  frame?: string;
  reason: string | null;
}
export interface Line {
  id: string;
  participantId: string;
  speakerName: string;
  role: string;
  start: string;
  text: string;
  status: string;
  version: number;
}
export interface Note {
  id: string;
  segmentId: string;
  author: string;
  text: string;
}
export interface Evidence {
  id: string;
  uploadedBy: string;
  originalName?: string;
  width: number;
  height: number;
  afterSegmentId?: string | null;
}
export interface Frozen {
  version: number;
  message: string;
}
export interface Signed {
  participantId: string;
  version: number;
  valid: boolean;
}
export interface Consult {
  options: { participantId: string; name: string }[];
  active: boolean;
  invitation?: { name: string; direction: 'asked' | 'invited' };
}

/** Something the bench is alerted to (see the server's ALERTS). */
export interface Alert {
  action: string;
  at: string;
  participantId?: string;
  reason?: string;
  alert?: string;
  /** The recording's losses (`record.gap`): the track that lost most, packets lost in all, tracks that lost some. */
  kind?: 'audio' | 'video';
  missing?: number;
  tracks?: number;
}

/** Where the recording and the public stream stand (the judge and clerk only). */
export interface CourtMedia {
  recording: boolean;
  stream: { streamable: boolean; approved: boolean; state: string; delaySeconds: number; watch: string };
  protections: { participantId: string; hidden: boolean; voice: string }[];
}

export interface AppState {
  lang: string;
  /** devices: the device check before joining; hearing: joined (or joining) the hearing. */
  phase: 'devices' | 'hearing';
  status: Message;
  /** Shown prominently while the connection is lost. */
  reconnecting: boolean;
  /** A media transport lost its connection (the network dropped): shown until it is back. */
  mediaInterrupted: boolean;
  /** The server refused this page (hearing closed, link expired, …): the i18n key of why, shown prominently. */
  refused: string | null;
  /** This participant is a witness waiting apart (nothing of the courtroom reaches them); `sentBack` after testifying. */
  waitingApart: false | 'waiting' | 'sentBack';
  title: string;
  caseNumber: string;
  hearingState: string;
  allowedTransitions: string[];
  self?: Person;
  people: Record<string, Person>;
  tiles: Tile[];
  speaker: string | null;
  identities: Record<string, IdentityNotice>;
  consult: Consult;
  lines: Line[];
  partials: Record<string, string>;
  notes: Note[];
  hearingId: string;
  /** Participants the judge has muted (their courtroom microphone paused at the server). */
  courtMuted: string[];
  courtMedia: CourtMedia | null;
  /** Each participant's connection quality (the judge and clerk only). */
  quality: Record<string, string>;
  /** The latest alerts, newest first (the judge and clerk only). */
  alerts: Alert[];
  /** Participants whose voice comes on the interpretation channel. */
  interpreters: string[];
  /** What this listener hears: the original (the interpretation silent) or the interpretation (the floor low). */
  listen: 'original' | 'interpretation';
  evidence: Evidence[];
  frozen: Frozen | null;
  signatures: Signed[];
  micOn: boolean;
  cameraOn: boolean;
  cameras: number;
}

let state: AppState = {
  lang: 'zh-CN',
  phase: 'devices',
  status: { key: 'status.deviceCheck' },
  reconnecting: false,
  mediaInterrupted: false,
  refused: null,
  waitingApart: false,
  title: '',
  caseNumber: '',
  hearingState: 'unknown',
  allowedTransitions: [],
  people: {},
  tiles: [],
  speaker: null,
  identities: {},
  consult: { options: [], active: false },
  lines: [],
  partials: {},
  notes: [],
  hearingId: '',
  courtMuted: [],
  courtMedia: null,
  quality: {},
  alerts: [],
  interpreters: [],
  listen: 'original',
  evidence: [],
  frozen: null,
  signatures: [],
  micOn: true,
  cameraOn: true,
  cameras: 0,
};
const listeners = new Set<() => void>();

export const getState = (): AppState => state;

export function update(change: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void {
  state = { ...state, ...(typeof change === 'function' ? change(state) : change) };
  for (const l of listeners) l();
}

/** The current state; the component re-renders on every change. */
export function useApp(): AppState {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return state;
}
