#!/usr/bin/env bash
# Builds mediasoup's C++ worker from the source shipped in node_modules/mediasoup/worker against
# Debian's system libraries (no downloads), caches it per mediasoup version, and installs it where
# mediasoup looks for it. See ../shared/FEASIBILITY.md for why (offline machine, mediasoup 3.12.16).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ms="$root/node_modules/mediasoup"
version="$(node -p "require('$ms/package.json').version")"
default_cache=/var/cache/hearing-media-core
[ "$(id -u)" -eq 0 ] || default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/hearing-media-core"
# HEARING_NACK_RETRIES: how many times the worker asks a sender again for a lost packet (mediasoup's
# MaxNackRetries in RTC/NackGenerator.cpp, 10). Another value builds (and caches) another binary;
# HEARING_WORKER_OUT installs it there instead of where mediasoup looks (a benchmark's second worker).
nack="${HEARING_NACK_RETRIES:-10}"
[[ "$nack" =~ ^[0-9]+$ && "$nack" -ge 1 && "$nack" -le 255 ]] || { echo "HEARING_NACK_RETRIES must be 1-255" >&2; exit 1; }
suffix=""
[ "$nack" = 10 ] || suffix="-nack$nack"
# Our fixes to the worker's source (scripts/mediasoup-patches, each saying why): applied to every build;
# the cache is keyed by them, so a changed patch builds again.
patches=("$root"/scripts/mediasoup-patches/*.patch)
patched="$(cat "${patches[@]}" | sha256sum | cut -c1-10)"
cache="${HEARING_CACHE_DIR:-$default_cache}/mediasoup-worker-$version$suffix-p$patched"
bin="$cache/mediasoup-worker"
dest="${HEARING_WORKER_OUT:-$ms/worker/out/Release/mediasoup-worker}"

if [ ! -x "$bin" ]; then
  echo "[build-worker] building mediasoup-worker $version, MaxNackRetries $nack, ${#patches[@]} patch(es) $patched (about 6 minutes on 2 cores)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r "$ms/worker" "$work/worker"
  w="$work/worker"
  if [ "$nack" != 10 ]; then
    sed -i "s/MaxNackRetries{ 10u }/MaxNackRetries{ ${nack}u }/" "$w/src/RTC/NackGenerator.cpp"
    grep -q "MaxNackRetries{ ${nack}u }" "$w/src/RTC/NackGenerator.cpp" || { echo "[build-worker] MaxNackRetries not found to patch" >&2; exit 1; }
  fi
  for p in "${patches[@]}"; do
    patch -s -p1 -d "$w" < "$p" || { echo "[build-worker] $p does not apply to mediasoup $version" >&2; exit 1; }
  done
  # Debian bookworm ships meson 1.0.1; the worker builds fine with it.
  sed -i "s/meson_version: '>= 1.1.0'/meson_version: '>= 1.0.0'/" "$w/meson.build"
  shim() { # <wrap name> <meson.build body> [meson_options.txt body]
    local dir
    dir="$w/subprojects/$(sed -n 's/^directory *= *//p' "$w/subprojects/$1.wrap")"
    mkdir -p "$dir"
    : > "$dir/empty.c"
    printf '%s\n' "$2" > "$dir/meson.build"
    [ $# -lt 3 ] || printf '%s\n' "$3" > "$dir/meson_options.txt"
  }
  shim openssl "project('openssl', 'c')
openssl_dep = dependency('openssl')
libcrypto_lib = static_library('crypto_shim', 'empty.c')
libssl_lib = static_library('ssl_shim', 'empty.c')"
  shim nlohmann_json "project('nlohmann_json', 'c')
nlohmann_json_dep = dependency('nlohmann_json')"
  shim libuv "project('libuv', 'c')
libuv_dep = dependency('libuv')
libuv = static_library('uv_shim', 'empty.c')" "option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)"
  shim libsrtp2 "project('libsrtp2', 'c')
d = dependency('libsrtp2')
libsrtp2_dep = declare_dependency(dependencies: d, compile_args: ['-I' + d.get_variable(pkgconfig: 'includedir') + '/srtp2'])
libsrtp2 = static_library('srtp2_shim', 'empty.c')" "option('crypto-library', type: 'string', value: 'openssl')
option('crypto-library-kdf', type: 'string', value: 'disabled')
option('tests', type: 'string', value: 'disabled')"
  shim usrsctp "project('usrsctp', 'c')
usrsctp_dep = dependency('usrsctp')
usrsctp = static_library('usrsctp_shim', 'empty.c')" "option('sctp_build_programs', type: 'boolean', value: false)"
  shim abseil-cpp "project('abseil-cpp', 'c', 'cpp')
absl_container_dep = dependency('absl_flat_hash_map', 'absl_flat_hash_set', 'absl_node_hash_map', 'absl_node_hash_set')
absl_strings_dep = dependency('absl_strings')
absl_types_dep = dependency('absl_optional', 'absl_variant', 'absl_span')
absl_container_lib = static_library('absl_shim', 'empty.c')"
  shim catch2 "project('catch2', 'cpp')
catch2_dep = dependency('catch2', required: false)"
  (cd "$w" && meson setup "$work/build" --buildtype=release >"$work/meson.log" 2>&1) || { cat "$work/meson.log"; exit 1; }
  ninja -C "$work/build" mediasoup-worker
  mkdir -p "$cache"
  install -m 0755 "$work/build/mediasoup-worker" "$bin.tmp"
  mv "$bin.tmp" "$bin"
else
  echo "[build-worker] cached mediasoup-worker $version: $bin"
fi
mkdir -p "$(dirname "$dest")"
if ! cmp -s "$bin" "$dest" 2>/dev/null; then install -m 0755 "$bin" "$dest"; fi
