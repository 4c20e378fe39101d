"""Side-by-side CPU speed of microsr vs PyTorch on the real RealESRGAN_x4plus, in one run.

Both sides: float32, batch 1, the same thread count, input 1×3×S×S, one warm-up run, then the best
and median of --reps timed runs of the whole forward pass. Each side runs in its own process so its
peak resident memory (ru_maxrss, which includes loading the weights) is its own.

  PyTorch:  this script re-invoked as a worker: torch.set_num_threads(T), eval(), no_grad(), the
            model built by tools/torch_rrdbnet.py from the ncnn weights read by
            tools/ncnn_rrdbnet.py.
  microsr:  <build>/microsr bench --model <param> --size S --reps N --threads T, which prints one
            JSON line: {"size":S,"seconds_median":…,"seconds_best":…,"peak_rss_mb":…,"gflops":…}

GFLOP/s on both sides = 2 × the network's multiply-accumulates (counted analytically by
torch_rrdbnet.multiply_accumulates) / median seconds.

Usage: /usr/bin/python3 tools/compare_cpu_vs_torch.py [--build build] [--sizes 64,128] [--reps 3]
           [--threads 2] [--param /work/shared/models/realesrgan-x4plus.param]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TOOLS_DIR)
sys.path.insert(0, TOOLS_DIR)
from ncnn_rrdbnet import DEFAULT_PARAM  # noqa: E402


def torch_worker(param, size, reps, threads):
    """Runs in a child process; prints one JSON line in the same form as `microsr bench`."""
    import torch
    from ncnn_rrdbnet import load_ncnn_rrdbnet
    from torch_rrdbnet import build_from_state_dict, config_from_state_dict, multiply_accumulates

    torch.set_num_threads(threads)
    weights = load_ncnn_rrdbnet(param)
    config = config_from_state_dict(weights)
    model = build_from_state_dict(weights, torch.float32)
    del weights
    x = torch.rand(1, config["num_in_ch"], size, size, generator=torch.Generator().manual_seed(0))
    seconds = []
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(reps):
            start = time.perf_counter()
            model(x)
            seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    flops = 2 * multiply_accumulates(config, size, size)
    print(json.dumps(dict(size=size, seconds_median=median, seconds_best=min(seconds),
                          peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          gflops=flops / median / 1e9, threads=torch.get_num_threads(),
                          torch=torch.__version__)))


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in output:\n{text}")


def run_torch(args, size):
    command = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--param", args.param,
               "--sizes", str(size), "--reps", str(args.reps), "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return last_json_line(done.stdout)


def find_binary(build_dir):
    for candidate in (os.path.join(build_dir, "microsr"),
                      os.path.join(build_dir, "bin", "microsr")):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_ours(binary, args, size):
    command = [binary, "bench", "--model", args.param, "--size", str(size), "--reps",
               str(args.reps), "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"microsr bench failed (exit {done.returncode}): {' '.join(command)}\n"
              f"{done.stderr.strip()}", file=sys.stderr)
        return None
    result = last_json_line(done.stdout)
    if (result.get("width"), result.get("height")) != (size, size):
        print(f"WARNING: microsr bench reported {result.get('size')} for --size {size}",
              file=sys.stderr)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(REPO_ROOT, "build"),
                        help="build directory holding the microsr binary")
    parser.add_argument("--sizes", default="64,128", help="comma-separated square input sizes")
    parser.add_argument("--reps", type=int, default=3, help="timed runs after one warm-up (≥ 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--param", default=DEFAULT_PARAM, help="ncnn .param (the .bin beside it)")
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    if args.torch_worker:
        torch_worker(args.param, sizes[0], args.reps, args.threads)
        return
    if args.reps < 3:
        parser.error("--reps must be at least 3 (the median of fewer runs says little)")

    from ncnn_rrdbnet import load_ncnn_rrdbnet
    from torch_rrdbnet import config_from_state_dict, multiply_accumulates
    config = config_from_state_dict(load_ncnn_rrdbnet(args.param))

    binary = find_binary(args.build)
    if binary is None:
        print(f"NOTE: no microsr binary in {args.build} (looked for microsr and bin/microsr); "
              f"build it (cmake -B {args.build} && cmake --build {args.build}) or pass --build. "
              f"Showing PyTorch only.", file=sys.stderr)

    rows = []
    for size in sizes:
        theirs = run_torch(args, size)
        ours = run_ours(binary, args, size) if binary else None
        rows.append((size, theirs, ours))

    print(f"RRDBNet {config['num_block']} blocks, {config['num_feat']} features, x4; float32, "
          f"batch 1, {args.threads} threads, median of {args.reps} after 1 warm-up "
          f"(torch {rows[0][1].get('torch', '?')})")
    header = (f"{'size':>5} {'GFLOP':>8} {'torch s':>9} {'ours s':>9} {'torch/ours':>10} "
              f"{'torch GF/s':>10} {'ours GF/s':>10} {'torch MB':>9} {'ours MB':>9}")
    print(header)
    print("-" * len(header))
    for size, theirs, ours in rows:
        gflop = 2 * multiply_accumulates(config, size, size) / 1e9
        t_torch = theirs["seconds_median"]
        torch_gfs = f"{gflop / t_torch:10.1f}"
        if ours:
            t_ours = ours["seconds_median"]
            line = (f"{size:5d} {gflop:8.1f} {t_torch:9.3f} {t_ours:9.3f} {t_torch / t_ours:10.2f} "
                    f"{torch_gfs} {gflop / t_ours:10.1f} {theirs['peak_rss_mb']:9.0f} "
                    f"{ours.get('peak_rss_mb', float('nan')):9.0f}")
        else:
            line = (f"{size:5d} {gflop:8.1f} {t_torch:9.3f} {'—':>9} {'—':>10} {torch_gfs} "
                    f"{'—':>10} {theirs['peak_rss_mb']:9.0f} {'—':>9}")
        print(line)
        print(f"      torch best {theirs['seconds_best']:.3f} s"
              + (f", ours best {ours['seconds_best']:.3f} s" if ours else ""))


if __name__ == "__main__":
    main()
