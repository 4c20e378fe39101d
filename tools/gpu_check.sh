#!/usr/bin/env bash
# tools/gpu_check.sh — one call on a lent GPU machine turns it into full verification of microsr's
# CUDA backend; docs/gpu_check.md says how to run it with the device tool.
#
#   tools/gpu_check.sh --prepare            here (internet): fill gpu_kit/ with what a bare GPU
#                                           machine lacks; prints the carry list (tools/gpu_prepare.sh)
#   tools/gpu_check.sh [--steps LIST]       there: build, tests, parity, torch, train, seed,
#                                           profile, bench, compile (default: all, in that order:
#                                           most telling first)
# options:
#   --steps a,b      steps to run; any later step builds first (incrementally) if it must
#   --dry-run        print what would run, run nothing
#   --simulate-cpu   a plumbing test without a GPU: every step runs on the CPU at tiny sizes;
#                    verdicts are shown as INFO and no figure means anything
#   --budget S       seconds this call may use (default 450: a 15-minute device session holds one such call, its machine start and a short follow-up);
#                    a step that would not fit is skipped with a note, so the table always prints
#   --build-dir D    (default build_gpu, git-ignored; kept between calls on a warm machine)
#   --out D          where the table, CSV, JSON and logs go (default $OUT, else ./gpu_check_out)
#   --kit-deps M     auto | all | none: build dependencies from gpu_kit/ (see tools/gpu_deps.sh)
# Sizes and repetitions can be changed through GPU_CHECK_* variables (docs/gpu_check.md).
# Exit status: 0 when no row of this call failed, 1 otherwise. The table is printed last.

# The whole script is one { … } block: bash reads it completely before running any of it, so an
# edit to this file while it runs cannot change what the running call does.
{
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 2
if [ "${1:-}" = "--prepare" ]; then shift; exec "$REPO/tools/gpu_prepare.sh" "$@"; fi

ALL_STEPS="build,tests,parity,torch,train,seed,profile,bench,compile"
STEPS="$ALL_STEPS" DRY=0 SIMULATE=0 STEPS_GIVEN=0
BUDGET="${GPU_CHECK_BUDGET_S:-450}"
BUILD="${GPU_CHECK_BUILD:-$REPO/build_gpu}"
OUTDIR="${OUT:-$REPO/gpu_check_out}"
KIT="${GPU_KIT:-$REPO/gpu_kit}"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS="${2/#all/$ALL_STEPS}"; STEPS_GIVEN=1; shift ;;
    --dry-run) DRY=1 ;;
    --simulate-cpu) SIMULATE=1 ;;
    --budget) BUDGET="$2"; shift ;;
    --build-dir) BUILD="$(mkdir -p "$2" && cd "$2" && pwd)"; shift ;;
    --out) OUTDIR="$2"; shift ;;
    --kit-deps) export GPU_CHECK_KIT_DEPS="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for s in ${STEPS//,/ }; do
  case ",$ALL_STEPS," in *",$s,"*) ;; *) echo "gpu_check: unknown step $s (steps: $ALL_STEPS)" >&2; exit 2 ;; esac
done

START=$SECONDS
CALL="$(date -u +%Y%m%dT%H%M%SZ)"
WORK="$BUILD/gpu_check"
LOGDIR="$WORK/logs"
RESULTS="$WORK/results.tsv"
HEADER="$WORK/header.txt"
mkdir -p "$LOGDIR" "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"

log() { echo "[gpu_check $(date -u +%H:%M:%S) +$((SECONDS - START))s] $*" | tee -a "$LOGDIR/gpu_check.log" >&2; }
left() { echo $((BUDGET - (SECONDS - START))); }
left_at_most() { local l; l=$(left); echo $((l < $1 ? l : $1)); }  # seconds: what is left, at most $1
# Appends one results row (see tools/gpu_report.py for the columns).
row() {  # step metric ours torch ratio target status note
  [ "$DRY" = 1 ] && return 0
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$CALL" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:-}" >>"$RESULTS"
}
# Runs a command with a time limit, its output in $LOGDIR/NAME.log (and $OUTDIR/current_step.log
# while it runs, so a call cut short still returns it). --dry-run only prints it.
runlog() {  # name seconds command...
  local name="$1" limit="$2"; shift 2
  if [ "$DRY" = 1 ]; then echo "  would run ($name, ≤${limit}s): $*"; return 0; fi
  [ "$limit" -lt 5 ] && limit=5
  echo "\$ $*" >"$LOGDIR/$name.log"
  timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOGDIR/$name.log" >"$OUTDIR/current_step.log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 124 ] && echo "TIMEOUT after ${limit}s" >>"$LOGDIR/$name.log"
  echo "[exit $rc]" >>"$LOGDIR/$name.log"
  return "$rc"
}
pack_out() {  # the table, CSV, JSON and a tarball of the logs under $OUTDIR (≤ 8 files)
  [ "$DRY" = 1 ] && return 0
  "$PY" tools/gpu_report.py export --results "$RESULTS" --out "$OUTDIR" --meta "card=${GPU_NAME:-none}" \
    --meta "compute_capability=$GPU_CC" --meta "driver=$GPU_DRIVER" --meta "commit=$COMMIT" \
    --meta "binaries=$([ "$BIN" = "$PREBUILT" ] && echo "prebuilt on the development machine" || echo "built on this machine")" \
    --meta "call=$CALL" --meta "torch=$TORCH_INFO" --meta "cudnn_runtime=$CUDNN_LIBRARY" \
    --meta "simulated_on_cpu=$SIMULATE" 2>/dev/null
  "$PY" tools/gpu_report.py table --results "$RESULTS" --call "$CALL" --header "$HEADER" >"$OUTDIR/table.txt" 2>/dev/null
  local parts=(logs); [ -d "$WORK/json" ] && parts+=(json)
  tar -czf "$OUTDIR/logs.tar.gz" -C "$WORK" "${parts[@]}" 2>/dev/null
}

