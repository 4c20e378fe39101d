#!/usr/bin/env python3
"""Sums an ncu --csv log by kernel name and adds the ranking to gpu_check's results.

    gpu_ncu_summary.py RAW_CSV OUT_CSV RESULTS CALL LABEL

RAW_CSV is what `ncu --csv --log-file` wrote (one row per kernel launch and metric). OUT_CSV gets
one row per kernel name: launches, seconds, share of the total, and the SM and memory throughput
(% of peak) weighted by time. RESULTS gets a total row and the eight largest kernels as INFO rows
(a FAIL row when the log holds no durations). Exits 1 when there was nothing to sum.
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_report import add_row  # noqa: E402

UNIT_SECONDS = {"nsecond": 1e-9, "usecond": 1e-6, "msecond": 1e-3, "second": 1.0,
                "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def read_launches(raw_path):
    """{launch ID: {"name", "seconds", "sm", "mem"}} from ncu's CSV (other lines are its log)."""
    launches = {}
    with open(raw_path, encoding="utf-8", errors="replace") as f:
        lines = [line for line in f if line.startswith('"')]
    for r in csv.DictReader(lines):
        k = launches.setdefault(r["ID"], {"name": r["Kernel Name"]})
        metric, unit, value = r["Metric Name"], r["Metric Unit"], r["Metric Value"].replace(",", "")
        try:
            v = float(value)
        except ValueError:
            continue
        if metric in ("Duration", "gpu__time_duration.sum"):
            k["seconds"] = v * UNIT_SECONDS.get(unit, 1e-9)
        elif metric.startswith("Compute (SM) Throughput") or metric == "sm__throughput.avg.pct_of_peak_sustained_elapsed":
            k["sm"] = v
        elif metric.startswith("Memory Throughput") and unit == "%":
            k["mem"] = v
    return launches


def group_by_kernel(launches):
    """Kernel name (template arguments cut) -> launches, seconds and time-weighted throughputs."""
    groups = {}
    for k in launches.values():
        if "seconds" not in k:
            continue
        name = k["name"].split("(")[0][:90]
        g = groups.setdefault(name, {"n": 0, "s": 0.0, "sm": 0.0, "mem": 0.0})
        g["n"] += 1
        g["s"] += k["seconds"]
        g["sm"] += k.get("sm", 0) * k["seconds"]
        g["mem"] += k.get("mem", 0) * k["seconds"]
    return groups


def main(argv):
    raw, out, results, call, label = argv[1:6]
    launches = read_launches(raw) if os.path.exists(raw) else {}
    groups = group_by_kernel(launches)
    if not groups:
        add_row(results, call, "profile", f"ncu profile: {label}", status="FAIL",
                note=f"no kernel durations in {os.path.basename(raw)} (see the profile_ncu logs)")
        return 1
    total = sum(g["s"] for g in groups.values())
    ranked = sorted(groups.items(), key=lambda kv: -kv[1]["s"])
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["kernel", "launches", "seconds", "share", "sm_pct_time_weighted", "mem_pct_time_weighted"])
        for name, g in ranked:
            w.writerow([name, g["n"], f"{g['s']:.6f}", f"{g['s'] / total:.4f}", f"{g['sm'] / g['s']:.1f}",
                        f"{g['mem'] / g['s']:.1f}"])
    add_row(results, call, "profile", f"ncu {label}: {len(launches)} kernel launches, s", f"{total:.4f}",
            note=f"kernel time only, one timed pass; logs/{os.path.basename(out)}")
    for name, g in ranked[:8]:
        add_row(results, call, "profile", f"{label}: {name}", f"{100 * g['s'] / total:.1f} %",
                note=f"{g['n']} launches, {1e3 * g['s'] / g['n']:.3f} ms each; "
                     f"SM {g['sm'] / g['s']:.0f} %, memory {g['mem'] / g['s']:.0f} % of peak")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
