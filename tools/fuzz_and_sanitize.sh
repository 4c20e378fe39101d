#!/usr/bin/env bash
# The fuzz and sanitizer runs of issue 13, reproducible as one command (too slow for CI: run it by
# hand before a release or after touching a parser):
#
#   tools/fuzz_and_sanitize.sh            full: 5,455 damaged files, the whole CPU test suite
#                                         (13 min on 2 cores, after a 9-min first build)
#   tools/fuzz_and_sanitize.sh --quick    1,736 files, only the parser tests (1.5 min)
#
# 1. builds microsr with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
#    MICROSR_SANITIZE, CUDA and benchmarks off) in build-sanitize/ ($MICROSR_SANITIZE_BUILD_DIR);
# 2. runs the parser and fuzz unit tests under the sanitizers with MICROSR_FUZZ_EVERY_BYTE=1 (every
#    byte position, not a stride), then the CPU test suite once (ctest -LE gpu; not in --quick);
# 3. makes damaged PNG/JPEG/BMP/TIFF (8/16-bit, multi-page), .pth (ZIP + pickle, hostile pickles),
#    safetensors and ncnn files with tools/make_damaged_files.py (seeded: the same files each time);
# 4. runs the sanitized program on each, with a timeout: images through
#    `microsr upscale FILE --model tiny.pth --device cpu` (16-bit ones through `microsr detect` too,
#    whose gray conversion reads their SMaxSampleValue), weights through `microsr info FILE` and
#    (when info loads them, and every 10th refused one) `microsr upscale small.png --model FILE`;
# 5. classifies each run: exit 0, 1 or 2 is handled; a sanitizer report, any other exit status
#    (a signal, an uncaught exception), a hang (past the timeout, and again past 5× the timeout on a
#    second try: a damaged header can make a large but finite image) or a file left behind by a
#    hostile pickle is a finding, whose stderr and input are kept under RESULTS/findings/.
# Counts go to the terminal and to RESULTS/summary.md and summary.json (RESULTS: fuzz_results/,
# or --out). Exit status: 0 when there is no finding and every unit test passed, 1 otherwise,
# 2 for a usage error.
#
# Options: --quick; --seed N (default 13); --jobs N parallel runs (default 2); --timeout S per run
# (default 60); --out DIR; --skip-build; --skip-unit (no unit tests); --every K (run only every
# K-th damaged file: a smoke test of this script). Real-weight tests use
# $MICROSR_MODELS (default models/), as tools/test.sh does. Only python3's standard library is
# needed besides the build dependencies of tools/setup.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MICROSR_SANITIZE_BUILD_DIR:-$repo/build-sanitize}"
out="$repo/fuzz_results"
quick=0 seed=13 jobs=2 timeout_s=60 skip_build=0 skip_unit=0 every=1

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --seed) seed="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    --timeout) timeout_s="$2"; shift ;;
    --every) every="$2"; shift ;;
    --out) out="$2"; shift ;;
    --skip-build) skip_build=1 ;;
    --skip-unit) skip_unit=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fuzz_and_sanitize: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for n in "$seed" "$jobs" "$timeout_s" "$every"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "fuzz_and_sanitize: '$n' is not a whole number" >&2; exit 2; }
done
[ "$jobs" -ge 1 ] && [ "$every" -ge 1 ] || { echo "fuzz_and_sanitize: --jobs and --every must be at least 1" >&2; exit 2; }

mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/files" "$out/findings" "$out/work" "$out"/*.log "$out"/*.tsv "$out"/*.json "$out/summary.md"
mkdir -p "$out/findings" "$out/work"
started=$SECONDS
declare -A phase_s
phase() { echo "== fuzz_and_sanitize: $* ==" >&2; }

# Sanitizer settings for every run below: a report is fatal and exits 99 (so it is never mistaken
# for a handled exit 1); a failed allocation throws std::bad_alloc as it would in a normal build.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:exitcode=99:abort_on_error=0:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
export LSAN_OPTIONS="exitcode=99"
export MICROSR_MODELS="${MICROSR_MODELS:-$repo/models}"
unset MICROSR_CUDA_GRAPHS

