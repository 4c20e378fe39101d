"""Side-by-side CPU speed of one fine-tuning iteration, microsr vs PyTorch, in one run.

The iteration (both sides): the full RealESRGAN_x4plus in float32, a random batch of B LR patches
S×S and their HR targets 4S×4S, forward, L1 loss (mean), backward, one Adam step (lr 1e-4,
0.9/0.999) — microsr also updates its EMA of the weights (BasicSR's model_ema), which PyTorch
here does not, so the comparison is slightly in PyTorch's favour. Same thread count, one warm-up
iteration, then the median of --reps. Each side runs in its own process so its peak resident
memory (ru_maxrss, weights loading included) is its own.

  PyTorch:  this script re-invoked as a worker (torch.set_num_threads(T), train(), the model of
            tools/torch_rrdbnet.py with the ncnn weights of tools/ncnn_rrdbnet.py)
  microsr:  <build>/microsr bench --mode train --batch B --size S --reps N --threads T

Usage: /usr/bin/python3 tools/compare_train_step_vs_torch.py [--build build] [--batch 4] [--size 32]
           [--reps 3] [--threads 2] [--param models/realesrgan-x4plus.param]
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
from compare_cpu_vs_torch import find_binary, last_json_line  # noqa: E402
from ncnn_rrdbnet import DEFAULT_PARAM  # noqa: E402


def torch_worker(param, batch, size, reps, threads):
    import torch
    from ncnn_rrdbnet import load_ncnn_rrdbnet
    from torch_rrdbnet import build_from_state_dict, config_from_state_dict

    torch.set_num_threads(threads)
    weights = load_ncnn_rrdbnet(param)
    config = config_from_state_dict(weights)
    model = build_from_state_dict(weights, torch.float32).train()
    del weights
    for p in model.parameters():
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999))
    g = torch.Generator().manual_seed(0)
    lr = torch.rand(batch, config["num_in_ch"], size, size, generator=g)
    hr = torch.rand(batch, config["num_out_ch"], size * 4, size * 4, generator=g)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = (model(lr) - hr).abs().mean()
        loss.backward()
        optimizer.step()

    step()  # warm-up
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    print(json.dumps(dict(mode="train", size=size, batch=batch, seconds_median=median, seconds_best=min(seconds),
                          images_per_s=batch / median,
                          peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          threads=torch.get_num_threads(), torch=torch.__version__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(REPO_ROOT, "build"))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=32, help="LR patch side (HR = 4×)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--param", default=DEFAULT_PARAM)
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        torch_worker(args.param, args.batch, args.size, args.reps, args.threads)
        return

    binary = find_binary(args.build)
    if binary is None:
        sys.exit(f"no microsr binary in {args.build}; build first")
    common = ["--batch", str(args.batch), "--size", str(args.size), "--reps", str(args.reps),
              "--threads", str(args.threads)]
    ours = subprocess.run([binary, "bench", "--mode", "train", "--model", args.param] + common,
                          capture_output=True, text=True)
    if ours.returncode != 0:
        sys.exit(f"microsr bench --mode train failed:\n{ours.stderr}")
    ours = last_json_line(ours.stdout)
    theirs = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", "--param", args.param] + common,
                            capture_output=True, text=True, check=True)
    theirs = last_json_line(theirs.stdout)

    print(f"one training iteration, batch {args.batch} × {args.size}×{args.size} LR (HR {4 * args.size}), "
          f"full RealESRGAN_x4plus, fp32, {args.threads} threads, median of {args.reps}")
    print(f"  PyTorch {theirs['torch']}: {theirs['seconds_median']:.3f} s ({theirs['images_per_s']:.2f} images/s), "
          f"peak RSS {theirs['peak_rss_mb']:.0f} MB")
    print(f"  microsr:        {ours['seconds_median']:.3f} s ({ours['images_per_s']:.2f} images/s), "
          f"peak RSS {ours['peak_rss_mb']:.0f} MB")
    print(f"  speed ratio (torch time / ours): {theirs['seconds_median'] / ours['seconds_median']:.2f}×, "
          f"memory ratio (ours / torch): {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
