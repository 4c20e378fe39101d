#!/usr/bin/env python3
"""Adds gpu_check's `microsr finetune` run (the train step's second part) to its results.

    gpu_finetune_rows.py STEM RESULTS CALL --pairs N --patch P --epochs E --start-up A,B --torch-load RC
                         [--simulate]

STEM is the run's output without .pth: STEM.iterations.csv (iteration, epoch, lr, loss, grad_norm,
images_per_s) and STEM.epochs.csv (mean loss and validation per epoch) are what the CLI logs.
RESULTS gets:
  * PASS or FAIL: every iteration of E epochs of N // 4 batches is logged (the stopped run and the
    resumed one together), every validation figure is finite, and PyTorch loaded the .pth
    (RC, the exit status of tools/check_finetuned_pth.py);
  * INFO: the median images/s of the iterations (A, B: the first iteration of each run, which pays
    for the algorithm choices, left out) and the seed's 50 epochs × 125 iterations of 4 pairs at
    that rate, in seconds: the CLI's own rate, data loading, EMA and checkpoints included.
With --simulate (gpu_check --simulate-cpu) the verdict is shown as INFO, "would be PASS".
Exit status 0 on PASS, 1 on FAIL.
"""
import argparse
import csv
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_compare_torch import TARGETS  # noqa: E402
from gpu_report import add_row, fmt_number  # noqa: E402

VALIDATION_COLUMNS = ("val_l1", "val_psnr", "ema_val_l1", "ema_val_psnr")


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stem")
    parser.add_argument("results")
    parser.add_argument("call")
    parser.add_argument("--pairs", type=int, required=True)
    parser.add_argument("--patch", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--start-up", default="1", help="iterations left out of the rate, comma-separated")
    parser.add_argument("--torch-load", type=int, required=True)
    parser.add_argument("--simulate", action="store_true", help="a CPU plumbing run: verdicts as INFO")
    args = parser.parse_args()

    iterations = read_csv(args.stem + ".iterations.csv")
    epochs = read_csv(args.stem + ".epochs.csv")
    expected = args.epochs * (args.pairs // 4)
    validation = [float(e[k]) for e in epochs for k in VALIDATION_COLUMNS if e.get(k)]
    finite = bool(validation) and all(math.isfinite(v) for v in validation)
    logged = [int(r["iteration"]) for r in iterations]
    complete = logged == list(range(1, expected + 1))
    ok = complete and finite and args.torch_load == 0

    problems = []
    if not complete:
        problems.append(f"iterations logged {logged[:3]}…{logged[-2:]} ({len(logged)}), expected 1…{expected}")
    if not finite:
        problems.append("validation: " + ("not finite" if validation else "no figures"))
    if args.torch_load != 0:
        problems.append(f"tools/check_finetuned_pth.py exit {args.torch_load} (see finetune_torch_load.log)")
    # Epoch 0 is the starting model's validation (no training loss).
    per_epoch = "; ".join(("before training" if e["epoch"] == "0" else f"epoch {e['epoch']}: loss {e['mean_loss']}")
                          + f", val PSNR {e.get('val_psnr') or '-'} dB, EMA {e.get('ema_val_psnr') or '-'} dB"
                          for e in epochs)
    status, note = "PASS" if ok else "FAIL", "; ".join(problems + [per_epoch])
    if args.simulate:
        status, note = "INFO", f"simulated on CPU, would be {status}; " + note
    add_row(args.results, args.call, "train",
            f"finetune CLI, real network, {args.pairs} pairs, batch 4, HR patch {args.patch}: "
            "stopped, resumed, .pth loads in PyTorch",
            f"{len(iterations)}/{expected} iterations", status=status, note=note)

    start_up = {int(i) for i in args.start_up.split(",") if i}
    rates = [float(r["images_per_s"]) for r in iterations if int(r["iteration"]) not in start_up]
    if rates:
        rate = statistics.median(rates)
        seed_seconds = TARGETS["seed_job_iterations"] * 4 / rate
        add_row(args.results, args.call, "train", "finetune CLI: images/s, median iteration",
                fmt_number(rate), status="INFO",
                note=f"the seed's 50 × 125 iterations of 4 pairs at this rate: {fmt_number(seed_seconds)} s "
                     f"(target < {TARGETS['seed_job_seconds']:.0f} s; data loading, EMA and checkpoints included)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
