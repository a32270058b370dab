import { SignalingClient, SignalingError } from './signaling.ts';
import { Session } from './session.ts';
import * as ui from './ui.ts';

import { h, render } from 'preact';
import { App } from './app.tsx';
import { actions, setActions } from './actions.ts';
import { getState, update, type Alert, type CourtMedia, type Evidence, type Frozen, type Signed } from './store.ts';
import * as transcript from './transcript.ts';
import './i18n.ts';
import { embedded, tellHost, tokenFromHost } from './embed.ts';
import { findMovedHearing } from './moved.ts';

// The token leaves the address bar (and so the history and any Referer) as soon as the page has it; a
// reload of this tab finds it in the tab's session storage.
const fromLink = new URLSearchParams(location.search).get('token');
// Sent here by a node that took the hearing over from a lost one (cluster mode): join without the device check.
const movedHere = new URLSearchParams(location.search).get('moved') === '1';
// A court platform that knows the device encodes H.264 in hardware (phones, courtroom terminals) adds
// `codec=h264` to the link: the camera is sent as H.264 when the server offers it.
const codecAsked = new URLSearchParams(location.search).get('codec');
if (codecAsked === 'h264' || codecAsked === 'vp8') sessionStorage.setItem('hearingVideoCodec', codecAsked);
if (fromLink) {
  sessionStorage.setItem('hearingToken', fromLink);
  const lang = new URLSearchParams(location.search).get('lang');
  history.replaceState(null, '', location.pathname + (lang ? `?lang=${encodeURIComponent(lang)}` : ''));
}
// In a court platform's page (the SDK's iframe), the platform's page hands the token over.
const token = fromLink ?? (embedded ? await tokenFromHost() : sessionStorage.getItem('hearingToken'));
if (!token) {
  ui.setStatus('app.noToken');
  update({ phase: 'hearing' });
  render(h(App, null), document.getElementById('app')!);
  throw new Error('missing token');
}
/** The role named in the token (shown before joining; the server checks the token itself). */
const role = ((): string => {
  try {
    return (JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { role?: string }).role ?? '';
  } catch {
    return '';
  }
})();

const signaling = new SignalingClient(token, { autoConnect: false });
const session = new Session(signaling);
const { socket } = signaling;
let lastError = '';

const start = (why: string): void => {
  ui.setStatus('status.joining');
  session.start().then(
    () => {
      console.info(`[hearing] ${why}: in the hearing (${session.resumes} resumes, ${session.joins} joins)`);
      if (session.self)
        tellHost('joined', {
          participantId: session.self.participantId,
          role: session.self.role,
          hearingId: getState().hearingId,
          state: session.hearingState,
          waiting: getState().waitingApart !== false,
        });
    },
    (error: Error) => {
      lastError = `${why}: ${error.message}`;
      console.info(`[hearing] ${lastError}`);
      tellHost('error', { code: error instanceof SignalingError ? error.code : 'join_failed', message: error.message });
      ui.setStatus('status.joinFailed', { error: error.message });
      if (!(error instanceof SignalingError) || error.code !== 'forbidden') setTimeout(() => socket.connected && start('retry'), 2000);
    },
  );
};

setActions({
  session,
  signaling,
  token,
  join: (stream) => {
    if (stream) session.useStream(stream);
    update({ phase: 'hearing' });
    void navigator.mediaDevices
      ?.enumerateDevices()
      .then((all) => update({ cameras: all.filter((d) => d.kind === 'videoinput').length }))
      .catch(() => undefined);
    socket.connect();
  },
});
// Someone who only watches has no devices to check (decided before the first render: a viewer's page
// never asks for a camera).
if (role === 'viewer') update({ phase: 'hearing' });
render(h(App, null), document.getElementById('app')!);
if (role === 'viewer') socket.connect();

// A page sent on by its hearing's new node (cluster mode: the node it was on was lost) joins at once: the
// person already checked their devices and was in the hearing.
if (movedHere && role !== 'viewer') actions().join(null);
findMovedHearing({ socket, token, doors: () => session.doors });

