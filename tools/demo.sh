#!/usr/bin/env bash
# The README's main command: sets everything up (packages, build, weights), then upscales the
# bundled sample ×4 with RealESRGAN_x4plus on the CPU and says where the result went. The sample
# is a synthetic 4X microscope field made by `microsr synth` (tools/make_synth_samples.sh); its
# ground truth at 4× the pixel density lies beside it (field_000_4x_truth4x.tif).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MICROSR_BUILD_DIR:-$repo/build}"
"$repo/tools/setup.sh"
"$repo/tools/fetch_weights.sh"
export MICROSR_MODELS="${MICROSR_MODELS:-$repo/models}"
mkdir -p "$repo/out"
"$build/microsr" info
"$build/microsr" upscale "$repo/tests/data/samples/synth/field_000_4x.tif" -o "$repo/out/field_000_4x_x4.tif" --overwrite
echo "demo: the ×4 result is $repo/out/field_000_4x_x4.tif"
echo "      (compare it with the true high-resolution render: tests/data/samples/synth/field_000_4x_truth4x.tif)"