# ---- the machine ------------------------------------------------------------------------------
# The Python that has torch (it also has numpy and OpenCV or tifffile); one import tells all.
PY="" TORCH_INFO=""
for p in ${GPU_CHECK_PYTHON:-} python3 /usr/bin/python3; do
  command -v "$p" >/dev/null || continue
  TORCH_INFO="$("$p" -c 'import torch; print("torch", torch.__version__, "cuDNN", torch.backends.cudnn.version(),
"cuda" if torch.cuda.is_available() else "no-cuda")' 2>/dev/null)" && { PY="$p"; break; }
done
[ -z "$PY" ] && PY="${GPU_CHECK_PYTHON:-$(command -v python3 || echo /usr/bin/python3)}" TORCH_INFO="(no torch)"
HAVE_GPU=0 GPU_NAME="" GPU_CC="" GPU_DRIVER=""
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1)"
  GPU_CC="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' .')"
  GPU_DRIVER="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1)"
  [ -n "$GPU_NAME" ] && HAVE_GPU=1
elif [ "${TORCH_INFO##* }" = cuda ]; then
  GPU_NAME="$("$PY" -c "import torch; print(torch.cuda.get_device_name(0))")"
  GPU_CC="$("$PY" -c "import torch; print('%d%d' % torch.cuda.get_device_capability(0))")"
  HAVE_GPU=1
fi
DEV=cuda SIM=()  # SIM: the flag the Python helpers take in a simulated run
[ "$SIMULATE" = 1 ] && DEV=cpu SIM=(--simulate)
ours_precision() { [ "$SIMULATE" = 1 ] && echo fp32 || echo "$1"; }  # the CPU computes fp32 only

source "$REPO/tools/gpu_deps.sh"
find_nvcc || true
[ -n "$NVCC" ] && find_cudnn || true
PARAM=""
for m in "${GPU_CHECK_MODEL:-}" "$KIT/models/realesrgan-x4plus.param" "$REPO/models/realesrgan-x4plus.param" \
         "${MICROSR_MODELS:-/nonexistent}/realesrgan-x4plus.param"; do
  [ -n "$m" ] && [ -s "$m" ] && [ -s "${m%.param}.bin" ] && { PARAM="$(cd "$(dirname "$m")" && pwd)/$(basename "$m")"; break; }
