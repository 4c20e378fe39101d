#!/usr/bin/env bash
# The README's main command: sets everything up (packages, build, weights), then upscales the
# bundled sample image ×4 with RealESRGAN_x4plus on the CPU and says where the result went.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MICROSR_BUILD_DIR:-$repo/build}"
"$repo/tools/setup.sh"
"$repo/tools/fetch_weights.sh"
export MICROSR_MODELS="${MICROSR_MODELS:-$repo/models}"
mkdir -p "$repo/out"
"$build/microsr" info
"$build/microsr" upscale "$repo/tests/data/samples/microdisk_96.png" -o "$repo/out/microdisk_96_x4.png" --overwrite
echo "demo: the ×4 result is $repo/out/microdisk_96_x4.png"
