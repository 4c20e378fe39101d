#!/usr/bin/env python3
"""Adds `microsr bench --layer-times` results to gpu_check's results: where the time goes, by layer.

    gpu_layer_summary.py LAYERS_CSV RESULTS CALL LABEL [CARD]

LAYERS_CSV has one row per (op, shape), per pass: op, shape, calls, seconds, share, gflop,
tflop_per_s (src/backend/timed_backend.h; each op timed with the device drained around it).
RESULTS gets a total row, the six kinds of op that take the most time (conv,
conv_backward_data, ...) and the eight largest (op, shape) rows, all INFO; a FAIL row when the
file is missing or empty (and the exit status is 1). With CARD (the device's name) a card that
tools/conv_roofline.py knows, each convolution is also set against its roofline floor (fp16 when
LABEL says so, else fp32), and a row sums the convolutions' time against the sum of their floors.
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conv_roofline import card_peaks, floor_seconds  # noqa: E402
from gpu_report import add_row  # noqa: E402


def read_layers(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [{"op": r["op"], "shape": r["shape"], "calls": int(r["calls"]), "s": float(r["seconds"]),
                 "gflop": float(r["gflop"])} for r in csv.DictReader(f)]


def tflops(gflop, seconds):
    return f"{gflop / seconds / 1e3:.1f} TFLOP/s" if gflop > 0 and seconds > 0 else "no FLOP count"


def floor_note(row, precision, peaks):
    """', floor 76.8 µs each (memory), 24 % of it' for a convolution row; '' for anything else."""
    floor = floor_seconds(row["shape"], precision, peaks)
    if floor is None or row["s"] <= 0:
        return ""
    each = floor[0]
    return f", floor {each * 1e6:.1f} µs each ({floor[1]}), {100 * each * row['calls'] / row['s']:.0f} % of it"


def add_floor_total(rows, results, call, label, precision, card, peaks):
    """One row: the convolutions' measured time against the sum of their floors."""
    timed = floors = 0.0
    for r in rows:
        floor = floor_seconds(r["shape"], precision, peaks)
        if floor is not None:
            timed, floors = timed + r["s"], floors + floor[0] * r["calls"]
    if timed > 0:
        add_row(results, call, "profile", f"{label}: convolutions vs roofline floor, s",
                f"{timed:.4f}", note=f"floor {floors:.4f} s, {100 * floors / timed:.0f} % of the time measured; "
                                     f"{card}, {precision}, data-sheet peaks (tools/conv_roofline.py)")


def main(argv):
    path, results, call, label = argv[1:5]
    card = argv[5] if len(argv) > 5 else ""
    peaks = card_peaks(card)
    precision = "fp16" if "fp16" in label else "fp32"
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
                note=f"{r['calls']} calls, {r['s'] * 1e3 / r['calls']:.3f} ms each, {tflops(r['gflop'], r['s'])}"
                     + floor_note(r, precision, peaks))
    if peaks is not None:
        add_floor_total(rows, results, call, label, precision, card, peaks)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