done
[ -n "$PARAM" ] && { MICROSR_MODELS="$(dirname "$PARAM")"; export MICROSR_MODELS; }
# Our binaries find the kit's libraries and cuDNN through their build RPATH. A pip cuDNN also
# loads its sub-libraries (libcudnn_graph.so.9, …) by name: its folder goes on the search path —
# the very library PyTorch loads, so PyTorch is not changed by it. A system cuDNN is left alone.
case "$CUDNN_HOW" in
  */nvidia/*) LD_LIBRARY_PATH="$(dirname "$CUDNN_LIBRARY")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; export LD_LIBRARY_PATH
    # Runtime-fused graphs (--conv graph_fused) need NVRTC, which cuDNN loads by name: pip's copy
    # (nvidia/cuda_nvrtc, nvidia/cu13, …) beside the cuDNN it matches goes on the path too.
    NVRTC_DIR="$(pip_nvidia_dirs | while IFS= read -r d; do
      find "$d" -maxdepth 2 -name 'libnvrtc.so*' 2>/dev/null | head -n1; done | head -n1)"
    [ -n "$NVRTC_DIR" ] && { LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$NVRTC_DIR")"; export LD_LIBRARY_PATH; } ;;
esac
export MICROSR_TEST_DATA="$REPO/tests/data"  # the tests' fixtures, wherever the binaries were built

# ---- the binaries: prebuilt on the development machine (tools/gpu_prepare.sh), else built here --
PREBUILT="$KIT/prebuilt" BIN="$BUILD" PREBUILT_WHY=""
# Uses the kit's binaries when they were built from exactly this tree and every library they
# load resolves here; PREBUILT_WHY says why not otherwise (then the build step builds here).
prebuilt_check() {
  [ "${GPU_CHECK_PREBUILT:-1}" = 0 ] && { PREBUILT_WHY="GPU_CHECK_PREBUILT=0"; return 1; }
  [ -x "$PREBUILT/microsr" ] && [ -f "$PREBUILT/BUILD_INFO" ] ||
    { PREBUILT_WHY="the kit has no prebuilt/ (tools/gpu_check.sh --prepare makes it)"; return 1; }
  local want have f missing
  want="$("$REPO/tools/gpu_source_hash.sh")"; have="$(sed -n 's/^source_hash=//p' "$PREBUILT/BUILD_INFO")"
  [ "$want" = "$have" ] || {
    PREBUILT_WHY="built from other sources (stamp ${have:0:12}, this tree ${want:0:12}): run --prepare again"; return 1; }
  # CUDA's own libraries come from PyTorch's pip wheels (cuDNN's folder first: the one PyTorch
  # loads), then the toolkit beside nvcc; the kit's lib/ holds the rest (RPATH $ORIGIN/lib).
  local dirs=() d
  [ -n "$CUDNN_LIBRARY" ] && dirs+=("$(dirname "$CUDNN_LIBRARY")")
  while IFS= read -r d; do [ -d "$d/lib" ] && dirs+=("$d/lib"); done < <(pip_nvidia_dirs)
  [ -n "$CUDA_ROOT" ] && for d in "$CUDA_ROOT/lib64" "$CUDA_ROOT/lib" "$CUDA_ROOT/targets/x86_64-linux/lib"; do
    [ -d "$d" ] && dirs+=("$d"); done
  local path; path="$(IFS=:; echo "${dirs[*]}")"
  # The kit carries the test binary xz-compressed (tools/gpu_prepare.sh): Python's lzma unpacks it
  # (no xz needed on this machine).
  for f in "$PREBUILT"/tests/*.xz; do
    [ -e "$f" ] && [ ! -x "${f%.xz}" ] || continue
    "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$f" "${f%.xz}" && chmod +x "${f%.xz}" || { PREBUILT_WHY="unpacking $(basename "$f") failed"; return 1; }
  done
  for f in "$PREBUILT/microsr" "$PREBUILT"/tests/* "$PREBUILT"/bench/*; do
    [ "${f%.xz}" = "$f" ] || continue
    missing="$(LD_LIBRARY_PATH="$path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$f" 2>&1 | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')"
    [ -z "$missing" ] || { PREBUILT_WHY="$(basename "$f") cannot load: ${missing% }"; return 1; }
  done
  LD_LIBRARY_PATH="$path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; export LD_LIBRARY_PATH
  "$PREBUILT/microsr" --help >"$LOGDIR/prebuilt_probe.log" 2>&1 ||
    { PREBUILT_WHY="microsr --help failed: $(tail -n1 "$LOGDIR/prebuilt_probe.log")"; return 1; }
  BIN="$PREBUILT"
}
[ "$DRY" = 0 ] && { prebuilt_check || log "prebuilt binaries not used: $PREBUILT_WHY"; }
MICROSR="$BIN/microsr"
COMMIT="$(sed -n 's/^commit=//p' "$PREBUILT/BUILD_INFO" 2>/dev/null)"
[ "$BIN" = "$PREBUILT" ] || COMMIT="$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo "unknown (no git here)")"

{
  echo "microsr gpu_check — call $CALL — steps: $STEPS$([ "$DRY" = 1 ] && echo ' (dry run)')"
  if [ "$SIMULATE" = 1 ]; then echo "MODE: SIMULATED ON THE CPU (plumbing test; no figure here is a GPU result)"
  elif [ "$HAVE_GPU" = 1 ]; then echo "GPU: $GPU_NAME (compute capability $GPU_CC, driver $GPU_DRIVER)"
  else echo "GPU: NO CUDA DEVICE on this machine — nothing that needs a GPU was run"; fi
  echo "nvcc: ${NVCC:-not found} $([ -n "$NVCC" ] && "$NVCC" --version | grep -o 'release [0-9.]*')"
  echo "cuDNN: ${CUDNN_LIBRARY:-not found}$([ -n "$CUDNN_INCLUDE" ] && echo " ($(cudnn_version))")"
  echo "python: $PY $TORCH_INFO"
  echo "cmake: $(cmake --version 2>/dev/null | head -n1 || echo 'not found'); c++: $(c++ --version 2>/dev/null | head -n1)"
  echo "model: ${PARAM:-NOT FOUND (carry gpu_kit, made by tools/gpu_check.sh --prepare)}"
  if [ "$BIN" = "$PREBUILT" ]; then
    echo "binaries: prebuilt ($(grep -E '^(commit|cuda_archs|nvcc|cudnn_headers)=' "$PREBUILT/BUILD_INFO" | tr '\n' ' '))"
  else echo "binaries: built here in $BUILD (prebuilt not used: ${PREBUILT_WHY:-dry run})"; fi
} >"$HEADER"
cat "$HEADER" >&2
{ cat "$HEADER"; nvidia-smi 2>&1; df -h "$REPO" 2>&1; } >"$LOGDIR/env.log"

# ---- steps ------------------------------------------------------------------------------------
BUILT_THIS_CALL=0 PARITY_THIS_CALL=0

step_build() {
  if [ "$BIN" = "$PREBUILT" ]; then
    row build "binaries prebuilt on the development machine" "${COMMIT:0:12}" "" "" "" PASS \
      "$(grep -E '^(cuda_archs|nvcc|cudnn_headers)=' "$PREBUILT/BUILD_INFO" | tr '\n' ' '); source stamp matches; every library resolves"
    BUILT_THIS_CALL=1
    return 0
  fi
  [ -n "$PREBUILT_WHY" ] && [ "$DRY" = 0 ] && row build "prebuilt binaries" "" "" "" "" INFO "not used: $PREBUILT_WHY"
  if [ -z "$NVCC" ]; then log "build: no nvcc found (PATH, /usr/local/cuda, pip nvidia-cuda-nvcc)"; return 1; fi
  if [ -z "$CUDNN_LIBRARY" ]; then log "build: no cuDNN found (set CUDNN_ROOT, or a python with torch's nvidia-cudnn)"; return 1; fi
  command -v cmake >/dev/null || { log "build: no cmake on PATH"; return 1; }
  CMAKE_ARGS=()
  if [ "$DRY" = 1 ]; then echo "  would build the kit's dependencies the machine lacks (tools/gpu_deps.sh) into $DEPS_PREFIX"
  else deps_build_all || { row build "dependencies from the kit" "" "" "" "" FAIL "see deps_*.log"; return 1; }
       cublas_fallback || true; fi
  local archs="${MICROSR_CUDA_ARCHS:-${GPU_CC:-90}}" generator=()
  [ -f "$BUILD/CMakeCache.txt" ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
  runlog configure "$(left)" cmake -S "$REPO" -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DMICROSR_CUDA=ON -DMICROSR_TESTS=ON -DMICROSR_BENCH=ON -DMICROSR_CUDA_ARCHS="$archs" \
    -DCMAKE_CUDA_COMPILER="$NVCC" -DCuDNN_INCLUDE_DIR="$CUDNN_INCLUDE" -DCuDNN_LIBRARY="$CUDNN_LIBRARY" \
    "${CMAKE_ARGS[@]}" || { tail -n 25 "$LOGDIR/configure.log" >&2; return 1; }
  # The build step builds everything; a later step's implicit build only the targets it runs.
  local targets=()
  if [ "${1:-all}" != all ]; then
    case ",$STEPS," in *,tests,*) targets+=(microsr_tests) ;; esac
    case ",$STEPS," in *,parity,*|*,torch,*|*,train,*|*,bench,*) targets+=(microsr_cli) ;; esac
    case ",$STEPS," in *,bench,*) local b; for b in "$REPO"/bench/bench_*.cpp; do targets+=("$(basename "$b" .cpp)"); done ;; esac
  fi
  runlog build "$(($(left) - 20))" cmake --build "$BUILD" -j"$(nproc)" ${targets[@]:+--target "${targets[@]}"} ||
    { grep -m 20 -E 'error|Error' "$LOGDIR/build.log" >&2; return 1; }
  BUILT_THIS_CALL=1
}

# Later steps build first when this call has not: an incremental build is seconds on a warm
# machine, and a fresh machine (the build dir gone) gets the full build it needs.
ensure_built() {
  [ "$BUILT_THIS_CALL" = 1 ] && return 0
  [ "$BUILT_THIS_CALL" = 2 ] && { log "the build failed earlier in this call"; return 1; }
  [ "$DRY" = 1 ] && return 0
  log "building first (incremental when the build dir is already there)"
  "$PY" tools/gpu_report.py clear --results "$RESULTS" --steps build
  local t0=$SECONDS
  if step_build needed; then row build "step build (implicit)" "$((SECONDS - t0)) s" "" "" "" PASS ""; return 0; fi
  row build "step build (implicit)" "$((SECONDS - t0)) s" "" "" "" FAIL "see configure.log / build.log"
  BUILT_THIS_CALL=2  # failed: do not retry in every step
  return 1
}

# The Gpu* tests, one process per test suite: a crash or a hang costs one suite, not the rest, and
# each suite gets its own time limit. MICROSR_CUDA_SYNC=1 makes an error name the op that caused
# it; MICROSR_CUDA_VERBOSE=1 puts cuDNN's refusals and the fallbacks they cause in the logs.
step_tests() {
  ensure_built || return 1
  local bin="$BIN/tests/microsr_tests" xmldir="$LOGDIR/gtest_xml" suites suite safe rc=0 limit
  if [ "$DRY" = 1 ]; then echo "  would run each Gpu* suite of $bin in its own process (XML in $xmldir)"; return 0; fi
  rm -rf "$xmldir"; mkdir -p "$xmldir"
  suites="$("$bin" --gtest_list_tests --gtest_filter='Gpu*' 2>>"$LOGDIR/gtest_list.log" | awk '/^[^ ].*\.$/ {sub(/\.$/, ""); print}')"
  if [ -z "$suites" ]; then
    row tests "GPU tests (gtest Gpu*)" "" "" "" "all pass" FAIL "the test binary lists no Gpu* suite (see gtest_list.log)"
    return 1
  fi
  for suite in $suites; do
    safe="${suite//\//_}"
    limit=$(left_at_most 180)
    [ "$limit" -lt 10 ] && { row tests "gtest $suite" "" "" "" "" SKIP "budget"; rc=1; continue; }
    runlog "gtest_$safe" "$limit" env MICROSR_CUDA_SYNC=1 MICROSR_CUDA_VERBOSE=1 "$bin" \
      --gtest_filter="$suite.*" --gtest_output="xml:$xmldir/$safe.xml" || rc=1
    if [ ! -s "$xmldir/$safe.xml" ]; then
      row tests "gtest $suite" "" "" "" "all pass" FAIL \
        "no result file: crashed or timed out ($(tail -n1 "$LOGDIR/gtest_$safe.log")); see gtest_$safe.log"
    fi
  done
  # Counts over every suite, and one row per failed test: its first failure's first lines, then the
  # beginnings of up to three more (the whole messages are in the gtest logs).
  "$PY" - "$xmldir" "$RESULTS" "$CALL" "$HAVE_GPU" <<'EOF' || rc=1
import glob, os, sys, xml.etree.ElementTree as ET
sys.path.insert(0, "tools")
from gpu_report import add_row
xmldir, results, call, have_gpu = sys.argv[1:5]
total = failed = skipped = 0
failures = []
for path in sorted(glob.glob(os.path.join(xmldir, "*.xml"))):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        continue
    for case in root.iter("testcase"):
        total += 1
        # Every failed assertion of the case, not only the first: a later one may tell another story.
        problems = case.findall("failure") + case.findall("error")
        if problems:
            failed += 1
            texts = []
            for problem in problems:
                text = (problem.get("message") or problem.text or "").strip().splitlines()
                texts.append(" | ".join(text[:3])[:300])
            more = f" || {len(texts)} failures; the others: " + " || ".join(t[:150] for t in texts[1:4]) \
                if len(texts) > 1 else ""
            failures.append((f"{case.get('classname')}.{case.get('name')}", texts[0] + more))
        elif case.find("skipped") is not None or case.get("result") == "skipped":
            skipped += 1
status = "PASS"
note = f"{failed} failed, {skipped} skipped, one process per suite"
if total == 0:
    status, note = "FAIL", "no test ran; " + note
elif failed:
    status = "FAIL"
elif skipped and have_gpu == "1":
    status, note = "FAIL", "tests skipped although a GPU is present; " + note
elif skipped:
    status, note = "SKIP", "skipped cleanly: no CUDA device; " + note
add_row(results, call, "tests", "GPU tests (gtest Gpu*): passed/total", f"{total - failed - skipped}/{total}",
        target="all pass", status=status, note=note)
for name, message in failures:
    add_row(results, call, "tests", f"failed: {name}", status="FAIL", note=message)
sys.exit(0 if status in ("PASS", "SKIP") else 1)
EOF
  return $rc
}

PARITY_SIZES="${GPU_CHECK_PARITY_SIZES:-64x64,256x256}"
SPEED_SIZE="${GPU_CHECK_SPEED_SIZE:-1600x1200}"
[ "$SIMULATE" = 1 ] && PARITY_SIZES="${GPU_CHECK_PARITY_SIZES:-16x16,24x20}" SPEED_SIZE="${GPU_CHECK_SPEED_SIZE:-24x16}"
INPUTS="$WORK/inputs"
SAMPLE="$REPO/tests/data/samples/synth/field_000_4x.tif"

make_inputs() {  # 16-bit RGB TIFFs in $INPUTS (see tools/gpu_parity.py)
  runlog make_inputs 120 "$PY" tools/gpu_parity.py make-inputs --sample "$SAMPLE" --out-dir "$INPUTS" --sizes "$1"
}
# microsr upscale of one input on one device/precision → $WORK/outputs/<stem>_<dev>_<prec>.tif
ours_upscale() {  # input device precision
  local stem; stem="$(basename "$1" .tif)"
  local out="$WORK/outputs/${stem}_$2_$3.tif"
  mkdir -p "$WORK/outputs"; rm -f "$out"
  local dev="$2"; [ "$SIMULATE" = 1 ] && dev=cpu
  runlog "upscale_${stem}_$2_$3" "$(left)" "$MICROSR" upscale "$1" -o "$out" --device "$dev" \
    --precision "$(ours_precision "$3")" --tile 0 --overwrite --model "$PARAM"
}

step_parity() {
  ensure_built || return 1
  make_inputs "$PARITY_SIZES" || return 1
  local size stem in specs=()
  local rc=0
  for size in ${PARITY_SIZES//,/ }; do
    stem="in_$size"; in="$INPUTS/$stem.tif"
    ours_upscale "$in" cpu fp32 || rc=1; ours_upscale "$in" cuda fp32 || rc=1; ours_upscale "$in" cuda fp16 || rc=1
    local o="$WORK/outputs/$stem"
    specs+=(--spec "$size: GPU fp32 vs CPU, max abs|${o}_cuda_fp32.tif|${o}_cpu_fp32.tif|maxabs|1e-4"
            --spec "$size: GPU fp16 vs GPU fp32, PSNR|${o}_cuda_fp16.tif|${o}_cuda_fp32.tif|psnr|50"
            --spec "$size: GPU fp16 vs CPU, PSNR|${o}_cuda_fp16.tif|${o}_cpu_fp32.tif|info_psnr|")
  done
  runlog parity_rows 120 "$PY" tools/gpu_parity.py rows --results "$RESULTS" --call "$CALL" --step parity \
    "${SIM[@]}" "${specs[@]}" || rc=1
  PARITY_THIS_CALL=1
  return $rc
}

step_torch() {
  ensure_built || return 1
  make_inputs "$PARITY_SIZES" || return 1
  local size stem ins=() specs=() rc=0
  for size in ${PARITY_SIZES//,/ }; do ins+=("$INPUTS/in_$size.tif"); done
  runlog torch_outputs "$(($(left) / 3))" "$PY" tools/gpu_compare_torch.py outputs --device "$DEV" --param "$PARAM" \
    --inputs "$(IFS=,; echo "${ins[*]}")" --out-dir "$WORK/torch" \
    --variants "$([ "$SIMULATE" = 1 ] && echo fp32,fp16 || echo fp32,fp16,fp16_cl)" || rc=1
  for size in ${PARITY_SIZES//,/ }; do
    stem="in_$size"; local o="$WORK/outputs/$stem" t="$WORK/torch/$stem"
    # Ours on the GPU: made by this call's parity step, else here (an earlier call's outputs may
    # come from other code).
    if [ "$PARITY_THIS_CALL" = 0 ]; then
      ours_upscale "$INPUTS/$stem.tif" cuda fp32 || rc=1
      ours_upscale "$INPUTS/$stem.tif" cuda fp16 || rc=1
    fi
    specs+=(--spec "$size: ours GPU fp32 vs torch fp32, max abs|${o}_cuda_fp32.tif|${t}_torch_fp32.npy|maxabs|1e-4"
            --spec "$size: ours GPU fp16 vs torch fp32, PSNR|${o}_cuda_fp16.tif|${t}_torch_fp32.npy|psnr|50"
            --spec "$size: torch fp16 vs torch fp32, PSNR|${t}_torch_fp16.npy|${t}_torch_fp32.npy|info_psnr|")
    [ "$SIMULATE" = 1 ] ||
      specs+=(--spec "$size: torch fp16 channels_last vs torch fp32, PSNR|${t}_torch_fp16_cl.npy|${t}_torch_fp32.npy|info_psnr|")
    [ "$PARITY_THIS_CALL" = 1 ] &&
      specs+=(--spec "$size: ours CPU vs torch fp32, max abs|${o}_cpu_fp32.tif|${t}_torch_fp32.npy|info_maxabs|")
  done
  runlog torch_rows 120 "$PY" tools/gpu_parity.py rows --results "$RESULTS" --call "$CALL" --step torch \
    "${SIM[@]}" "${specs[@]}" || rc=1
  runlog torch_speed "$(($(left) - 10))" "$PY" tools/gpu_compare_torch.py speed --device "$DEV" --param "$PARAM" \
    --size "$SPEED_SIZE" --reps "${GPU_CHECK_REPS:-3}" --microsr "$MICROSR" --results "$RESULTS" --call "$CALL" \
    --log-dir "$LOGDIR" --gpu-name "$GPU_NAME" --budget "$(($(left) - 20))" \
    "${SIM[@]}" ${SIM[@]:+--variants fp32,fp16 --warmup 1} || rc=1
  return $rc
}

step_train() {
  ensure_built || return 1
  local rc=0
  runlog train "$(($(left) - 10))" "$PY" tools/gpu_compare_torch.py train --device "$DEV" --param "$PARAM" \
    --batch 4 --size "$([ "$SIMULATE" = 1 ] && echo 8 || echo 32)" --reps "${GPU_CHECK_TRAIN_REPS:-20}" \
    --warmup 3 --microsr "$MICROSR" --results "$RESULTS" --call "$CALL" --log-dir "$LOGDIR" \
    --budget "$(($(left) / 3))" "${SIM[@]}" ${SIM[@]:+--reps 2 --warmup 1} || rc=1
  finetune_cli || rc=1
  return $rc
}

# `microsr finetune` itself at the real network's size: synthetic 10X fields → make-pairs → 3 epochs
# of 4 iterations (batch 4, the seed's 128-pixel HR patches, validation every epoch), stopped after
# iteration 5 and resumed; PyTorch must load the .pth (tools/gpu_finetune_rows.py makes the rows).
finetune_cli() {
  local dir="$WORK/finetune" n=16 side=256 patch=128 epochs=3 stop=5
  [ "$SIMULATE" = 1 ] && n=8 side=64 patch=32 epochs=2 stop=3
  rm -rf "$dir" && mkdir -p "$dir"
  runlog finetune_synth 60 "$MICROSR" synth -o "$dir/synth" --mag 10x --count "$n" --width "$side" --height "$side" &&
    runlog finetune_pairs 60 "$MICROSR" make-pairs "$dir/synth" -o "$dir/pairs" || return 1
  local run=("$MICROSR" finetune --pairs "$dir/pairs" --val "$dir/pairs" -o "$dir/ft.pth" --device "$DEV"
             --epochs "$epochs" --batch 4 --patch "$patch" --init "$PARAM")
  runlog finetune_first "$(left_at_most 120)" "${run[@]}" --max-iterations "$stop" &&
    runlog finetune_resumed "$(left_at_most 120)" "${run[@]}" --resume
  local trained=$?
  [ "$DRY" = 1 ] && return 0
  local loaded=1
  [ "$trained" = 0 ] && { runlog finetune_torch_load 120 "$PY" tools/check_finetuned_pth.py "$dir/ft.pth" \
    "$dir/torch_dump"; loaded=$?; }
  rm -rf "$dir/torch_dump"
  "$PY" tools/gpu_finetune_rows.py "$dir/ft" "$RESULTS" "$CALL" --pairs "$n" --patch "$patch" --epochs "$epochs" \
    --start-up "1,$((stop + 1))" --torch-load "$loaded" "${SIM[@]}"
}

# The seed's job: a folder of synthetic 4X frames (1600×1200) upscaled ×4 to PNG and to TIFF on
# the GPU (fp16, default tiling), as a lab would run it: images per second, and how the time
# divides between reading, the network and writing (microsr upscale's closing "time:" line).
step_seed() {
  ensure_built || return 1
  local n="${GPU_CHECK_SEED_FRAMES:-8}" frames="$WORK/seed_frames" size=() label=1600×1200 fmt log line rc=0
  [ "$SIMULATE" = 1 ] && size=(--width 64 --height 48) label=64×48 n=2
  rm -rf "$frames" "$WORK/seed_synth" && mkdir -p "$frames"
  runlog seed_synth 120 "$MICROSR" synth -o "$WORK/seed_synth" --mag 4x --count "$n" "${size[@]}" || return 1
  [ "$DRY" = 1 ] && return 0
  mv "$WORK/seed_synth"/*.tif "$frames"/  # the ground-truth CSVs stay behind: inputs are images only
  for fmt in png tif; do
    log="$LOGDIR/seed_$fmt.log"
    if runlog "seed_$fmt" "$(left)" "$MICROSR" upscale "$frames" -o "$WORK/seed_out_$fmt" --format "$fmt" \
         --device "$DEV" --precision "$(ours_precision fp16)" --overwrite --model "$PARAM"; then
      line="$(grep -E '^time: ' "$log" | tail -n1)"
      row seed "seed job: $n × $label → ×4 $fmt, images/s" \
        "$(echo "$line" | sed -E 's/.* ([0-9.]+) images\/s.*/\1/')" "" "" "" INFO "${line#time: }"
    else
      rc=1; row seed "seed job: $n frames → ×4 $fmt" "" "" "" "" FAIL "see seed_$fmt.log"
    fi
  done
  return $rc
}