// Every (re)connect — first join, network drop, server restart — runs the whole join again.
socket.on('connect', () => {
  update({ reconnecting: false, refused: null });
  start('connect');
});
socket.on('disconnect', (reason) => {
  console.info(`[hearing] disconnected: ${reason}`);
  // A connection that dropped keeps the media as they are: the server holds them a while for the page to
  // resume (HEARING_RECONNECT_GRACE_S). A goodbye from either side drops them.
  if (reason === 'io client disconnect' || reason === 'io server disconnect') session.teardown();
  else session.suspend();
  tellHost('left', { reason });
  lastError = `disconnected: ${reason}`;
  // The server ended the connection (removed, replaced, hearing closed): that is said instead; no banner.
  if (reason !== 'io client disconnect' && reason !== 'io server disconnect') update({ reconnecting: true });
});
/** Refusals at connection that the page says in its own words (i18n `refused.*`). */
const REFUSALS = new Set([
  'in_a_call',
  'hearing_closed',
  'identity_refused',
  'elsewhere',
  'token_expired',
  'token_invalid',
  'too_many_failures',
]);
socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
  lastError = error.message;
  tellHost('error', { code: error.data?.code ?? 'cannot_connect', message: error.message });
  // A refusal the server names is said in the page's language; anything else with the server's words.
  const code = error.data?.code;
  if (code && REFUSALS.has(code)) {
    ui.setStatus(`refused.${code}`);
    update({ refused: `refused.${code}` });
  } else ui.setStatus('status.cannotConnect', { error: error.message });
  if (error.data?.code?.startsWith('token') || error.data?.code === 'hearing_closed' || error.data?.code === 'identity_refused')
    socket.disconnect();
});
socket.on('replaced', () => ui.setStatus('status.replaced'));
// Cluster: this node gave the hearing up (another took it over); findMovedHearing takes the page there.
socket.on('moved', () => ui.setStatus('status.moved'));
// A witness called in joins the courtroom; sent back, they join the waiting area again.
socket.on('calledIn', () => start('called in'));
socket.on('sentToWait', () => start('sent to wait'));
socket.on('witness', ({ participantId, waiting }: { participantId: string; waiting: boolean }) =>
  update((st) =>
    st.people[participantId] ? { people: { ...st.people, [participantId]: { ...st.people[participantId]!, waiting } } } : {},
  ),
);
socket.on('mediaReset', () => start('media reset'));
socket.on('newProducer', (p) => {
  const done = p.consultationId ? session.consultation?.consume(p) : session.consume(p);
  void done?.catch((e: Error) => (lastError = e.message));
});
socket.on('consultationOpened', ({ consultationId, with: withId }: { consultationId: string; with: string }) => {
  void session.enterConsultation(consultationId, withId).catch((e: Error) => (lastError = e.message));
});
socket.on('consultationInvited', ({ consultationId, from }: { consultationId: string; from: string }) =>
  session.invited(consultationId, from),
);
socket.on(
  'consultationClosed',
  ({ consultationId, reason }: { consultationId: string; reason: string }) => void session.leftConsultation(consultationId, reason),
);
socket.on('consumerClosed', ({ consumerId }) => session.closeConsumer(consumerId));
socket.on('participantJoined', (p) => session.participantJoined(p));
socket.on('participantLeft', ({ participantId }) => session.participantLeft(participantId));
// Their connection dropped: shown offline, their picture and sound kept for when they come back.
socket.on('participantOffline', ({ participantId }: { participantId: string }) => ui.setOnline(participantId, false));
// Leaving the page says goodbye, so the server does not wait for this participant to come back.
addEventListener('pagehide', () => socket.connected && socket.disconnect());
addEventListener('pageshow', (e) => e.persisted && socket.connect());
socket.on('stateChanged', ({ state, allowedTransitions }) => {
  session.onState(state, allowedTransitions);
  tellHost('stateChanged', { state });
});
socket.on('transcriptFrozen', ({ version, message }: Frozen) => {
  session.frozen = { version, message };
  update({ frozen: { version, message } });
});
socket.on('transcriptSigned', (s: Signed) =>
  update((st) => ({ signatures: [...st.signatures, { participantId: s.participantId, version: s.version, valid: s.valid }] })),
);
socket.on('evidenceAdded', (e: { evidenceId: string; uploadedBy: string; width: number; height: number }) =>
  update((st) =>
    st.evidence.some((x) => x.id === e.evidenceId)
      ? {}
      : { evidence: [...st.evidence, { id: e.evidenceId, uploadedBy: e.uploadedBy, width: e.width, height: e.height }] },
  ),
);
socket.on('courtMute', ({ participantId, muted }: { participantId: string; muted: boolean }) => {
  update((st) => ({
    courtMuted: muted ? [...new Set([...st.courtMuted, participantId])] : st.courtMuted.filter((p) => p !== participantId),
    // The judge's mute turns the microphone button off; lifting it turns it back on.
    ...(participantId === st.self?.participantId ? { micOn: !muted } : {}),
  }));
  // The page follows: the local microphone track off while muted, on again (and resumed) after.
  if (participantId === session.self?.participantId) void session.setSending('audio', !muted).catch((e: Error) => (lastError = e.message));
});
socket.on('courtMedia', (m: CourtMedia) => update({ courtMedia: m }));
socket.on('quality', ({ participantId, quality }: { participantId: string; quality: string }) =>
  update((st) => ({ quality: { ...st.quality, [participantId]: quality } })),
);
socket.on('alert', (a: Alert) => update((st) => ({ alerts: [a, ...st.alerts].slice(0, 20) })));
socket.on('evidencePlaced', (e: Evidence) =>
  update((st) => ({ evidence: st.evidence.map((x) => (x.id === e.id ? { ...x, afterSegmentId: e.afterSegmentId } : x)) })),
);
socket.on('transcript', (line: transcript.Line) => {
  transcript.line(line);
  tellHost('transcript', {
    id: line.id,
    participantId: line.participantId,
    speakerName: line.speakerName,
    role: line.role,
    start: line.start,
    text: line.text,
  });
});
socket.on('transcriptUpdated', (line: transcript.Line) => transcript.line(line));
socket.on('transcriptPartial', (p: { participantId: string; text: string }) => transcript.partial(p));
socket.on('transcriptAnnotated', (n: transcript.Note) => transcript.note(n));
socket.on('identity', (n: ui.IdentityNotice) => {
  ui.showIdentity(n);
  tellHost('identity', { participantId: n.participantId, status: n.status, distance: n.distance, alert: n.alert ?? null });
});
socket.on('removed', ({ reason }: { reason: string }) => {
  ui.setStatus('status.removed', { reason });
  tellHost('left', { reason });
});
socket.on('activeSpeaker', ({ participantId }) => ui.setSpeaker(participantId));
// The server cannot get this page's sound whole: the camera steps down for it (and back up later).
socket.on('uplink', ({ level }: { level: 0 | 1 | 2 }) => void session.setUplink(level));

