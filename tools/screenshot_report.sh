#!/usr/bin/env bash
# Renders a report page in headless Chromium and saves a screenshot, to judge its layout in a real
# browser (not part of the test suite).
#   tools/screenshot_report.sh [PAGE.html [OUT.png]]
# Without PAGE, a sample report is made first from the test suite's hand-made study folders
# (ReportSample.WritesASampleReport in tests/test_report.cpp) into /tmp/microsr_report_sample/.
# OUT defaults to /tmp/report.png. WIDTH and HEIGHT (default 1280 × 4000) size the window; BUILD
# names the build folder (default build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
page="${1:-}"
out="${2:-/tmp/report.png}"
build="${BUILD:-build}"

browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || { echo "screenshot: chromium is missing (Debian: apt-get install -y chromium)" >&2; exit 2; }

if [ -z "$page" ]; then
  tests="$build/tests/microsr_tests"
  [ -x "$tests" ] || { echo "screenshot: $tests is missing; build first (cmake --build $build)" >&2; exit 2; }
  sample=/tmp/microsr_report_sample
  rm -rf "$sample" && mkdir -p "$sample"
  MICROSR_REPORT_SAMPLE_DIR="$sample" "$tests" --gtest_filter=ReportSample.WritesASampleReport >/dev/null
  page="$sample/report.html"
fi
[ -f "$page" ] || { echo "screenshot: no such page: $page" >&2; exit 2; }

# --no-sandbox: root in a container has no user namespace for the sandbox; the page runs no
# scripts. Chromium's complaints about D-Bus on a headless machine are noise and are dropped.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="${WIDTH:-1280},${HEIGHT:-4000}" --screenshot="$out" "file://$(realpath "$page")" 2>/dev/null
echo "screenshot: $out (of $page)"
