#!/usr/bin/env bash
# The README's test command: sets everything up (packages, build, weights) and runs the test
# suite. Tests that need a CUDA device skip with a clear message when there is none. The slower
# fuzz and sanitizer run (by hand, not in CI) is tools/fuzz_and_sanitize.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MICROSR_BUILD_DIR:-$repo/build}"
"$repo/tools/setup.sh"
"$repo/tools/fetch_weights.sh"

# The independent references some tests run live: torch.load reads what our save_pth writes
# (Debian's python3-torch), the safetensors package reads what save_safetensors writes (PyPI),
# Pillow reads back the PNG/TIFF files our writers produce.
if ! /usr/bin/python3 -c "import torch, PIL" 2>/dev/null; then
  echo "test: installing python3-torch and python3-pil for the cross-checks" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    python3-torch python3-numpy python3-pil >/dev/null
fi
if ! python3 -c "import safetensors.numpy" 2>/dev/null; then
  python3 -m pip install -q safetensors numpy 2>/dev/null ||
    python3 -m pip install -q --break-system-packages safetensors numpy ||
    echo "test: could not install the safetensors package; its cross-check will be skipped" >&2
fi
export MICROSR_MODELS="${MICROSR_MODELS:-$repo/models}"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 900