# Where the GPU time goes, for two jobs: an fp16 forward pass at the speed verdict's size and one
# training step (fp32, batch 4, 32×32 LR patches).
#   1. microsr's own per-layer times (bench --layer-times: each op timed alone, the device drained
#      around it; src/backend/timed_backend.h), summed by op and by (op, shape): which layer shapes
#      hold the time and at what TFLOP/s. Needs no profiler, so the breakdown exists even when ncu
#      captures nothing (run c captured none, run b only the warm-up's first 350 launches).
#   2. Nsight Compute's duration of each kernel, grouped by kernel name (logs/ncu_*_kernels.csv),
#      over the timed passes only (bench brackets them with cudaProfilerStart/Stop; ncu
#      --profile-from-start off), one metric pass with application replay (the program runs once
#      per pass; kernel replay saved and restored the device memory at ~0.35 s a launch in run b).
layer_times() {  # job seconds label bench-options...: one bench --layer-times run, its rows in the table
  local job="$1" limit="$2" label="$3"; shift 3
  runlog "profile_layers_$job" "$(left_at_most "$limit")" "$MICROSR" bench --device "$DEV" \
    --model "$PARAM" --layer-times "$LOGDIR/layers_$job.csv" "$@" || return 1
  # The card sets the roofline floors (tools/conv_roofline.py); a simulation uses the H200's so
  # that CI runs that path too.
  local card="$GPU_NAME"
  [ "$SIMULATE" = 1 ] && card="NVIDIA H200 (simulated: CPU times)"
  [ "$DRY" = 1 ] || "$PY" tools/gpu_layer_summary.py "$LOGDIR/layers_$job.csv" "$RESULTS" "$CALL" "$label" "$card"
}

