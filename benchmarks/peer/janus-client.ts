// The participant's page on Janus: Debian's janus.js (1.x) and adapter.js, served with this page by the
// benchmark. It joins the VideoRoom as a publisher, sends the microphone and the barcode camera
// (`page.ts`) as VP8 simulcast in the same two layers as our client (640x480 up to 900 kbit/s, 320x240 up
// to 200 kbit/s), and subscribes to every other publisher, present and later, each remote video in a
// <video class="remote">.
import { CAMERA_JS, READER_JS } from './page.ts';

export const JANUS_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>janus participant</title>
<script src="/adapter.js"></script>
<script src="/janus.js"></script>
<script>${CAMERA_JS}</script>
<script>${READER_JS}</script>
<script>
window.joinJanus = (server, room, display) => new Promise((resolve, reject) => {
  const subscribed = new Set();
  let janus, myId, privateId;
  const subscribe = (publishers) => {
    for (const p of publishers) {
      if (p.id === myId || subscribed.has(p.id)) continue;
      subscribed.add(p.id);
      let sub;
      janus.attach({
        plugin: 'janus.plugin.videoroom',
        success: (handle) => {
          sub = handle;
          sub.send({ message: { request: 'join', ptype: 'subscriber', room, private_id: privateId, streams: [{ feed: p.id }] } });
        },
        error: (e) => console.error('subscriber attach', e),
        onmessage: (msg, jsep) => {
          if (msg.error) console.error('subscriber', msg.error);
          if (jsep)
            sub.createAnswer({
              jsep,
              tracks: [{ type: 'data' }],
              success: (answer) => sub.send({ message: { request: 'start', room }, jsep: answer }),
              error: (e) => console.error('answer', e),
            });
        },
        onremotetrack: (track, mid, on) => {
          const id = 'remote-' + p.id + '-' + mid;
          const old = document.getElementById(id);
          if (!on) { old?.remove(); return; }
          if (old) return; // janus.js reports a track twice as it is added
          const el = document.createElement(track.kind === 'video' ? 'video' : 'audio');
          Object.assign(el, { id, autoplay: true, playsInline: true, muted: track.kind === 'video' });
          if (track.kind === 'video') el.className = 'remote';
          el.srcObject = new MediaStream([track]);
          document.body.appendChild(el);
        },
      });
    }
  };
  Janus.init({
    debug: false,
    callback: () => {
      janus = new Janus({
        server,
        error: (e) => reject(new Error('janus: ' + e)),
        success: () => {
          let pub;
          janus.attach({
            plugin: 'janus.plugin.videoroom',
            error: (e) => reject(new Error('attach: ' + e)),
            success: (handle) => {
              pub = handle;
              pub.send({ message: { request: 'join', ptype: 'publisher', room, display } });
            },
            onmessage: (msg, jsep) => {
              if (msg.error) reject(new Error('videoroom: ' + msg.error));
              if (msg.videoroom === 'joined') {
                myId = msg.id;
                privateId = msg.private_id;
                navigator.mediaDevices.getUserMedia({ audio: true }).then((stream) => {
                  pub.createOffer({
                    tracks: [
                      { type: 'audio', capture: stream.getAudioTracks()[0], recv: false },
                      {
                        type: 'video',
                        capture: window.barcodeCamera(),
                        recv: false,
                        simulcast: true,
                        sendEncodings: [
                          { rid: 'h', active: true, maxBitrate: 900000 },
                          { rid: 'l', active: true, maxBitrate: 200000, scaleResolutionDownBy: 2 },
                        ],
                      },
                    ],
                    success: (offer) => pub.send({ message: { request: 'configure', audio: true, video: true }, jsep: offer }),
                    error: (e) => reject(new Error('offer: ' + e)),
                  });
                }, reject);
                subscribe(msg.publishers || []);
              } else if (msg.publishers) subscribe(msg.publishers);
              if (jsep) pub.handleRemoteJsep({ jsep });
              if (msg.configured === 'ok') resolve(myId);
            },
          });
        },
      });
    },
  });
});
</script></head><body></body></html>`;
