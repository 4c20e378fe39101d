#!/usr/bin/env bash
# Installs what microsr needs to build (Debian packages), then configures and builds it in
# build/ (override with MICROSR_BUILD_DIR). Idempotent: installs only what is missing and
# rebuilds only what changed. Extra arguments go to cmake's configure step.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MICROSR_BUILD_DIR:-$repo/build}"

packages=(cmake g++ make pkg-config zlib1g-dev libtiff-dev libstb-dev libgtest-dev libbenchmark-dev
          python3 python3-pip ca-certificates curl)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# nvcc is not on PATH by default on Debian; the standard CUDA location is probed by CMake.
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
echo "setup: built $build/microsr" >&2