/** Hooks for automated tests and embedding platforms. */
const hearingClient = {
  stats: () => session.stats(),
  /** What the camera sends, per simulcast layer: frames, size, and why the browser holds it back. */
  sent: () => session.sent(),
  /** How each transport reaches the server (direct or relayed through TURN, and over what). */
  paths: () => session.paths(),
  state: () => ({
    connected: socket.connected,
    joined: session.joined,
    joins: session.joins,
    resumes: session.resumes,
    iceRestarts: session.iceRestarts,
    /** The camera's step-down for the sound's sake (0 both layers, 1 the small one, 2 the small one slowed). */
    uplinkLevel: session.uplinkLevel,
    /** Received cameras asked for in their small layer because this page lost much of them. */
    downlinkReduced: session.downlinkReduced(),
    transports: session.transportIds(),
    self: session.self,
    hearingState: session.hearingState,
    lastError,
    ...session.counts(),
  }),
  request: (event: string, data?: unknown) =>
    signaling.request(event, data).then(
      (result) => ({ result }),
      (error: SignalingError) => ({ error: { code: error.code, message: error.message } }),
    ),
  signTranscript: () => session.signTranscript().catch((error: Error) => ({ valid: false, reason: error.message })),
  /** The latest identity result per participant (judge and clerk only receive them). */
  identities: () => getState().identities,
  /** Test fault injection: sends this track instead of the camera (a canvas, a track that will die). */
  switchCamera: (track: MediaStreamTrack) => session.switchCamera(track),
  /** The open consultation's id, if any (consultations are asked for, accepted and ended with the buttons). */
  consultationId: () => session.consultation?.id ?? null,
  consultationStats: () => session.consultation?.stats() ?? Promise.resolve([]),
  publish: () =>
    session.publish().then(
      () => 'published',
      (error: Error) => `refused: ${error.message}`,
    ),
};
(window as unknown as { hearingClient: typeof hearingClient }).hearingClient = hearingClient;
