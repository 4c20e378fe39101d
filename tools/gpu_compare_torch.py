"""PyTorch on the same GPU as microsr: outputs, inference speed and training-step speed, side by side.

The PyTorch runs are tools/gpu_torch_runs.py (RRDBNet from tools/torch_rrdbnet.py with the real
RealESRGAN_x4plus weights read by tools/ncnn_rrdbnet.py from the ncnn file microsr loads; variants
fp32 = TF32 off, tf32 = PyTorch's default, fp16, fp16_cl = fp16 channels_last), each in a process of
its own: clean memory and its own peak figure. This script runs them beside microsr and writes the
table rows (tools/gpu_report.py). Subcommands:
    outputs --inputs a.tif,b.tif --out-dir D     PyTorch outputs only (D/<stem>_torch_<variant>.npy);
                                                 the comparisons are tools/gpu_parity.py rows
    speed   --size 1600x1200 --microsr BIN --results R   whole-image forward: the PyTorch variants
            and `microsr bench --device D --precision P --size WxH`. PyTorch falls back to half the
            size (then a quarter) on out-of-memory; ours is then run at that size too, so the ratio
            compares equal work
    train   --batch 4 --size 32 --microsr BIN --results R   one training iteration (forward, L1,
            backward, Adam lr 1e-4) on random LR/HR patches already on the device, against
            `microsr bench --mode train --device D --batch 4 --size 32`
Ratios are "times better for ours": PyTorch seconds / our seconds, our it/s / PyTorch it/s.
On --device cpu (a plumbing test without a GPU; --simulate turns verdicts into INFO) fp16 runs
as bfloat16 in PyTorch and microsr runs fp32.

Usage: python3 tools/gpu_compare_torch.py SUBCOMMAND [--device cuda|cpu] [--param model.param] ...
"""
import argparse
import json
import os
import subprocess
import sys
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)
from gpu_report import add_row, fmt_number  # noqa: E402

# The CUDA issue's targets (issue 11): fp16 ≥ 2.5× PyTorch fp16 channels_last and under 0.12 s on
# an H200 (judged on Hopper cards), fp32 ≥ PyTorch fp32, training ≥ 2× PyTorch's it/s and the
# seed's 50 epochs × 125 iterations under 60 s.
TARGETS = dict(fp16_speedup=2.5, fp32_speedup=1.0, fp16_seconds_hopper=0.12, train_speedup=2.0,
               seed_job_seconds=60.0, seed_job_iterations=50 * 125)


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    return None


