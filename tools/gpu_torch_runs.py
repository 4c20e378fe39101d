"""The PyTorch side of tools/gpu_compare_torch.py: one run per process, one JSON line out.

tools/torch_rrdbnet.py's RRDBNet with the real weights read by tools/ncnn_rrdbnet.py from the
ncnn .param/.bin that microsr loads. Variants:
    fp32     float32, TF32 off for convolutions and matrix products (the strict reference)
    tf32     float32 with PyTorch's default (cuDNN convolutions may use TF32)
    fp16     model.half(), NCHW — what Real-ESRGAN's inference does with half=True
    fp16_cl  fp16 with model and input in channels_last (NHWC), PyTorch's fastest eager form
    compile  fp16_cl through torch.compile(mode="max-autotune"): the strongest PyTorch a user
             could pick (information only); its compile time is reported apart from the timing
On --device cpu fp16 runs as bfloat16 (PyTorch's CPU convolutions have no fp16); the JSON's note
says so.

    outputs --inputs a.tif,b.tif --out-dir D --variants fp32,fp16   D/<stem>_torch_<variant>.npy
    speed   --variant V --size WxH --reps R --warmup W    whole-image forward; halves the size on
                                                          out-of-memory (twice at most)
    train   --variant V --batch B --size S --reps R       forward, L1, backward, Adam (lr 1e-4)
Timing: warm-up runs first (cuDNN autotuning happens there: benchmark mode is on for speed and
train), then --reps runs, each synchronised; median and best reported.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)


def parse_size(text):
    """'64' → (64, 64); '1600x1200' → (1600, 1200) as (width, height)."""
    parts = text.lower().split("x")
    return (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))


def torch_setup(variant, device, benchmark):
    """Returns (torch module, dtype, channels_last, note)."""
    import torch
    strict = variant != "tf32"
    torch.backends.cuda.matmul.allow_tf32 = not strict
    torch.backends.cudnn.allow_tf32 = not strict
    torch.backends.cudnn.benchmark = benchmark
    note = ""
    if variant in ("fp16", "fp16_cl", "compile"):
        dtype = torch.float16
        if device == "cpu":
            dtype, note = torch.bfloat16, "cpu: bfloat16 stands in for fp16"
    else:
        dtype = torch.float32
    return torch, dtype, variant in ("fp16_cl", "compile"), note


def build_model(param, variant, device, benchmark=False):
    from ncnn_rrdbnet import load_ncnn_rrdbnet
    from torch_rrdbnet import build_from_state_dict
    torch, dtype, channels_last, note = torch_setup(variant, device, benchmark)
    model = build_from_state_dict(load_ncnn_rrdbnet(param), torch.float32).to(device=device, dtype=dtype)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if variant == "compile":
        model = torch.compile(model, mode="max-autotune")
    return model, dtype, channels_last, note


def to_model_input(x, dtype, channels_last):
    import torch
    x = x.to(dtype=dtype)
    return x.to(memory_format=torch.channels_last) if channels_last else x.contiguous()


def sync(device):
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device):
    import torch
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_mb(device):
    import torch
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def is_oom(error):
    return "out of memory" in str(error).lower()


def run_outputs(args):
    """Outputs of each variant on each input, float32 [3][H][W], not clamped (NaN/Inf stay)."""
    import numpy as np
    import torch
    from gpu_parity import read_image
    os.makedirs(args.out_dir, exist_ok=True)
    summary = []
    for variant in args.variants.split(","):
        model, dtype, channels_last, note = build_model(args.param, variant, args.device)
        for path in args.inputs.split(","):
            stem = os.path.splitext(os.path.basename(path))[0]
            x = torch.from_numpy(read_image(path)[None]).to(args.device)
            start = time.perf_counter()
            with torch.no_grad():
                y = model(to_model_input(x, dtype, channels_last)).float()
            sync(args.device)
            y = y[0].cpu().numpy()
            out = os.path.join(args.out_dir, f"{stem}_torch_{variant}.npy")
            np.save(out, y)
            summary.append(dict(input=stem, variant=variant, seconds=time.perf_counter() - start,
                                nonfinite=int((~np.isfinite(y)).sum()), shape=list(y.shape),
                                out=out, note=note))
            print(json.dumps(summary[-1]), flush=True)
        del model
        reset_peak(args.device)
    return 0


def run_speed(args):
    """One variant's whole-image forward at args.size, halving on out-of-memory; one JSON line."""
    import torch
    from torch_rrdbnet import config_from_state_dict, multiply_accumulates
    from ncnn_rrdbnet import load_ncnn_rrdbnet
    model, dtype, channels_last, note = build_model(args.param, args.variant, args.device, benchmark=True)
    config = config_from_state_dict(load_ncnn_rrdbnet(args.param))
    width, height = parse_size(args.size)
    notes = [note] if note else []
    for attempt in range(3):
        try:
            reset_peak(args.device)
            x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
            x = to_model_input(x.to(args.device), dtype, channels_last)
            seconds = []
            with torch.no_grad():
                start = time.perf_counter()
                for _ in range(args.warmup):  # torch.compile compiles and autotunes here
                    model(x)
                sync(args.device)
                warmup_seconds = time.perf_counter() - start
                for _ in range(args.reps):
                    start = time.perf_counter()
                    model(x)
                    sync(args.device)
                    seconds.append(time.perf_counter() - start)
            median = statistics.median(seconds)
            flops = 2 * multiply_accumulates(config, height, width)
            print(json.dumps(dict(variant=args.variant, width=width, height=height,
                                  seconds_median=median, seconds_best=min(seconds),
                                  peak_device_mb=peak_mb(args.device), gflops=flops / median / 1e9,
                                  warmup_seconds=warmup_seconds, torch=torch.__version__,
                                  note="; ".join(notes + ([f"compile + autotune {warmup_seconds:.0f} s, not timed"]
                                                          if args.variant == "compile" else [])))), flush=True)
            return 0
        except (RuntimeError, MemoryError) as e:
            if not is_oom(e) or attempt == 2:
                raise
            notes.append(f"out of memory at {width}x{height}")
            width, height = width // 2, height // 2
            x = None
    return 1


