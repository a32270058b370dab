// What runs inside each participant's page, the same for both systems (strings, evaluated in the page:
// a function passed from here would carry the TypeScript loader's helpers, which the page does not have).
//
// The camera: a 640x480 canvas at 24 fps whose bottom rows carry the wall clock in milliseconds (24 bits,
// black or white boxes, and below them the same bits inverted, so a frame smeared by the encoder is not
// read as a wrong time), captured as a track. The reader: for every remote <video> the page shows, each
// presented frame's barcode against the clock when it is presented (glass-to-glass: capture, encode,
// the SFU, jitter buffer, decode, render), the frame rate, freezes (more than 500 ms between two frames),
// and when the first frame came.

export const BITS = 24;
export const FPS = 24;

/** Defines `window.barcodeCamera()`: a MediaStreamTrack of the barcode canvas, drawn FPS times a second. */
export const CAMERA_JS = `
window.barcodeCamera = () => {
  const canvas = Object.assign(document.createElement('canvas'), { width: 640, height: 480 });
  const g = canvas.getContext('2d');
  let n = 0;
  const draw = () => {
    n++;
    // Moving content, so that the encoder has something to encode (a still picture costs nothing).
    const grad = g.createLinearGradient((n * 7) % 640, 0, 640 - ((n * 5) % 640), 430);
    grad.addColorStop(0, 'hsl(' + ((n * 3) % 360) + ',70%,45%)');
    grad.addColorStop(1, 'hsl(' + ((n * 3 + 180) % 360) + ',70%,45%)');
    g.fillStyle = grad;
    g.fillRect(0, 0, 640, 430);
    g.fillStyle = '#fff';
    g.font = '48px sans-serif';
    g.fillText(String(n), 40 + ((n * 4) % 400), 200);
    const code = Date.now() % ${2 ** BITS};
    g.fillStyle = '#000';
    g.fillRect(0, 430, 640, 50);
    for (let k = 0; k < ${BITS}; k++) {
      const bit = (code >> k) & 1;
      g.fillStyle = bit ? '#fff' : '#000';
      g.fillRect(4 + k * 26, 432, 22, 22);
      g.fillStyle = bit ? '#000' : '#fff';
      g.fillRect(4 + k * 26, 456, 22, 22);
    }
  };
  draw();
  setInterval(draw, ${Math.round(1000 / FPS)});
  return canvas.captureStream(${FPS}).getVideoTracks()[0];
};
`;

/**
 * Defines `window.peerReader`: `start(selector)` watches every <video> matching `selector` (now and later),
 * `report()` returns what it measured per video since `reset()`.
 */
export const READER_JS = `
window.peerReader = (() => {
  const watched = new Map();
  // The page's main thread: tasks over 50 ms (the reader runs there too, and so does the camera's drawing,
  // so a busy page delays both the barcode drawn and the barcode read).
  const longTasks = [];
  new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => ({ at: e.startTime, ms: e.duration })))).observe({
    type: 'longtask',
    buffered: true,
  });
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d', { willReadFrequently: true });
  let since = performance.now();
  const read = (video) => {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return undefined;
    if (canvas.width !== w || canvas.height !== h) Object.assign(canvas, { width: w, height: h });
    g.drawImage(video, 0, 0);
    const s = h / 480;
    const row = g.getImageData(0, Math.round(443 * s), w, Math.round(24 * s) + 1).data;
    const px = (x, dy) => row[(Math.round(dy * s) * w + Math.round(x * s)) * 4];
    let code = 0;
    for (let k = 0; k < ${BITS}; k++) {
      const top = px(4 + k * 26 + 11, 0), bottom = px(4 + k * 26 + 11, 24);
      if ((top > 128) === (bottom > 128)) return undefined; // smeared: not a clean read
      if (top > 128) code |= 1 << k;
    }
    return code;
  };
  const watch = (video) => {
    if (watched.has(video)) return;
    const entry = { frames: 0, reads: [], gaps: [], firstAt: undefined, last: undefined };
    watched.set(video, entry);
    const onFrame = () => {
      const now = performance.now();
      if (entry.firstAt === undefined) entry.firstAt = performance.timeOrigin + now;
      if (now >= since) {
        entry.frames++;
        if (entry.last !== undefined) entry.gaps.push(now - entry.last);
        const code = read(video);
        if (code !== undefined) {
          const clock = Date.now() % ${2 ** BITS};
          entry.reads.push((clock - code + ${2 ** BITS}) % ${2 ** BITS});
        }
      }
      entry.last = now;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  return {
    start(selector) {
      const scan = () => document.querySelectorAll(selector).forEach(watch);
      scan();
      new MutationObserver(scan).observe(document.body, { subtree: true, childList: true });
    },
    reset() {
      since = performance.now();
      for (const e of watched.values()) Object.assign(e, { frames: 0, reads: [], gaps: [] });
    },
    report() {
      const seconds = (performance.now() - since) / 1000;
      return [...watched.values()].map((e) => ({
        seconds,
        frames: e.frames,
        latencies: e.reads,
        freezes: e.gaps.filter((x) => x > 500).length,
        frozenMs: e.gaps.filter((x) => x > 500).reduce((a, b) => a + b, 0),
        firstAt: e.firstAt,
        longTaskMs: longTasks.filter((t) => t.at >= since).reduce((a, t) => a + t.ms, 0),
      }));
    },
  };
})();
`;

/** What one page's reader reports per remote video. */
export interface VideoReading {
  seconds: number;
  frames: number;
  latencies: number[];
  freezes: number;
  frozenMs: number;
  firstAt?: number;
  /** The page's main thread in tasks over 50 ms since the reset (the same for every video of a page). */
  longTaskMs: number;
}
