#!/usr/bin/env bash
# The README's main command: sets everything up (packages, build, weights), then runs the whole
# job — `microsr pipeline` — on synthetic microscope frames and says where the report is.
#
# The frames are made by `microsr synth` (deterministic: the same bytes on every machine): four
# 10X fields (480×360, to detect disks in, fine-tune on and evaluate on) and the same four fields at
# 4X (192×144, with their true ×4 render), small enough that 2 CPU cores finish in minutes. The
# pipeline runs its `demo` preset: a 2-epoch fine-tune, which the report labels as such. On a GPU,
# `microsr pipeline --preset seed` runs the seed's recipe (50 epochs) on real data.
# Rerunning skips what is done; an interrupted run continues where it stopped.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MICROSR_BUILD_DIR:-$repo/build}"
"$repo/tools/setup.sh"
"$repo/tools/fetch_weights.sh"
export MICROSR_MODELS="${MICROSR_MODELS:-$repo/models}"
out="$repo/out/demo"
frames="$out/frames"
if [ ! -f "$frames/fourx/field_003_4x_truth4x.tif" ]; then
  "$build/microsr" synth -o "$frames/tenx" --mag 10x --count 4 --width 480 --height 360 --seed 3
  "$build/microsr" synth -o "$frames/fourx" --mag 4x --count 4 --width 192 --height 144 --seed 3 --truth-scale 4
fi
"$build/microsr" pipeline --tenx "$frames/tenx" --fourx "$frames/fourx" -o "$out/run" --preset demo \
  --eval-fraction 0.25
echo "demo: the report is $out/run/report.html (run.json beside it has each stage's time)"