# How often putting deterministic backward algorithms first (src/backend/cuda/backward_order.h)
# overrode cuDNN's own first choice, from the verbose lines of a training run's log: one "ranked"
# line per plan (a shape on views or on packed copies), one "running" line at its first run, and
# a "no deterministic algorithm runs" line where the views needed packed copies for one.
backward_choices() {  # log
  local lines shapes overridden nondeterministic copied
  lines="$(grep -E '^microsr: conv2d_backward_(data|weight) ' "$1")"
  shapes="$(grep -c ': ranked ' <<<"$lines")"
  overridden="$(grep -cE ': ranked [0-9]+ \(nondeterministic\)' <<<"$lines")"
  nondeterministic="$(grep -cE ': running [0-9]+ \(nondeterministic\)' <<<"$lines")"
  copied="$(grep -c ': no deterministic algorithm runs on these operands' <<<"$lines")"
  row profile "backward conv plans where cuDNN ranked a nondeterministic algorithm first" \
    "$overridden of $shapes" "" "" "" INFO "we run the best deterministic one (a resumed run repeats its bits); \
views with no deterministic algorithm (packed copies tried next): $copied; plans running a nondeterministic \
algorithm: $nondeterministic; the choices: grep conv2d_backward logs/profile_layers_train.log"
}

