# shellcheck shell=bash
# Sourced by tools/gpu_check.sh: the "bench" step.
#   1. an end-to-end upscale of a 1600×1200 16-bit image (→ 6400×4800) with a 512 tile, and one
#      forward pass of the padded tile alone, both watched by nvidia-smi: the whole image must not
#      need more device memory than its tile does (the issue's "never more than the tile")
#   2. peak device memory of one forward pass per tile size, fp16 and fp32, from microsr bench
#   3. CUDA graphs on vs off at small tiles (64, 128, 256), fp16
#   4. the whole network at 1600×1200 with each CUDA convolution variant (--conv), fp16 and fp32
#   5. every bench/bench_* binary's CUDA cases (names containing cuda or gpu, any case), JSON kept
# Uses from gpu_check.sh: BIN WORK LOGDIR MICROSR PARAM DEV PY SIMULATE SPEED_SIZE INPUTS, row,
# runlog, left, make_inputs, ours_precision.

BENCH_FILTER='(cuda|Cuda|CUDA|gpu|Gpu|GPU)'

# Largest nvidia-smi memory.used (MiB, whole GPU) while a command runs, minus the reading before it.
# Prints "peak_mib rc"; peak is empty without nvidia-smi.
sampled_run() {  # name seconds command...
  local name="$1" limit="$2"; shift 2
  local samples="$LOGDIR/$name.nvsmi" base="" sampler="" rc
  if command -v nvidia-smi >/dev/null && [ "$SIMULATE" = 0 ]; then
    base="$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -n1 | tr -d ' ')"
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 >"$samples" 2>/dev/null &
    sampler=$!
  fi
  runlog "$name" "$limit" "$@"; rc=$?
  if [ -n "$sampler" ]; then
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    local peak; peak="$(tr -d ' ' <"$samples" | grep -E '^[0-9]+$' | sort -n | tail -n1)"
    [ -n "$peak" ] && [ -n "$base" ] && echo "$((peak - base)) $rc" && return
  fi
  echo " $rc"
}

json_field() {  # log-file field: the field of the last JSON line in a log
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
for line in reversed(open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()):
    if line.strip().startswith("{"):
        value = json.loads(line).get(sys.argv[2])
        print("" if value is None else value)
        break
EOF
}

