// The public viewer: hls.js (bundled, no CDN) plays /live/<hearing>/index.m3u8, with a captions toggle
// and the stream's state (live, paused, ended, cut). Viewers never get a WebRTC transport.
import Hls from 'hls.js';

const hearingId = location.pathname.split('/').filter(Boolean).pop() ?? '';
const base = `/live/${hearingId}`;
const video = document.getElementById('player') as HTMLVideoElement;
const stateBadge = document.getElementById('state') as HTMLElement;
const note = document.getElementById('note') as HTMLElement;
const captionsButton = document.getElementById('captions') as HTMLButtonElement;
let state = 'loading';
let captions = false;
let error = '';
const seenCues: string[] = [];

// Close to the live edge (1 s segments): 1 s behind it, catching up by playing slightly faster.
const hls = new Hls({ liveSyncDuration: 1, liveMaxLatencyDuration: 5, maxLiveSyncPlaybackRate: 1.2, enableWebVTT: true });
// A fatal error does not leave the viewer on a frozen picture: hls.js's own recovery (a media error is
// recovered, and if it comes back within 5 s, recovered again with the other audio codec; a network
// error loads again). `recoveries` counts them; `error` keeps the last.
let recoveries = 0;
let lastMediaRecovery = 0;
hls.on(Hls.Events.ERROR, (_e, data) => {
  if (!data.fatal) return;
  error = `${data.type}: ${data.details}`;
  recoveries++;
  if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
    if (Date.now() - lastMediaRecovery < 5000) hls.swapAudioCodec();
    lastMediaRecovery = Date.now();
    hls.recoverMediaError();
  } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
    setTimeout(() => hls.startLoad(), 1000);
  } else {
    setTimeout(() => location.reload(), 2000);
  }
});
hls.loadSource(`${base}/index.m3u8`);
hls.attachMedia(video);
hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => undefined));

function setCaptions(on: boolean): void {
  captions = on;
  hls.subtitleTrack = on ? 0 : -1;
  hls.subtitleDisplay = on;
  captionsButton.textContent = `Captions: ${on ? 'on' : 'off'}`;
}
captionsButton.onclick = () => setCaptions(!captions);

// Cues as they become active (for people: on screen; for tests: readable).
setInterval(() => {
  for (const track of Array.from(video.textTracks)) {
    for (const cue of Array.from(track.activeCues ?? [])) {
      const text = (cue as VTTCue).text;
      if (!seenCues.includes(text)) seenCues.push(text);
    }
  }
}, 250);

async function pollStatus(): Promise<void> {
  try {
    const response = await fetch(`${base}/status.json`, { cache: 'no-store' });
    if (response.ok) state = ((await response.json()) as { state: string }).state;
    else state = 'unavailable';
  } catch {
    state = 'unavailable';
  }
  stateBadge.textContent = state;
  stateBadge.dataset.state = state;
  note.textContent = state === 'paused' ? 'The hearing is paused.' : state === 'ended' || state === 'cut' ? 'The stream has ended.' : '';
}
setInterval(() => void pollStatus(), 2000);
void pollStatus();

/** For automated tests and embedding pages. */
(window as unknown as { watchClient: unknown }).watchClient = {
  state: () => ({
    state,
    captions,
    currentTime: video.currentTime,
    paused: video.paused,
    error,
    recoveries,
    width: video.videoWidth,
    height: video.videoHeight,
  }),
  captions: (on: boolean) => setCaptions(on),
  cues: () => [...seenCues],
};