# ---- 1. the sanitized build ------------------------------------------------------------------
t=$SECONDS
if [ "$skip_build" = 0 ]; then
  phase "building with -fsanitize=address,undefined in $build"
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMICROSR_SANITIZE=ON -DMICROSR_CUDA=OFF \
    -DMICROSR_BENCH=OFF -DMICROSR_TESTS=ON >"$out/build.log" 2>&1 || { tail -20 "$out/build.log" >&2; exit 1; }
  cmake --build "$build" -j"$jobs" >>"$out/build.log" 2>&1 || { tail -40 "$out/build.log" >&2; exit 1; }
fi
program="$build/microsr"
[ -x "$program" ] || { echo "fuzz_and_sanitize: $program is missing (run without --skip-build)" >&2; exit 1; }
grep -q "MICROSR_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" ||
  { echo "fuzz_and_sanitize: $build is not a MICROSR_SANITIZE=ON build" >&2; exit 1; }
phase_s[build]=$((SECONDS - t))

# ---- 2. unit tests under the sanitizers -------------------------------------------------------
# The tests that parse files or fuzz the parsers: image decoders and encoders, multi-page and
# 12-bit TIFF, .pth (ZIP, pickle, special tensors), safetensors, ncnn, weight names, NaN checks,
# partial-file cleanup. MICROSR_FUZZ_EVERY_BYTE=1 makes their loops visit every byte.
parser_filter="ImageIO.*:ImageEncoders.*:ParallelDeflate.*:MultiPageTiff.*:CameraRange.*:PthLoad.*:PthSave.*"
parser_filter+=":PthStateDict.*:PthMalformed.*:Pth/PthSpecialTensors.*:SafetensorsLoad.*:SafetensorsSave.*"
parser_filter+=":SafetensorsMalformed.*:Ncnn.*:WeightNames.*:NonFinite.*:PartialFiles.*"
parser_filter+=":OnnxReader.*:OnnxMalformed.*:OnnxInfo.*"  # the ONNX reader (docs/onnx.md)
t=$SECONDS
if [ "$skip_unit" = 0 ]; then
  phase "parser and fuzz tests, every byte (MICROSR_FUZZ_EVERY_BYTE=1)"
  set +e
  (cd "$out/work" && MICROSR_FUZZ_EVERY_BYTE=1 "$build/tests/microsr_tests" --gtest_filter="$parser_filter" \
    --gtest_output="json:$out/unit_parsers.json" >"$out/unit_parsers.log" 2>&1)
  echo $? >"$out/unit_parsers.rc"
  set -e
  tail -3 "$out/unit_parsers.log" >&2
  if [ "$quick" = 0 ]; then
    phase "the CPU test suite (ctest -LE gpu)"
    set +e
    # -V: every test's own output, so that GoogleTest's SKIPPED lines can be counted.
    ctest --test-dir "$build" -LE gpu -j"$jobs" --timeout 900 -V >"$out/unit_suite.log" 2>&1
    echo $? >"$out/unit_suite.rc"
    set -e
    grep -E "tests passed|Total Test time" "$out/unit_suite.log" >&2 || tail -5 "$out/unit_suite.log" >&2
  fi
fi
phase_s[unit_tests]=$((SECONDS - t))

# ---- 3. damaged files -------------------------------------------------------------------------
t=$SECONDS
phase "making damaged files (seed $seed$([ "$quick" = 1 ] && echo ", quick"))"
python3 "$repo/tools/make_damaged_files.py" "$out/files" --seed "$seed" $([ "$quick" = 1 ] && echo --quick)
phase_s[generate]=$((SECONDS - t))

