# Shared by the repo's helper scripts: installs the pinned toolchain and puts it on PATH.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

apt_install() {
  # Installs Debian packages that are missing; a no-op when all are present.
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_node_toolchain() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  # Reinstall only when package-lock.json changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
  # The real binaries, not node_modules/.bin: the npm launcher (bin.mjs) exits 0 even when the tool fails.
  local arch
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
  local tool
  for tool in forge anvil cast; do
    PATH="$ROOT/node_modules/@foundry-rs/$tool-linux-$arch/bin:$PATH"
  done
  export PATH="$PATH:$ROOT/node_modules/.bin"
}

ensure_rust_toolchain() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is required (Rust >= 1.94, e.g. from rustup); it is not on PATH" >&2
    exit 1
  fi
  if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
  fi
}

ensure_media_tools() {
  # ffmpeg/ffprobe (demux, decode, scale, libx264/libsvtav1 encode) and nasm (rav1e's assembly).
  command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 && command -v nasm >/dev/null 2>&1 \
    || apt_install ffmpeg nasm
}

ensure_browser() {
  # A headless browser for the web-page tests (agents/peerflow/tests/web.rs): Debian's chromium,
  # driven by playwright-core from node_modules (script/browser-check.mjs). Playwright's own
  # browser download is never used: the harness launches /usr/bin/chromium.
  [ -x /usr/bin/chromium ] || apt_install chromium
}

ensure_netns_tools() {
  # iproute2 for the recipes test (agents/peerflow/tests/recipes.rs): it runs the README's recipes
  # on three hosts made of network namespaces (`ip netns`, veth links; needs root).
  command -v ip >/dev/null 2>&1 || apt_install iproute2
}

ensure_docker() {
  # A Docker daemon for the runner (agents/runner): Debian's docker.io, and busybox-static, from
  # which the test images are built (FROM scratch: nothing is pulled). Starts dockerd in the
  # background when none answers, logging to /tmp/peerflow-dockerd.log, and waits for it.
  command -v dockerd >/dev/null 2>&1 && [ -x /usr/bin/busybox ] || apt_install docker.io busybox-static
  docker info >/dev/null 2>&1 && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "starting dockerd (log: /tmp/peerflow-dockerd.log)"
  $sudo sh -c 'nohup dockerd >/tmp/peerflow-dockerd.log 2>&1 &'
  local i
  for i in $(seq 1 30); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 20 /tmp/peerflow-dockerd.log >&2 || true
  echo "error: dockerd did not answer within 30 s (see /tmp/peerflow-dockerd.log)" >&2
  exit 1
}
