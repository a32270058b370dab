import { SignalingClient, SignalingError } from './signaling.ts';
import { Session } from './session.ts';
import * as ui from './ui.ts';

// The token leaves the address bar (and so the history and any Referer) as soon as the page has it; a
// reload of this tab finds it in the tab's session storage.
const fromLink = new URLSearchParams(location.search).get('token');
if (fromLink) {
  sessionStorage.setItem('hearingToken', fromLink);
  history.replaceState(null, '', location.pathname);
}
const token = fromLink ?? sessionStorage.getItem('hearingToken');
if (!token) {
  ui.setStatus('no token in the link');
  throw new Error('missing token');
}

const signaling = new SignalingClient(token);
const session = new Session(signaling);
const { socket } = signaling;
let lastError = '';

const start = (why: string): void => {
  ui.setStatus(`joining (${why})`);
  session.start().catch((error: Error) => {
    lastError = error.message;
    ui.setStatus(`join failed: ${error.message}`);
    if (!(error instanceof SignalingError) || error.code !== 'forbidden') setTimeout(() => socket.connected && start('retry'), 2000);
  });
};

// Every (re)connect — first join, network drop, server restart — runs the whole join again.
socket.on('connect', () => start('connect'));
socket.on('disconnect', (reason) => {
  session.teardown();
  ui.setStatus(`disconnected (${reason}), reconnecting`);
});
socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
  lastError = error.message;
  ui.setStatus(`cannot connect: ${error.message}`);
  if (error.data?.code?.startsWith('token') || error.data?.code === 'hearing_closed' || error.data?.code === 'identity_refused')
    socket.disconnect();
});
socket.on('replaced', () => ui.setStatus('opened in another window'));
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
socket.on('stateChanged', ({ state, allowedTransitions }) => session.onState(state, allowedTransitions));
socket.on('transcriptFrozen', ({ version, message }) => (session.frozen = { version, message }));
const identities = new Map<string, ui.IdentityNotice>();
socket.on('identity', (n: ui.IdentityNotice) => {
  identities.set(n.participantId, n);
  ui.showIdentity(n, (decision) => {
    const reason = decision === 'admit' ? 'admitted by the court after review' : 'refused by the court after review';
    void signaling
      .request('identityDecision', { participantId: n.participantId, decision, reason })
      .catch((e: Error) => (lastError = e.message));
  });
});
socket.on('removed', ({ reason }: { reason: string }) => ui.setStatus(`removed from the hearing: ${reason}`));
socket.on('activeSpeaker', ({ participantId }) => ui.setSpeaker(participantId));

/** Hooks for automated tests and embedding platforms. */
const hearingClient = {
  stats: () => session.stats(),
  state: () => ({
    connected: socket.connected,
    joined: session.joined,
    joins: session.joins,
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
  identities: () => Object.fromEntries(identities),
  /** Replaces the camera track being sent (a phone switching cameras) without a new producer. */
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