# ---- 4. one sanitized run per damaged file ----------------------------------------------------
# run_case KIND RUN PATH INDEX: runs the program on one case, appends one line per command to
# runs.tsv: kind, command, exit status, verdict, path, milliseconds, "slow" when it needed the
# second try. Lines are short, so parallel appends (O_APPEND, one write each) do not interleave.
# It runs in xargs' `bash -c`, without set -e.
run_case() {
  local kind="$1" run="$2" rel="$3" index="$4"
  local file="$out/files/$rel" work
  work="$(mktemp -d "$out/work/case.XXXXXX")"
  one() {  # one(NAME, args...): a command in $work, classified
    local name="$1" rc verdict slow="" started_ns limit
    shift
    started_ns=$(date +%s%N)
    for limit in "$timeout_s" $((timeout_s * 5)); do
      # More than 1.5 GB resident for a damaged file of a few KB is itself a finding ("memory"); the
      # largest image a damaged header legitimately yields here (21×65535, JPEG) takes 0.8 GB under ASan.
      (cd "$work" && ASAN_OPTIONS="$ASAN_OPTIONS:hard_rss_limit_mb=1536" \
        timeout -k 5 "$limit" "$program" "$@" >"$work/stdout" 2>"$work/stderr")
      rc=$?
      { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } || break
      slow=slow
    done
    if grep -qE "hard rss limit exhausted|allocation-size-too-big|out-of-memory" "$work/stderr"; then
      verdict=memory
    elif grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|UndefinedBehaviorSanitizer|AddressSanitizer:DEADLYSIGNAL" "$work/stderr"; then
      verdict=sanitizer
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
      verdict=hang
    elif [ "$rc" = 0 ] || [ "$rc" = 1 ] || [ "$rc" = 2 ]; then
      verdict=handled
    else
      verdict=crash
    fi
    if compgen -G "$work/microsr_fuzz_PWNED_*" >/dev/null; then verdict=code-executed; fi
    if [ "$verdict" != handled ]; then
      local keep="$out/findings/${rel//\//__}.$name"
      cp "$work/stderr" "$keep.stderr"
      cp "$file" "$keep.input"
      [ "$run" = ncnn ] && cp "${file%.param}.bin" "$keep.input.bin"
      printf '%s\n' "$*" >"$keep.command"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$name" "$rc" "$verdict" "$rel" \
      $((($(date +%s%N) - started_ns) / 1000000)) "$slow" >>"$out/runs.tsv"
    last_rc=$rc
  }
  local last_rc=0
  case "$run" in
    image | image+detect)
      one upscale upscale "$file" -o out/ --model "$out/files/valid/tiny.pth" --device cpu --threads 1
      [ "$run" = image ] || one detect detect "$file" -o detected/ ;;
    weights | ncnn)
      one info info "$file"
      # The same loader refuses it again in upscale; run upscale on what loads, and on a tenth of the rest.
      if [ "$last_rc" = 0 ] || [ $((index % 10)) = 0 ]; then
        one upscale upscale "$out/files/valid/small.png" -o out/ --model "$file" --device cpu --threads 1
      fi ;;
  esac
  rm -rf "$work"
}
export -f run_case
export out program timeout_s

t=$SECONDS
total=$(grep -v '^#' "$out/files/manifest.tsv" | awk -v k="$every" '(NR - 1) % k == 0' | wc -l)
phase "running the sanitized microsr on $total files, $jobs at a time, ${timeout_s} s timeout each (then $((timeout_s * 5)) s)"
grep -v '^#' "$out/files/manifest.tsv" | awk -F'\t' -v k="$every" '(NR - 1) % k == 0 {print $1 "\t" $2 "\t" $3 "\t" NR}' |
  tr '\t' '\n' | xargs -d '\n' -n 4 -P "$jobs" bash -c 'run_case "$@"' _ ||
  echo "fuzz_and_sanitize: a case runner failed (see above); its runs are missing from runs.tsv" >&2
stray="$(find "$out" -name 'microsr_fuzz_PWNED_*' 2>/dev/null | head -5)"
phase_s[runs]=$((SECONDS - t))
phase_s[total]=$((SECONDS - started))

# ---- 5. counts --------------------------------------------------------------------------------
phase_json=""
for k in build unit_tests generate runs total; do phase_json+="\"$k\": ${phase_s[$k]:-0}, "; done
python3 - "$out" "$quick" "$seed" "{${phase_json%, }}" "$stray" <<'EOF'
import collections, json, os, re, sys

out, quick, seed, seconds, stray = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
files = collections.Counter()
for line in open(os.path.join(out, "files", "manifest.tsv")):
    if not line.startswith("#"):
        files[line.split("\t")[0]] += 1
runs = collections.defaultdict(collections.Counter)  # kind -> counter of (command, verdict or exit)
findings, timed = [], []
for line in open(os.path.join(out, "runs.tsv")):
    kind, command, rc, verdict, rel, ms, slow = line.rstrip("\n").split("\t")
    timed.append((int(ms), command, rel, slow))
    if slow and verdict == "handled":
        runs[kind]["slow"] += 1
    runs[kind]["runs"] += 1
    runs[kind][command] += 1
    runs[kind]["exit %s" % rc if verdict == "handled" else verdict] += 1
    if verdict != "handled":
        findings.append({"kind": kind, "command": command, "exit": int(rc), "verdict": verdict, "file": rel})
if stray:
    findings.append({"kind": "pickle-hostile", "command": "?", "exit": 0, "verdict": "code-executed", "file": stray})