step_profile() {
  ensure_built || return 1
  local ncu size="${GPU_CHECK_PROFILE_SIZE:-1600x1200}" patch=32 rc=0
  [ "$SIMULATE" = 1 ] && size=32x24 patch=8
  layer_times forward 150 "$(ours_precision fp16) forward $size" --precision "$(ours_precision fp16)" \
    --size "$size" --reps 2 || rc=1
  # Verbose: each convolution shape's algorithm choice goes to the log once (cuDNN's ranking of
  # the backward algorithms and the one run; the forward's timed plans), beside its time.
  MICROSR_CUDA_VERBOSE=1 layer_times train 120 "fp32 train step b4 ${patch}x${patch}" --mode train --size "$patch" \
    --batch 4 --reps 3 || rc=1
  [ "$DRY" = 1 ] || backward_choices "$LOGDIR/profile_layers_train.log"
  if [ "$SIMULATE" = 1 ]; then row profile "ncu profile" "" "" "" "" INFO "simulated: no GPU to profile"; return $rc; fi
  ncu="$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n1)"
  [ -n "$ncu" ] || { row profile "ncu profile" "" "" "" "" SKIP "ncu not found"; return $rc; }
  local ncu_args=(--clock-control none --replay-mode application --profile-from-start off
                  --metrics gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed --csv)
  runlog profile_ncu_forward "$(left_at_most 150)" "$ncu" "${ncu_args[@]}" \
    --log-file "$LOGDIR/ncu_forward_raw.csv" "$MICROSR" bench --device cuda --precision fp16 --size "$size" \
    --reps 1 --cuda-graphs off --model "$PARAM"
  [ "$DRY" = 1 ] || "$PY" tools/gpu_ncu_summary.py "$LOGDIR/ncu_forward_raw.csv" "$LOGDIR/ncu_forward_kernels.csv" \
    "$RESULTS" "$CALL" "fp16 forward $size"
  runlog profile_ncu_train "$(left_at_most 120)" "$ncu" "${ncu_args[@]}" \
    --log-file "$LOGDIR/ncu_train_raw.csv" "$MICROSR" bench --mode train --device cuda --size 32 --batch 4 \
    --reps 1 --model "$PARAM"
  [ "$DRY" = 1 ] || "$PY" tools/gpu_ncu_summary.py "$LOGDIR/ncu_train_raw.csv" "$LOGDIR/ncu_train_kernels.csv" \
    "$RESULTS" "$CALL" "fp32 train step b4 32x32"
  return $rc
}

