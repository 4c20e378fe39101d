#!/usr/bin/env python3
"""Adds `microsr bench --layer-times` results to gpu_check's results: where the time goes, by layer.

    gpu_layer_summary.py LAYERS_CSV RESULTS CALL LABEL

LAYERS_CSV has one row per (op, shape), per pass: op, shape, calls, seconds, share, gflop,
tflop_per_s (src/backend/timed_backend.h; each op timed with the device drained around it).
RESULTS gets a total row, the six kinds of op that take the most time (conv,
conv_backward_data, ...) and the eight largest (op, shape) rows, all INFO; a FAIL row when the
file is missing or empty (and the exit status is 1).
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_report import add_row  # noqa: E402


def read_layers(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [{"op": r["op"], "shape": r["shape"], "calls": int(r["calls"]), "s": float(r["seconds"]),
                 "gflop": float(r["gflop"])} for r in csv.DictReader(f)]


def tflops(gflop, seconds):
    return f"{gflop / seconds / 1e3:.1f} TFLOP/s" if gflop > 0 and seconds > 0 else "no FLOP count"


def main(argv):
    path, results, call, label = argv[1:5]
    rows = read_layers(path) if os.path.exists(path) else []
    if not rows:
        add_row(results, call, "profile", f"layer times: {label}", status="FAIL",
                note=f"no rows in {os.path.basename(path)} (see the profile_layers logs)")
        return 1
    total = sum(r["s"] for r in rows)
    add_row(results, call, "profile", f"{label}: every op timed alone, s a pass", f"{total:.4f}",
            note=f"{sum(r['calls'] for r in rows)} ops a pass, device drained around each; "
                 f"logs/{os.path.basename(path)}")
    kinds = {}
    for r in rows:
        k = kinds.setdefault(r["op"], {"calls": 0, "s": 0.0, "gflop": 0.0})
        k["calls"] += r["calls"]
        k["s"] += r["s"]
        k["gflop"] += r["gflop"]
    for op, k in sorted(kinds.items(), key=lambda kv: -kv[1]["s"])[:6]:
        add_row(results, call, "profile", f"{label}: all {op}", f"{100 * k['s'] / total:.1f} %",
                note=f"{k['calls']} calls, {k['s'] * 1e3:.2f} ms, {tflops(k['gflop'], k['s'])}")
    for r in sorted(rows, key=lambda r: -r["s"])[:8]:
        add_row(results, call, "profile", f"{label}: {r['op']} {r['shape']}", f"{100 * r['s'] / total:.1f} %",
                note=f"{r['calls']} calls, {r['s'] * 1e3 / r['calls']:.3f} ms each, {tflops(r['gflop'], r['s'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
