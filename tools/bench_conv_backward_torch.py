#!/usr/bin/python3
"""Times torch's convolution gradients (CPU) on the training shapes, and compares with microsr.

Run with Debian's python (it has torch 1.13):
  /usr/bin/python3 tools/bench_conv_backward_torch.py                 torch alone, 2 threads
  /usr/bin/python3 tools/bench_conv_backward_torch.py --bench build/bench/bench_conv_backward
        runs bench_conv_backward too and prints microsr/torch per shape and kernel
  /usr/bin/python3 tools/bench_conv_backward_torch.py --compare bench.json   same, from a saved
        `bench_conv_backward --benchmark_format=json` report
Options: --threads N (default 2), --reps N, --filter REGEX (bench_conv_backward name filter),
  --rounds N: run both sides N times, alternating, and keep each one's best (on a shared machine
  this gives both sides the same chance of a quiet moment).

The shapes are the distinct convolutions of one RealESRGAN_x4plus training step on a batch of 4
32x32 LR patches (128x128 outputs); the list matches bench/bench_conv_backward.cpp. torch's side
is torch.ops.aten.convolution_backward (what autograd calls) with output_mask [dx] or [dw, db],
and F.conv2d for the forward. Both sides count the forward-equivalent direct flops
2*n*cin*cout*k*k*h*w and report the best of several repetitions (the machine may be shared). On a
loaded machine set OMP_WAIT_POLICY=passive for both.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conv_roofline import parse_conv_shape, realesrgan_x4plus_convs  # noqa: E402

BATCH = 4


def training_shapes():
    """{(n, cin, cout, h, w, k): how often it runs in one step} for every distinct conv of a
    training step, in network order: conv_first, the dense blocks' five (69 times each: 23 RRDB
    x 3), conv_body, conv_up1, conv_up2 and conv_hr (one shape), conv_last. From
    tools/conv_roofline.py's list of the network's convolutions."""
    uses = {}
    for shape in realesrgan_x4plus_convs(32, 32, BATCH):
        n, cin, h, w, cout, k = parse_conv_shape(shape)
        uses[(n, cin, cout, h, w, k)] = uses.get((n, cin, cout, h, w, k), 0) + 1
    return uses


def production_kernel(kind, n, cin, cout, h, w, k):
    """The kernel the CPU backend runs (conv2d_backward_weight_best, best_conv_weight_format)."""
    if kind == "wgrad":
        return "wgrad_v1_direct" if min(cin, cout) < 8 or k != 3 else "wgrad_v3_winograd43_outer"
    return "winograd43" if kind == "dgrad" else "packed"


def shape_name(n, cin, cout, h, w, k):
    return f"{cin}x{cout}/{h}x{w}/n{n}"


def flops(n, cin, cout, h, w, k):
    return 2.0 * n * cin * cout * k * k * h * w


def best_time(fn, reps):
    fn()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def time_torch(n, cin, cout, h, w, k, reps):
    torch.manual_seed(0)
    x = torch.rand(n, cin, h, w)
    weight = torch.randn(cout, cin, k, k) * 0.05
    bias = torch.randn(cout)
    dy = torch.randn(n, cout, h, w) * 1e-3
    pad = k // 2

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            dy, x, weight, [cout], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, mask)

    with torch.no_grad():
        return {
            "fwd": best_time(lambda: F.leaky_relu(F.conv2d(x, weight, bias, padding=pad), 0.2), reps),
            "dgrad": best_time(backward([True, False, False]), reps),
            "wgrad": best_time(backward([False, True, True]), reps),
        }


def microsr_gflops(report, threads):
    """{(kind, kernel, shape): best GFLOP/s} from a bench_conv_backward JSON report."""
    best = {}
    for bench in report["benchmarks"]:
        if bench.get("run_type") == "aggregate" or "GFLOPs" not in bench:
            continue
        # BM_<kind>/<kernel>/<cin>x<cout>/<h>x<w>/n<n>/t<threads>[/real_time]
        parts = bench["name"].split("/")
        if parts[5] != f"t{threads}":
            continue
        key = (parts[0][3:], parts[1], "/".join(parts[2:5]))
        best[key] = max(best.get(key, 0.0), bench["GFLOPs"] / 1e9)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--bench", help="path of the bench_conv_backward binary to run")
    parser.add_argument("--filter", default="", help="benchmark name regex for bench_conv_backward")
    parser.add_argument("--compare", help="saved bench_conv_backward JSON report")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {args.threads} threads; GFLOP/s = forward-equivalent flops / time")
    torch_gflops, ours = {}, {}
    for round_index in range(args.rounds):
        report = None
        if args.bench:
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
            command = [args.bench, "--benchmark_repetitions=3", "--benchmark_min_time=0.2",
                       "--benchmark_format=json"]
            if args.filter:
                command.append(f"--benchmark_filter={args.filter}")
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
            report = json.loads(out)
        elif args.compare:
            with open(args.compare) as f:
                report = json.load(f)
        if report is not None:
            for key, gflops in microsr_gflops(report, args.threads).items():
                ours[key] = max(ours.get(key, 0.0), gflops)
        for shape in training_shapes():
            times = time_torch(*shape, reps=args.reps if shape[3] <= 64 else 3)
            name = shape_name(*shape)
            for kind, seconds in times.items():
                gflops = flops(*shape) / seconds / 1e9
                torch_gflops[(kind, name)] = max(torch_gflops.get((kind, name), 0.0), gflops)
            if report is None and round_index == args.rounds - 1:
                print(f"{name:22s} " + "  ".join(f"{kind} {torch_gflops[(kind, name)]:6.1f}"
                                                 for kind in times), flush=True)
    if not ours:
        return

    print(f"{'shape':22s} {'kind':6s} {'kernel':22s} {'microsr':>8s} {'torch':>8s} {'ratio':>6s}")
    for (kind, kernel, name), gflops in sorted(ours.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        theirs = torch_gflops.get((kind, name))
        if theirs:
            print(f"{name:22s} {kind:6s} {kernel:22s} {gflops:8.1f} {theirs:8.1f} {gflops / theirs:6.2f}")

    # The convolution work of one training step with the kernels the backend runs (conv_first's
    # input needs no gradient, so no dgrad there).
    print("one training step's convolutions (s):")
    totals = {}
    for shape, uses in training_shapes().items():
        name = shape_name(*shape)
        for kind in ("fwd", "dgrad", "wgrad"):
            if kind == "dgrad" and shape[1] == 3:
                continue
            mine = ours.get((kind, production_kernel(kind, *shape), name))
            theirs = torch_gflops.get((kind, name))
            if mine and theirs:
                totals.setdefault(kind, [0.0, 0.0])
                totals[kind][0] += uses * flops(*shape) / mine / 1e9
                totals[kind][1] += uses * flops(*shape) / theirs / 1e9
    for kind, (mine, theirs) in totals.items():
        print(f"  {kind:6s} microsr {mine:7.3f}  torch {theirs:7.3f}  ratio {theirs / mine:5.2f}x")
    mine, theirs = sum(t[0] for t in totals.values()), sum(t[1] for t in totals.values())
    print(f"  total  microsr {mine:7.3f}  torch {theirs:7.3f}  ratio {theirs / mine:5.2f}x")


if __name__ == "__main__":
    main()