# PyTorch's strongest form, for information: torch.compile(mode="max-autotune") of the fp16
# channels_last model on the speed step's input, against our fp16 time from the torch step
# (its speed.json) when that ran on this machine. Compiling and autotuning happen in the warm-up
# and are reported apart; they take minutes, so this step comes last.
step_compile() {
  if [ "$SIMULATE" = 1 ]; then row compile "torch.compile" "" "" "" "" INFO "simulated: not run on the CPU"; return 0; fi
  runlog torch_speed_compile "$(($(left) - 10))" "$PY" tools/gpu_torch_runs.py speed --variant compile --device cuda \
    --param "$PARAM" --size "$SPEED_SIZE" --reps "${GPU_CHECK_REPS:-3}" --warmup 2
  local rc=$?
  [ "$DRY" = 1 ] && return 0
  "$PY" - "$LOGDIR/torch_speed_compile.log" "$LOGDIR/speed.json" "$RESULTS" "$CALL" "$rc" <<'EOF'
import json, os, sys
sys.path.insert(0, "tools")
from gpu_report import add_row, fmt_number
log, speed, results, call, rc = sys.argv[1:6]
theirs = None
for line in reversed(open(log, encoding="utf-8", errors="replace").read().splitlines()):
    if line.strip().startswith("{"):
        theirs = json.loads(line)
        break
if theirs is None:
    add_row(results, call, "compile", "torch.compile max-autotune fp16", status="INFO",
            note=f"no result (exit {rc}); see torch_speed_compile.log")
    sys.exit(0)
mine = None
if os.path.exists(speed):
    mine = (json.load(open(speed)).get("ours") or {}).get("fp16")
size = f"{theirs['width']}x{theirs['height']}"
same = mine is not None and f"{mine.get('width')}x{mine.get('height')}" == size
t, o = theirs["seconds_median"], (mine or {}).get("seconds_median") if same else None
add_row(results, call, "compile", f"torch.compile max-autotune fp16 channels_last {size}, s",
        fmt_number(o) if o else "", fmt_number(t), f"{t / o:.2f}×" if o else "", "", "INFO",
        theirs.get("note", "") + ("" if o else "; ours: no fp16 time from the torch step in this build dir"))
EOF
}