def run_logged(command, log_dir, name, timeout):
    """Runs a command, keeps its output in log_dir/name.log; returns (JSON line or None, why)."""
    log = os.path.join(log_dir, name + ".log")
    os.makedirs(log_dir, exist_ok=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        stdout, output, code = done.stdout, done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        output, code = stdout + f"\nTIMEOUT after {timeout} s", "timeout"
    except OSError as e:
        stdout, output, code = "", f"could not start: {e}", "not started"
    with open(log, "w", encoding="utf-8") as f:
        f.write("$ " + " ".join(command) + "\n" + output + f"\n[exit {code}]\n")
    result = last_json(stdout) if code == 0 else None
    if result is None:
        tail = output.strip().splitlines()[-1:] or [""]
        return None, f"exit {code}: {tail[0][:160]} (log {name}.log)"
    return result, ""


def torch_worker(args, kind, variant, extra, timeout):
    command = [sys.executable, os.path.join(TOOLS_DIR, "gpu_torch_runs.py"), kind, "--variant", variant,
               "--device", args.device, "--param", args.param, "--reps", str(args.reps),
               "--warmup", str(args.warmup)] + extra
    return run_logged(command, args.log_dir, f"torch_{kind}_{variant}", timeout)


def ours(args, extra, name, timeout):
    command = [args.microsr, "bench", "--device", args.ours_device, "--reps", str(args.reps),
               "--model", args.param] + extra
    return run_logged(command, args.log_dir, name, timeout)


class Rows:
    """Writes rows for one step; in --simulate runs every verdict becomes INFO ('sim PASS')."""

    def __init__(self, args, step):
        self.args, self.step = args, step

    def add(self, metric, ours="", torch="", ratio="", target="", ok=None, note=""):
        status = "INFO" if ok is None else ("PASS" if ok else "FAIL")
        if self.args.simulate and ok is not None:
            note, status = f"simulated on CPU, would be {status}; " + note, "INFO"
        add_row(self.args.results, self.args.call, self.step, metric, ours, torch, ratio, target,
                status, note)

    def missing(self, metric, why, target=""):
        add_row(self.args.results, self.args.call, self.step, metric, target=target,
                status="N/A" if "not available" in why else "FAIL", note=why)


def ratio_text(r):
    return f"{r:.2f}×" if r else ""


def run_speed(args):
    rows = Rows(args, "torch")
    budget_end = time.monotonic() + args.budget
    left = lambda: max(30, int(budget_end - time.monotonic()))  # noqa: E731
    torch_results = {}
    for variant in args.variants.split(","):
        result, why = torch_worker(args, "speed", variant, ["--size", args.size], left())
        torch_results[variant] = result
        if result is None:
            rows.missing(f"torch {variant} {args.size} forward", why)
    ours_results = {}
    for precision, variant in (("fp32", "fp32"), ("fp16", "fp16_cl")):
        t = torch_results.get(variant) or torch_results.get("fp16" if precision == "fp16" else "")
        # PyTorch fell back to a smaller size on out-of-memory: run ours at that size too.
        want = f"{t['width']}x{t['height']}" if t else args.size
        ours_precision = "fp32" if args.simulate else precision
        result, why = ours(args, ["--precision", ours_precision, "--size", want],
                           f"ours_speed_{precision}_{want}", left())
        ours_results[precision] = (result, why, want)

    shown = set()

    def compare(metric, precision, variant, target_ratio):
        mine, why, size = ours_results[precision]
        theirs = torch_results.get(variant)
        t_s = theirs["seconds_median"] if theirs else None
        if mine is None:
            rows.missing(metric, "microsr: " + why, f"≥{target_ratio}×")
            return None
        shown.add(variant)
        o_s = mine["seconds_median"]
        ratio = t_s / o_s if t_s else None
        note = f"at {size}; TFLOP/s ours {mine.get('gflops', 0) / 1e3:.1f}"
        if theirs:
            note += f", torch {theirs['gflops'] / 1e3:.1f}; {theirs.get('note', '')}".rstrip("; ")
        paths = mine.get("conv_paths")
        if paths and any(paths.values()):  # how our convolutions ran: a variant falling back shows here
            note += (f"; our convs: {paths['fused']} fused, {paths['unfused']} unfused ({paths['fallback']} by the "
                     f"legacy fallback, {paths['packed_input']} packed inputs, {paths['packed_output']} packed outputs)")
        rows.add(metric, fmt_number(o_s), fmt_number(t_s), ratio_text(ratio), f"≥{target_ratio}×",
                 None if ratio is None else ratio >= target_ratio, note)
        return mine

    mine16 = compare(f"infer {args.size} fp16, s (torch fp16 channels_last)", "fp16", "fp16_cl",
                     TARGETS["fp16_speedup"])
    compare(f"infer {args.size} fp32, s (torch fp32, TF32 off)", "fp32", "fp32", TARGETS["fp32_speedup"])
    if mine16 is not None:
        hopper = any(k in args.gpu_name for k in ("H100", "H200", "GH200"))
        limit = TARGETS["fp16_seconds_hopper"]
        rows.add(f"infer {args.size} fp16 absolute, s", fmt_number(mine16["seconds_median"]),
                 target=f"<{limit} s (H200)",
                 ok=(mine16["seconds_median"] < limit) if hopper and ours_results["fp16"][2] == args.size else None,
                 note=f"card: {args.gpu_name or 'unknown'}")
    for variant, theirs in torch_results.items():  # PyTorch figures no comparison above showed
        if theirs and variant not in shown:
            mine = ours_results["fp32" if variant in ("fp32", "tf32") else "fp16"][0]
            size = f"{theirs['width']}x{theirs['height']}"
            rows.add(f"torch {variant} {size}, s (ours: same precision)",
                     fmt_number(mine["seconds_median"]) if mine else "", fmt_number(theirs["seconds_median"]),
                     ratio_text(theirs["seconds_median"] / mine["seconds_median"]) if mine else "",
                     note=theirs.get("note", ""))
    for precision, variant in (("fp16", "fp16_cl"), ("fp32", "fp32")):
        mine, theirs = ours_results[precision][0], torch_results.get(variant)
        if mine or theirs:
            rows.add(f"peak device MB {precision} {ours_results[precision][2]}",
                     fmt_number((mine or {}).get("peak_device_mb")),
                     fmt_number((theirs or {}).get("peak_device_mb")),
                     note="ours: microsr's own figure; torch: max_memory_allocated (no context, no cache)")
    # What the first image at a new size pays beyond the median (upscale's first image): our two
    # warm-up passes against PyTorch's --warmup runs.
    for precision, variant in (("fp16", "fp16_cl"), ("fp32", "fp32")):
        warm = (ours_results[precision][0] or {}).get("warmup_s")
        theirs = (torch_results.get(variant) or {}).get("warmup_seconds")
        if not warm and theirs is None:
            continue
        mine = warm["first_pass"] + warm["second_pass"] if warm else None
        runs = args.warmup
        note = f"torch: {runs} warm-up run{'' if runs == 1 else 's'} (cudnn.benchmark searches in the first)"
        if warm:
            second = (f", second {warm['second_pass']:.3g} s (records the CUDA graph)" if warm["second_pass"] > 0
                      else ", no second (no CUDA graph to record)")
            note = (f"ours: first pass {warm['first_pass']:.3g} s (makes each convolution's plan: on CUDA cuDNN's, "
                    f"compiled and timed){second}; " + note)
        rows.add(f"warm-up passes {precision} {ours_results[precision][2]}, s", fmt_number(mine), fmt_number(theirs),
                 ratio_text(theirs / mine) if mine and theirs else "", note=note)
    with open(os.path.join(args.log_dir, "speed.json"), "w", encoding="utf-8") as f:
        json.dump(dict(torch=torch_results, ours={k: v[0] for k, v in ours_results.items()}), f, indent=1)
    return 0


def run_train(args):
    rows = Rows(args, "train")
    shape = f"b{args.batch} LR {args.size}x{args.size}"
    torch_results = {}
    for variant in args.variants.split(","):
        extra = ["--batch", str(args.batch), "--size", str(args.size)]
        result, why = torch_worker(args, "train", variant, extra, args.budget)
        torch_results[variant] = result
        if result is None:
            rows.missing(f"torch train {variant} {shape}", why)
    mine, why = ours(args, ["--mode", "train", "--precision", "fp32", "--batch", str(args.batch),
                            "--size", str(args.size)], "ours_train_fp32", args.budget)
    theirs = torch_results.get("fp32")
    t_its = theirs["iterations_per_second"] if theirs else None
    metric = f"train step {shape} fp32, it/s (torch fp32, TF32 off)"
    if mine is None:
        rows.missing(metric, "microsr bench --mode train: " + why + (
            "; not available yet" if "not available" not in why else ""), f"≥{TARGETS['train_speedup']}×")
        if theirs:
            rows.add(f"torch fp32 {shape}, it/s", torch=fmt_number(t_its), note=theirs.get("note", ""))
        o_its = None
    else:
        o_its = mine.get("iterations_per_second") or 1 / mine["seconds_median"]
        ratio = o_its / t_its if t_its else None
        rows.add(metric, fmt_number(o_its), fmt_number(t_its), ratio_text(ratio),
                 f"≥{TARGETS['train_speedup']}×", None if ratio is None else ratio >= TARGETS["train_speedup"])
    n = TARGETS["seed_job_iterations"]
    rows.add("seed job 50 epochs × 125 it, s (estimate)", fmt_number(n / o_its) if o_its else "",
             fmt_number(n / t_its) if t_its else "", ratio_text(o_its / t_its) if o_its and t_its else "",
             f"<{TARGETS['seed_job_seconds']:.0f} s (H200)",
             None if not o_its else n / o_its < TARGETS["seed_job_seconds"],
             note="iterations / (it/s); data loading not counted")
    other = torch_results.get("tf32")
    if other:
        rows.add(f"torch default (TF32 convs) {shape}, it/s", torch=fmt_number(other["iterations_per_second"]),
                 ratio=ratio_text(o_its / other["iterations_per_second"]) if o_its else "")
    # Where a step's time goes, each phase timed with the device drained after it (torch has no
    # prepare phase: its convolutions read the parameters as they are).
    # For forward and backward also the host's time to issue the phase's work: near the phase's
    # time, the device waited on the host.
    our_phases, their_phases = (mine or {}).get("phases_s", {}), (theirs or {}).get("phases_s", {})
    our_issue, their_issue = (mine or {}).get("phases_issue_s", {}), (theirs or {}).get("phases_issue_s", {})
    for phase in ["forward", "loss", "backward", "optimizer", "prepare"]:
        o, t = our_phases.get(phase), their_phases.get(phase)
        if o is None and t is None:
            continue
        note = "device drained after each phase; ratio = torch / ours"
        if phase in our_issue or phase in their_issue:
            oi, ti = our_issue.get(phase), their_issue.get(phase)
            issued = " / ".join(f"{1e3 * v:.2f} ms" if v is not None else "?" for v in (oi, ti))
            note += f"; host issued it in {issued} (ours / torch)"
        rows.add(f"train phase {phase} {shape} fp32, ms", fmt_number(1e3 * o) if o is not None else "",
                 fmt_number(1e3 * t) if t is not None else "", ratio_text(t / o) if o and t else "", note=note)
    if theirs or mine:
        rows.add("peak device MB train", fmt_number((mine or {}).get("peak_device_mb")),
                 fmt_number((theirs or {}).get("peak_device_mb")))
    with open(os.path.join(args.log_dir, "train.json"), "w", encoding="utf-8") as f:
        json.dump(dict(torch=torch_results, ours=mine), f, indent=1)
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["outputs", "speed", "train"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--param", default=os.path.join(os.path.dirname(TOOLS_DIR), "models",
                                                        "realesrgan-x4plus.param"))
    parser.add_argument("--variants", help="comma-separated: fp32, tf32, fp16, fp16_cl")
    parser.add_argument("--inputs", help="outputs: comma-separated 16-bit TIFF inputs")
    parser.add_argument("--out-dir", help="outputs: where the .npy files go")
    parser.add_argument("--size", default="1600x1200", help="speed: WxH; train: LR patch side")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--microsr", help="the microsr binary")
    parser.add_argument("--ours-device", help="--device for microsr (default: --device)")
    parser.add_argument("--results", help="the results TSV (tools/gpu_report.py)")
    parser.add_argument("--call", default="")
    parser.add_argument("--log-dir", default=".")
    parser.add_argument("--gpu-name", default="")
    parser.add_argument("--budget", type=int, default=400, help="seconds for the whole subcommand")
    parser.add_argument("--simulate", action="store_true",
                        help="a plumbing test on the CPU: verdicts are shown as INFO")
    args = parser.parse_args(argv[1:])
    args.ours_device = args.ours_device or args.device
    if args.command == "outputs":
        import gpu_torch_runs
        args.variants = args.variants or "fp32,fp16,fp16_cl"
        return gpu_torch_runs.run_outputs(args)
    if not args.microsr or not args.results:
        parser.error(f"{args.command} needs --microsr and --results")
    if args.command == "speed":
        args.variants = args.variants or "fp32,fp16,fp16_cl"
        return run_speed(args)
    args.variants = args.variants or "fp32,tf32"
    args.size = int(args.size)
    return run_train(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
