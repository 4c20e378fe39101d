"""The results table of tools/gpu_check.sh: one TSV of rows, printed as a table, exported as CSV/JSON.

Every step of gpu_check.sh (bash) and its Python helpers (gpu_parity.py, gpu_compare_torch.py)
append rows to one TSV file that lives in the build directory, so a table printed by a later call
on the same (warm) machine still shows the rows of earlier calls. Columns:

    call     the id of the gpu_check.sh call that wrote the row (its start time, UTC)
    step     build | tests | parity | torch | train | bench
    metric   what was measured, with its unit
    ours     microsr's figure          torch   PyTorch's figure on the same GPU (or empty)
    ratio    how many times better ours is (> 1: ours better; speed: torch time / our time)
    target   the issue's target as text (≤1e-4, ≥50 dB, ≥2.5×, …) or empty for information
    status   PASS | FAIL | SKIP | INFO | N/A
    note     anything a reader needs (fallback sizes, simulated run, where the log is)

Usage (stdlib only, any python3):
    gpu_report.py add   --results R --call C --step S --metric M [--ours ..] [--torch ..] ...
    gpu_report.py clear --results R --steps parity,torch     rows of these steps are removed
    gpu_report.py table --results R --call C [--header FILE]  prints the table; exit 1 if a row
                                                              of call C failed
    gpu_report.py export --results R --out DIR [--meta K=V]   writes results.csv and results.json
"""
import argparse
import csv
import json
import os
import sys

COLUMNS = ["call", "step", "metric", "ours", "torch", "ratio", "target", "status", "note"]
STEP_ORDER = ["env", "build", "tests", "parity", "torch", "train", "seed", "profile", "bench", "compile"]


def _clean(value):
    return str(value if value is not None else "").replace("\t", " ").replace("\n", " ").strip()


def add_row(results, call, step, metric, ours="", torch="", ratio="", target="", status="INFO",
            note=""):
    """Appends one row; the file is created on first use. Values are written as given (strings)."""
    os.makedirs(os.path.dirname(os.path.abspath(results)), exist_ok=True)
    row = [call, step, metric, ours, torch, ratio, target, status, note]
    with open(results, "a", encoding="utf-8") as f:
        f.write("\t".join(_clean(v) for v in row) + "\n")


def read_rows(results):
    if not os.path.exists(results):
        return []
    rows = []
    with open(results, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < len(COLUMNS):
                fields += [""] * (len(COLUMNS) - len(fields))
            rows.append(dict(zip(COLUMNS, fields[:len(COLUMNS)])))
    return rows


def clear_steps(results, steps):
    kept = [r for r in read_rows(results) if r["step"] not in steps]
    tmp = results + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in kept:
            f.write("\t".join(_clean(r[c]) for c in COLUMNS) + "\n")
    os.replace(tmp, results)


def fmt_number(x, digits=4):
    """Compact text for a float: 3 significant digits for big values, scientific for tiny ones."""
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if x != x:
        return "nan"
    if x == float("inf"):
        return "inf"
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e6):
        return f"{x:.2e}"
    if ax >= 100:
        return f"{x:.1f}"
    return f"{x:.{digits}g}"


def sorted_rows(rows):
    order = {s: i for i, s in enumerate(STEP_ORDER)}
    return sorted(enumerate(rows), key=lambda ir: (order.get(ir[1]["step"], 99), ir[0]))


def print_table(results, call, header_file=None, out=sys.stdout):
    rows = [r for _, r in sorted_rows(read_rows(results))]
    if header_file and os.path.exists(header_file):
        with open(header_file, encoding="utf-8") as f:
            out.write(f.read().rstrip("\n") + "\n")
    cols = ["step", "metric", "ours", "torch", "ratio", "target", "status"]
    widths = {c: len(c) for c in cols}
    for r in rows:
        for c in cols:
            widths[c] = min(max(widths[c], len(r[c])), 64 if c == "metric" else 14)
    line = "  ".join(c.ljust(widths[c]) for c in cols) + "  note"
    out.write(line + "\n" + "-" * min(len(line) + 30, 150) + "\n")
    earlier = False
    for r in rows:
        mark = "" if r["call"] == call else " [earlier call]"
        earlier = earlier or bool(mark)
        cells = [r[c][:widths[c]].ljust(widths[c]) for c in cols]
        out.write("  ".join(cells) + "  " + r["note"] + mark + "\n")
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{counts[k]} {k}" for k in ("PASS", "FAIL", "SKIP", "N/A", "INFO") if k in counts)
    out.write(f"summary: {summary or 'no rows'}"
              + ("; rows marked [earlier call] come from an earlier call on this machine" if earlier else "")
              + "\n")
    return counts


def export(results, out_dir, meta=None):
    """results.csv (the rows) and results.json: {"meta": the run's card, driver, commit…, "rows": […]}."""
    rows = [r for _, r in sorted_rows(read_rows(results))]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta or {}, "rows": rows}, f, indent=1, ensure_ascii=False)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_add = sub.add_parser("add")
    for name in ("results", "call", "step", "metric"):
        p_add.add_argument("--" + name, required=True)
    for name in ("ours", "torch", "ratio", "target", "note"):
        p_add.add_argument("--" + name, default="")
    p_add.add_argument("--status", default="INFO")
    p_clear = sub.add_parser("clear")
    p_clear.add_argument("--results", required=True)
    p_clear.add_argument("--steps", required=True)
    p_table = sub.add_parser("table")
    p_table.add_argument("--results", required=True)
    p_table.add_argument("--call", default="")
    p_table.add_argument("--header")
    p_export = sub.add_parser("export")
    p_export.add_argument("--results", required=True)
    p_export.add_argument("--out", required=True)
    p_export.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                          help="a fact about the run for results.json (card, driver, commit, ...)")
    args = parser.parse_args(argv[1:])

    if args.command == "add":
        add_row(args.results, args.call, args.step, args.metric, args.ours, args.torch, args.ratio,
                args.target, args.status, args.note)
    elif args.command == "clear":
        clear_steps(args.results, set(args.steps.split(",")))
    elif args.command == "table":
        print_table(args.results, args.call, args.header)
        this_call = [r for r in read_rows(args.results) if r["call"] == args.call]
        return 1 if any(r["status"] == "FAIL" for r in this_call) else 0
    elif args.command == "export":
        export(args.results, args.out, dict(m.split("=", 1) for m in args.meta if "=" in m))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