source "$REPO/tools/gpu_check_bench.sh"

# ---- driver -----------------------------------------------------------------------------------
declare -A MIN_SECONDS=([build]=90 [tests]=45 [parity]=30 [torch]=90 [train]=60 [seed]=60 [profile]=60 [bench]=90 [compile]=120)
needs_gpu() { [ "$1" != build ]; }

if [ "$DRY" = 0 ] && [ -f "$RESULTS" ]; then
  "$PY" tools/gpu_report.py clear --results "$RESULTS" --steps "$STEPS"
fi
overall=0
[ "$DRY" = 1 ] && [ "$HAVE_GPU" = 0 ] && [ "$SIMULATE" = 0 ] &&
  echo "(no CUDA device here: this is what a GPU machine would run)"
for step in ${STEPS//,/ }; do
  if needs_gpu "$step" && [ "$HAVE_GPU" = 0 ] && [ "$SIMULATE" = 0 ] && [ "$DRY" = 0 ]; then
    row "$step" "step $step" "" "" "" "" SKIP "no CUDA device"; continue
  fi
  if [ "$step" = build ] && [ "$HAVE_GPU" = 0 ] && [ "$SIMULATE" = 0 ] && [ "$STEPS_GIVEN" = 0 ] && [ "$DRY" = 0 ]; then
    row build "step build" "" "" "" "" SKIP "no CUDA device (name it in --steps to build anyway)"; continue
  fi
  if [ "$step" != build ] && [ -z "$PARAM" ]; then
    row "$step" "step $step" "" "" "" "" FAIL "no model: carry gpu_kit (tools/gpu_check.sh --prepare)"; overall=1; continue
  fi
  if [ "$(left)" -lt "${MIN_SECONDS[$step]}" ]; then
    row "$step" "step $step" "" "" "" "" SKIP "$(left) s of this call's budget left, needs ~${MIN_SECONDS[$step]} s: run --steps $step in another call"
    continue
  fi
  log "step $step"
  [ "$DRY" = 1 ] && echo "step $step:"
  t0=$SECONDS
  if "step_$step"; then status=PASS; note=""; else status=FAIL; note="see $step logs"; overall=1; fi
  [ "$step" = build ] && { [ "$status" = PASS ] && BUILT_THIS_CALL=1 || BUILT_THIS_CALL=2; }
  row "$step" "step $step" "$((SECONDS - t0)) s" "" "" "" "$status" "$note"
  pack_out
done

[ "$DRY" = 1 ] && { echo "(dry run: nothing was run)"; exit 0; }
pack_out
rm -f "$OUTDIR/current_step.log"
echo
"$PY" tools/gpu_report.py table --results "$RESULTS" --call "$CALL" --header "$HEADER"
table_rc=$?
echo "details: $OUTDIR (table.txt, results.csv, results.json, logs.tar.gz)"
[ "$overall" = 0 ] && [ "$table_rc" = 0 ] && exit 0 || exit 1
}
