#!/usr/bin/env bash
# Regenerates tests/data/samples/synth/: the bundled sample field the README's main command uses,
# a 256×192 crop-sized 4X frame of chip seed 1, field 0, with its ground truth, and the same field
# rendered at 4× the pixel density (1024×768, noise-free) as the truth for judging ×4 SR.
# tests/test_synth.cpp (Synth.SampleMatchesTheGenerator) checks the sample against the code.
#
# Usage: tools/make_synth_samples.sh [path/to/microsr]   (default: build/microsr)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
program="${1:-$repo/build/microsr}"
out="$repo/tests/data/samples/synth"
mkdir -p "$out"
"$program" synth -o "$out" --mag 4x --width 256 --height 192 --seed 1 --truth-scale 4
ls -l "$out"