bench_binaries() {
  local b name cases ok=0
  mkdir -p "$WORK/json"
  [ "$DRY" = 1 ] && echo "  would run each $BIN/bench/bench_* with --benchmark_filter='$BENCH_FILTER' (JSON kept)"
  for b in "$BIN"/bench/bench_*; do
    [ -f "$b" ] && [ -x "$b" ] && [ "$DRY" = 0 ] || continue
    name="$(basename "$b")"
    cases="$("$b" --benchmark_list_tests 2>/dev/null | grep -cE "$BENCH_FILTER")"
    if [ "${cases:-0}" = 0 ]; then
      row bench "$name: CUDA cases" 0 "" "" "" INFO "none in this binary"; continue
    fi
    if runlog "bench_$name" "$(( $(left) > 260 ? 240 : $(left) - 20 ))" "$b" --benchmark_filter="$BENCH_FILTER" \
         --benchmark_min_time=0.1 --benchmark_out="$WORK/json/$name.json" --benchmark_out_format=json; then
      "$PY" - "$WORK/json/$name.json" "$RESULTS" "$CALL" "$name" "$SIMULATE" <<'EOF' || ok=1
import json, sys
sys.path.insert(0, "tools")
from gpu_report import add_row, fmt_number
path, results, call, binary, simulate = sys.argv[1:6]
runs = [b for b in json.load(open(path))["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
errors = [b for b in runs if b.get("error_occurred")]
for b in errors[:6]:  # a case that reported an error (SkipWithError) ran nothing
    add_row(results, call, "bench", f"{binary}: {b['name']}", status="INFO" if simulate == "1" else "FAIL",
            note="error: " + str(b.get("error_message", "")))
if len(errors) > 6:
    add_row(results, call, "bench", f"{binary}: {len(errors) - 6} more cases with errors",
            status="INFO" if simulate == "1" else "FAIL")
runs = [b for b in runs if not b.get("error_occurred")]
for b in runs[:12]:
    extra = {k: v for k, v in b.items() if k not in ("name", "run_name", "run_type", "repetitions",
             "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
             "family_index", "per_family_instance_index", "aggregate_name")}
    note = ", ".join(f"{k} {fmt_number(v) if isinstance(v, float) else v}" for k, v in extra.items())
    add_row(results, call, "bench", f"{binary}: {b['name']}", f"{fmt_number(b['real_time'])} {b['time_unit']}",
            note=note)
if len(runs) > 12:
    add_row(results, call, "bench", f"{binary}: {len(runs) - 12} more cases", note="in logs.tar.gz json/")
sys.exit(1 if errors and simulate != "1" else 0)
EOF
    else
      ok=1; row bench "$name: CUDA cases" "$cases" "" "" "all run" FAIL "see bench_$name.log"
    fi
  done
  return $ok
}

tile_memory() {
  local t p log peak secs ok=0
  for t in ${GPU_CHECK_TILES:-$([ "$SIMULATE" = 1 ] && echo "16 32" || echo "128 256 512 1024")}; do
    for p in fp16 fp32; do
      log="$LOGDIR/tile_${t}_$p.log"
      if runlog "tile_${t}_$p" 180 "$MICROSR" bench --device "$DEV" --precision "$(ours_precision "$p")" \
           --size "$t" --reps 2 --model "$PARAM"; then
        [ "$DRY" = 1 ] && continue
        peak="$(json_field "$log" peak_device_mb)"; secs="$(json_field "$log" seconds_median)"
        row bench "peak device MB, forward of a ${t}x$t tile, $p" "$peak" "" "" "" INFO \
          "forward $(printf '%.4g' "${secs:-0}") s (microsr bench's own figure)"
      else
        ok=1; row bench "peak device MB, forward of a ${t}x$t tile, $p" "" "" "" "" FAIL "$(tail -n2 "$log" | head -n1)"
      fi
    done
  done
  return $ok
}

whole_image_memory() {
  local size="$SPEED_SIZE" tile=512 pad=10 p=fp16 out="$WORK/outputs/upscale_whole.tif"
  [ "$SIMULATE" = 1 ] && tile=8
  make_inputs "$size" || return 1
  local in="$INPUTS/in_$size.tif" t0 r_up r_tile secs
  if [ "$DRY" = 1 ]; then
    echo "  would run, watched by nvidia-smi: $MICROSR upscale $in -o $out --device $DEV --precision $p --tile $tile"
    echo "  would run, watched by nvidia-smi: $MICROSR bench --device $DEV --precision $p --size $((tile + 2 * pad))"
    return 0
  fi
  t0=$SECONDS
  r_up="$(sampled_run upscale_whole_tile$tile "$(($(left) / 2))" "$MICROSR" upscale "$in" -o "$out" \
    --device "$DEV" --precision "$(ours_precision $p)" --tile "$tile" --tile-pad "$pad" --overwrite --model "$PARAM")"
  secs=$((SECONDS - t0))
  r_tile="$(sampled_run forward_tile$tile "$(($(left) / 2))" "$MICROSR" bench --device "$DEV" \
    --precision "$(ours_precision $p)" --size $((tile + 2 * pad)) --reps 2 --model "$PARAM")"
  local up_mb="${r_up% *}" up_rc="${r_up##* }" tile_mb="${r_tile% *}" tile_rc="${r_tile##* }"
  if [ "$up_rc" != 0 ]; then
    row bench "upscale $size fp16 tile $tile: runs" "" "" "" "" FAIL "exit $up_rc; see upscale_whole_tile$tile.log"
    return 1
  fi
  row bench "upscale $size→×4 fp16 tile $tile, wall s (incl. reading, writing)" "$secs" "" "" "" INFO ""
  if [ -z "$up_mb" ] || [ -z "$tile_mb" ] || [ "$tile_rc" != 0 ]; then
    row bench "upscale $size fp16 tile $tile: GPU MB vs its tile" "${up_mb:-n/a}" "" "" "" INFO \
      "not compared: nvidia-smi missing or the tile forward failed (exit $tile_rc)"
    return 0
  fi
  local limit=$((tile_mb * 11 / 10 + 64)) status=PASS
  [ "$up_mb" -le "$limit" ] || status=FAIL
  row bench "upscale $size fp16 tile $tile: GPU MB (nvidia-smi) vs one tile" "$up_mb" "" "" "≤$limit" "$status" \
    "one $((tile + 2 * pad))² forward alone: $tile_mb MB; limit = tile × 1.1 + 64 MB"
  [ "$status" = PASS ]
}

# The whole network with each CUDA convolution variant (microsr bench --conv; the names are those
# `microsr bench --help` lists): kernel variants are kept with their measured numbers. A variant
# that fails is noted, not a failure of the step.
conv_variants() {
  local v p log size="$SPEED_SIZE"
  [ "$SIMULATE" = 1 ] && return 0
  for v in ${GPU_CHECK_CONV_VARIANTS:-legacy_find legacy_heuristic graph graph_fused}; do
    for p in fp16 fp32; do
      log="$LOGDIR/conv_${v}_$p.log"
      [ "$(left)" -lt 40 ] && { row bench "conv variant $v $p" "" "" "" "" SKIP "budget"; continue; }
      if runlog "conv_${v}_$p" 120 "$MICROSR" bench --device "$DEV" --precision "$p" --size "$size" \
           --reps 2 --conv "$v" --model "$PARAM"; then
        [ "$DRY" = 1 ] && continue
        row bench "conv variant $v, $size $p, s" "$(json_field "$log" seconds_median)" "" "" "" INFO \
          "$(json_field "$log" gflops) GFLOP/s, peak $(json_field "$log" peak_device_mb) MB"
      else
        row bench "conv variant $v, $size $p, s" "" "" "" "" INFO "failed: $(tail -n2 "$log" | head -n1)"
      fi
    done
  done
}

# CUDA graphs where launches dominate (small tiles): microsr bench with --cuda-graphs on and off.
# The "torch" column holds the graphs-off time here; ratio > 1: the recorded graph is faster.
cuda_graphs() {
  local t g on off ok
  [ "$SIMULATE" = 1 ] && return 0
  for t in 64 128 256; do
    [ "$(left)" -lt 30 ] && { row bench "CUDA graphs on vs off, ${t}x$t fp16" "" "" "" "" SKIP "budget"; continue; }
    ok=1
    for g in on off; do
      runlog "graphs_${g}_$t" 60 "$MICROSR" bench --device "$DEV" --precision fp16 --size "$t" --reps 10 \
        --cuda-graphs "$g" --model "$PARAM" || ok=0
    done
    [ "$DRY" = 1 ] && continue
    if [ "$ok" = 1 ]; then
      on="$(json_field "$LOGDIR/graphs_on_$t.log" seconds_median)"
      off="$(json_field "$LOGDIR/graphs_off_$t.log" seconds_median)"
      row bench "CUDA graphs on vs off, ${t}x$t fp16, s" "$on" "$off" \
        "$(awk -v a="$off" -v b="$on" 'BEGIN { if (b > 0) printf "%.2f", a / b }')" "" INFO "torch column: graphs off"
    else
      row bench "CUDA graphs on vs off, ${t}x$t fp16" "" "" "" "" FAIL "see graphs_*_$t.log"
    fi
  done
}

step_bench() {
  ensure_built || return 1
  local rc=0
  # Most telling first: a call cut short by its budget still has the memory verdict.
  whole_image_memory || rc=1
  tile_memory || rc=1
  cuda_graphs || rc=1
  conv_variants
  bench_binaries || rc=1
  return $rc
}
