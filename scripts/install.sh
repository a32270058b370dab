#!/usr/bin/env bash
# Installs everything the hearing media core needs on a Debian 12 + Node 20 machine (root),
# offline-capable: Debian packages, npm packages, the mediasoup worker built from source, the browser
# client bundle. Idempotent and quick when everything is already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

apt_pkgs=(
  # mediasoup worker build (see scripts/build-worker.sh)
  meson ninja-build patch pkg-config libuv1-dev libssl-dev libsrtp2-dev libusrsctp-dev libabsl-dev nlohmann-json3-dev catch2
  # media tools, the offline speech engine with its English model and test speech, the test browser
  ffmpeg pocketsphinx pocketsphinx-en-us pocketsphinx-testdata espeak-ng chromium fonts-dejavu-core
  # Chinese glyphs for what the server draws itself (the program's labels and slates) and for the test browser
  fonts-wqy-zenhei
  # HTTPS (the self-signed certificate is made with openssl), TURN (coturn, run by the server with
  # HEARING_TURN=embedded), and the firewall inside the reach test's network namespace
  openssl coturn nftables
  # the reverse proxy of docs/deploy.md, run by test/proxy.test.ts
  nginx
  # the peer SFU of `npm run bench -- peer` (VideoRoom), with its own JavaScript client and the adapter it needs
  janus libjs-janus-gateway libjs-webrtc-adapter
  # the SIP terminal the SIP gateway's tests dial from (test/sip-baresip.test.ts), with its H.264 camera
  baresip-core baresip-ffmpeg
  # the SIP proxy in front of the gateway (docs/kamailio.cfg, run by test/sip-kamailio.test.ts)
  kamailio
  # the cluster's shared state and store (HEARING_REDIS_URL, HEARING_DATABASE_URL; the tests start their
  # own on loopback ports, PostgreSQL as the postgres user in a temp dir)
  redis-server postgresql
  # the IP camera the courtroom-camera test pulls from (GStreamer's RTSP server, run from Python)
  gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install] apt: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages, exactly as locked. MEDIASOUP_WORKER_BIN makes mediasoup's postinstall skip its own
# (online) worker build. `npm install --no-save` rather than `npm ci`: the registry here lacks some
# other-platform optional packages (rollup's), which npm ci insists on finding in the lock file.
stamp="node_modules/.hearing-install-stamp"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[install] npm packages"
  MEDIASOUP_WORKER_BIN=/nonexistent npm install --no-save --no-audit --no-fund
  echo "$want" > "$stamp"
fi

bash scripts/build-worker.sh
node client-demo/build.mjs
