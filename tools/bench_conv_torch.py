#!/usr/bin/python3
"""Times torch.nn.functional.conv2d (CPU) on the RRDBNet conv shapes, and compares with microsr.

Run with Debian's python (it has torch):
  /usr/bin/python3 tools/bench_conv_torch.py                      torch alone, 2 threads
  /usr/bin/python3 tools/bench_conv_torch.py --bench build/bench/bench_conv
        runs bench_conv too and prints microsr/torch per shape and variant
  /usr/bin/python3 tools/bench_conv_torch.py --compare bench.json   same, from a saved
        `bench_conv --benchmark_format=json` report
Options: --threads N (default 2), --filter REGEX (bench_conv variant/format filter), --reps N.

Both sides report the best of several repetitions (the machine may be shared: the minimum time is
the least disturbed one). The flop count is the direct-convolution count 2*cin*cout*k*k*h*w on
both sides, so Winograd variants report "effective" GFLOP/s. On a loaded machine, set
OMP_WAIT_POLICY=passive for both (spinning OpenMP threads that lose their core stall each barrier).
"""
import argparse
import json
import os
import subprocess
import time

import torch
import torch.nn.functional as F


# (cin, cout, h, w, k): the distinct convolutions of RealESRGAN_x4plus on a 64x64 and 128x128 input
# (the same list as bench/bench_conv.cpp).
def rrdbnet_shapes():
    shapes = []
    for size in (64, 128):
        shapes.append((3, 64, size, size, 3))            # conv_first
        for cin in (64, 96, 128, 160, 192):               # dense block: conv1..conv5
            shapes.append((cin, 32 if cin < 192 else 64, size, size, 3))
        shapes.append((64, 64, size, size, 3))            # conv_body
    shapes.append((64, 64, 256, 256, 3))                  # conv_up1 at 2x (64x64 input)
    shapes.append((64, 64, 512, 512, 3))                  # conv_up2 / conv_hr at 4x (128x128)
    shapes.append((64, 3, 512, 512, 3))                   # conv_last at 4x (128x128)
    return shapes


def shape_name(cin, cout, h, w, k):
    return f"{cin}x{cout}/{h}x{w}/k{k}"


def time_torch_conv(cin, cout, h, w, k, reps):
    torch.manual_seed(0)
    x = torch.rand(1, cin, h, w)
    wt = torch.randn(cout, cin, k, k) * 0.05
    b = torch.randn(cout)
    best = float("inf")
    with torch.no_grad():
        for _ in range(2):
            F.leaky_relu(F.conv2d(x, wt, b, padding=k // 2), 0.2)
        for _ in range(reps):
            start = time.perf_counter()
            F.leaky_relu(F.conv2d(x, wt, b, padding=k // 2), 0.2)  # same work as bench_conv
            best = min(best, time.perf_counter() - start)
    return best, 2.0 * cin * cout * k * k * h * w / best / 1e9


def best_microsr_gflops(report, threads):
    """{(variant, shape): best GFLOP/s over repetitions} from a bench_conv JSON report."""
    best = {}
    for bench in report["benchmarks"]:
        if bench.get("run_type") == "aggregate" or "GFLOPs" not in bench:
            continue
        # BM_conv/<variant>/<cin>x<cout>/<h>x<w>/k<k>/t<threads>, or BM_packed/<format>/...
        parts = bench["name"].split("/")
        if parts[0] not in ("BM_conv", "BM_packed") or parts[5] != f"t{threads}":
            continue
        variant = parts[1] if parts[0] == "BM_conv" else "packed:" + parts[1]
        key = (variant, "/".join(parts[2:5]))
        best[key] = max(best.get(key, 0.0), bench["GFLOPs"] / 1e9)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--bench", help="path of the bench_conv binary to run")
    parser.add_argument("--filter", default="", help="variant regex for bench_conv")
    parser.add_argument("--compare", help="saved bench_conv JSON report")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    report = None
    if args.bench:
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        out = subprocess.run(
            [args.bench, f"--benchmark_filter=BM_(conv|packed)/.*{args.filter}.*/t{args.threads}/",
             "--benchmark_repetitions=3", "--benchmark_min_time=0.2",
             "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True).stdout
        report = json.loads(out)
    elif args.compare:
        with open(args.compare) as f:
            report = json.load(f)

    torch_gflops = {}
    print(f"torch {torch.__version__}, {args.threads} threads")
    for shape in rrdbnet_shapes():
        seconds, gflops = time_torch_conv(*shape, reps=args.reps if shape[2] <= 256 else 3)
        torch_gflops[shape_name(*shape)] = gflops
        if report is None:
            print(f"{shape_name(*shape):22s} {seconds * 1e3:9.3f} ms {gflops:8.1f} GFLOP/s", flush=True)
    if report is None:
        return

    ours = best_microsr_gflops(report, args.threads)
    print(f"{'shape':22s} {'variant':26s} {'microsr':>8s} {'torch':>8s} {'ratio':>6s}  (GFLOP/s)")
    for (variant, shape), gflops in sorted(ours.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        theirs = torch_gflops.get(shape)
        if theirs:
            print(f"{shape:22s} {variant:26s} {gflops:8.1f} {theirs:8.1f} {gflops / theirs:6.2f}")


if __name__ == "__main__":
    main()