def gtest(name):
    path, rc_path = os.path.join(out, name + ".json"), os.path.join(out, name + ".rc")
    if not os.path.exists(rc_path):
        return None
    rc = int(open(rc_path).read())
    if not os.path.exists(path):
        return {"exit": rc, "tests": 0, "failed": 0, "skipped": 0, "note": "no report: the test binary died (see %s.log)" % name}
    report = json.load(open(path))
    cases = [t for s in report["testsuites"] for t in s["testsuite"]]
    skipped = sum(1 for t in cases if t.get("result") == "SKIPPED")
    return {"exit": rc, "tests": len(cases), "failed": report["failures"] + report.get("errors", 0), "skipped": skipped,
            "failed_names": [s["name"] + "." + t["name"] for s in report["testsuites"] for t in s["testsuite"] if t.get("failures")]}

def ctest():
    log, rc_path = os.path.join(out, "unit_suite.log"), os.path.join(out, "unit_suite.rc")
    if not os.path.exists(rc_path):
        return None
    text = open(log, errors="replace").read()
    m = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", text)
    skipped = len(set(re.findall(r"^\d+: \[  SKIPPED \] (\S+) \(\d+ ms\)", text, re.M)))
    failed = re.findall(r"^\s+\d+ - (\S+) \(", text.split("The following tests FAILED:")[-1], re.M) if "FAILED:" in text else []
    return {"exit": int(open(rc_path).read()), "tests": int(m.group(3)) if m else 0, "failed": int(m.group(2)) if m else -1,
            "skipped": skipped, "failed_names": failed}

unit = {"parser_tests_every_byte": gtest("unit_parsers"), "cpu_suite": ctest()}
unit_bad = any(u and (u["exit"] != 0 or u["failed"] != 0) for u in unit.values())
summary = {"mode": "quick" if quick else "full", "seed": seed, "files": dict(sorted(files.items())),
           "files_total": sum(files.values()), "runs": {k: dict(v) for k, v in sorted(runs.items())},
           "runs_total": sum(v["runs"] for v in runs.values()), "findings": findings, "unit_tests": unit,
           "slowest_runs": [{"ms": ms, "command": c, "file": f, "needed_second_try": bool(s)} for ms, c, f, s in sorted(timed)[::-1][:10]],
           "seconds": seconds}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)

verdicts = ["sanitizer", "memory", "crash", "hang", "code-executed"]
lines = ["# Fuzz and sanitizer run (%s mode, seed %d)" % (summary["mode"], seed), "",
         "| kind | files | runs | info | upscale | detect | exit 0 | exit 1 | exit 2 | sanitizer | memory | crash | hang | code executed |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
totals = collections.Counter()
for kind in sorted(files):
    c = runs.get(kind, collections.Counter())
    row = [files[kind], c["runs"], c["info"], c["upscale"], c["detect"], c["exit 0"], c["exit 1"], c["exit 2"]] + [c[v] for v in verdicts]
    totals.update({i: x for i, x in enumerate(row)})
    lines.append("| %s | %s |" % (kind, " | ".join(map(str, row))))
lines.append("| **total** | %s |" % " | ".join(str(totals[i]) for i in range(len(row))))
slow_total = sum(c["slow"] for c in runs.values())
lines += ["", "Slowest runs (ms): " + ", ".join("%s %s %d" % (f, c, ms) for ms, c, f, _ in sorted(timed)[::-1][:5]) +
          "; %d run(s) past the first timeout finished on the second try (handled, not hangs)" % slow_total]
lines += ["", "Unit tests under ASan+UBSan:", ""]
for name, u in unit.items():
    if u is None:
        lines.append("* %s: not run" % name)
    else:
        lines.append("* %s: %d tests, %d failed, %d skipped, exit %d%s" % (name, u["tests"], u["failed"], u["skipped"], u["exit"],
                     (" — " + ", ".join(u["failed_names"])) if u.get("failed_names") else (" — " + u["note"] if "note" in u else "")))
lines += ["", "Findings: %d%s" % (len(findings), " (stderr and input of each in findings/)" if findings else "")]
for f in findings[:50]:
    lines.append("* %s %s: %s, exit %d" % (f["file"], f["command"], f["verdict"], f["exit"]))
lines += ["", "Wall time: " + ", ".join("%s %d s" % kv for kv in seconds.items())]
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(1 if findings or unit_bad else 0)
EOF