def run_train(args):
    """Training iterations/s: forward, L1 against a random HR batch, backward, Adam step."""
    import torch
    import torch.nn.functional as F
    model, dtype, channels_last, note = build_model(args.param, args.variant, args.device, benchmark=True)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999))
    generator = torch.Generator().manual_seed(0)
    lr = torch.rand(args.batch, 3, args.size, args.size, generator=generator).to(args.device)
    hr = torch.rand(args.batch, 3, 4 * args.size, 4 * args.size, generator=generator).to(args.device)
    reset_peak(args.device)

    def iteration():
        optimizer.zero_grad(set_to_none=True)
        loss = F.l1_loss(model(lr), hr)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(args.warmup):
        iteration()
    sync(args.device)
    seconds = []
    total_start = time.perf_counter()
    for _ in range(args.reps):
        start = time.perf_counter()
        loss = iteration()
        sync(args.device)
        seconds.append(time.perf_counter() - start)
    total = time.perf_counter() - total_start
    median = statistics.median(seconds)

    # Where the time goes: the same iterations, the device drained after each phase (as microsr's
    # bench --mode train does), and for forward and backward the host's time to issue their work
    # (before the drain). Medians per phase.
    def phased_iteration():
        marks = [time.perf_counter()]
        issued = []

        def mark():
            issued.append(time.perf_counter() - marks[-1])
            sync(args.device)
            marks.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        sr = model(lr)
        mark()
        loss = F.l1_loss(sr, hr)
        mark()
        loss.backward()
        mark()
        optimizer.step()
        mark()
        return [b - a for a, b in zip(marks, marks[1:])], issued
    phase_runs = [phased_iteration() for _ in range(args.reps)]
    names = ["forward", "loss", "backward", "optimizer"]
    phases = {name: statistics.median(run[i] for run, _ in phase_runs) for i, name in enumerate(names)}
    issue = {name: statistics.median(run[i] for _, run in phase_runs) for i, name in enumerate(names)
             if name in ("forward", "backward")}
    print(json.dumps(dict(variant=args.variant, batch=args.batch, size=args.size,
                          seconds_median=median, seconds_best=min(seconds),
                          iterations_per_second=1 / median, throughput_its=args.reps / total,
                          final_loss=float(loss), peak_device_mb=peak_mb(args.device),
                          phases_s=phases, phases_issue_s=issue, torch=torch.__version__, note=note)),
          flush=True)
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["outputs", "speed", "train"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--param", required=True, help="ncnn .param (the .bin beside it)")
    parser.add_argument("--variant", default="fp32")
    parser.add_argument("--variants", default="fp32,fp16,fp16_cl")
    parser.add_argument("--inputs")
    parser.add_argument("--out-dir")
    parser.add_argument("--size", default="1600x1200")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv[1:])
    if args.command == "outputs":
        return run_outputs(args)
    if args.command == "speed":
        return run_speed(args)
    args.size = int(args.size)
    return run_train(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
