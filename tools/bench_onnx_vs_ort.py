#!/usr/bin/env python3
"""Times `microsr onnx run` against ONNX Runtime on the same model, inputs and thread count, side by
side, and prints our per-op time split.

    tools/bench_onnx_vs_ort.py MODEL_DIR [MODEL_DIR ...] [--threads 2] [--runs 5] [--rounds 3]
        [--microsr build/microsr] [--also OTHER_MICROSR ...] [--reference-too] [--no-spin]

MODEL_DIR holds model.onnx and inputs/<input>.npy (the layout of tests/data/onnx/sam/<model>/ and
tests/data/onnx/ops/<case>/). The machine may be loaded by other work, so the sides are
interleaved: each of --rounds rounds times ORT, then each microsr binary (--microsr, every --also,
and with --reference-too the first one again with MICROSR_ONNX_REFERENCE=1, the reference kernels
only), --runs runs each after one warm-up run (ours: the first run folds the shape arithmetic).
Reported per side: the best wall time of any run, and the median over rounds of the CPU time per
run (process time of all threads; with OpenMP/ORT spinning threads it over-counts at > 1 thread).
Also prints the max difference of each side's outputs from ORT's, relative to ORT's scale, and the
per-op split of the first microsr binary's last round.

--no-spin: idle threads sleep instead of spinning on both sides (OMP_WAIT_POLICY=passive for ours,
session.intra_op.allow_spinning=0 for ORT). On a machine loaded by other work a spinning thread
that loses its core stalls every barrier: the SAM decoder at 2 threads, load 5, took 1.3 s wall /
0.90 s CPU per run spinning and 0.24 s / 0.17 s not.

Environment: the same venv as tools/make_onnx_op_fixtures.py:
    /usr/bin/python3 -m venv --system-site-packages /work/venvs/runtime
    /work/venvs/runtime/bin/pip install onnx==1.17.0 onnxruntime==1.19.2
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort


def inputs_of(model_dir):
    folder = os.path.join(model_dir, "inputs")
    return {f[:-4]: np.load(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith(".npy")}


def time_ort(session, feeds, runs):
    session.run(None, feeds)
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        session.run(None, feeds)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), statistics.mean(cpus)


def time_microsr(program, model, model_dir, threads, runs, out_dir, reference, no_spin=False):
    args = [program, "onnx", "run", model, "-o", out_dir, "--threads", str(threads), "--runs", str(runs + 1)]
    for name in inputs_of(model_dir):
        args += ["--input", f"{name}={os.path.join(model_dir, 'inputs', name + '.npy')}"]
    env = dict(os.environ, MICROSR_ONNX_REFERENCE="1" if reference else "0")
    if no_spin:
        env["OMP_WAIT_POLICY"] = "passive"
    text = subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout
    later = re.search(r"later runs: best ([0-9.]+) s wall, ([0-9.]+) s CPU", text)
    if later:
        return float(later.group(1)), float(later.group(2)), text
    # An older binary prints only its last run's wall time: its CPU time per run is the difference
    # of the children's CPU time between this process and one with a single run.
    wall = float(re.search(r"run time ([0-9.]+) s", text).group(1))
    def child_cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    before = child_cpu()
    subprocess.run(args, check=True, capture_output=True, env=env)
    many = child_cpu() - before
    single = args[:]
    single[single.index("--runs") + 1] = "1"
    before = child_cpu()
    subprocess.run(single, check=True, capture_output=True, env=env)
    return wall, (many - (child_cpu() - before)) / runs, text


def worst_diff(out_dir, expected_outputs):
    worst = 0.0
    for name, expected in expected_outputs.items():
        got = np.load(os.path.join(out_dir, re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy"))
        worst = max(worst, float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-30)))
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dirs", nargs="+")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--microsr", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "microsr"))
    parser.add_argument("--also", action="append", default=[], help="another microsr binary to time (e.g. a build of main)")
    parser.add_argument("--reference-too", action="store_true", help="also time --microsr with the reference kernels only")
    parser.add_argument("--no-spin", action="store_true", help="idle threads sleep on both sides (loaded machines)")
    args = parser.parse_args()
    sides = [(args.microsr, False)] + [(p, False) for p in args.also] + ([(args.microsr, True)] if args.reference_too else [])
    names = ["microsr"] + [f"also {p}" for p in args.also] + (["microsr, reference kernels"] if args.reference_too else [])
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}" + (", --no-spin" if args.no_spin else ""))
    for model_dir in args.model_dirs:
        model = os.path.join(model_dir, "model.onnx")
        feeds = inputs_of(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        if args.no_spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        ort_out = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        walls = [[] for _ in range(len(sides) + 1)]
        cpus = [[] for _ in range(len(sides) + 1)]
        diffs, split = [0.0] * len(sides), ""
        for _ in range(args.rounds):
            wall, cpu = time_ort(session, feeds, args.runs)
            walls[0].append(wall), cpus[0].append(cpu)
            for s, (program, reference) in enumerate(sides):
                with tempfile.TemporaryDirectory() as out_dir:
                    wall, cpu, text = time_microsr(program, model, model_dir, args.threads, args.runs, out_dir, reference,
                                                   args.no_spin)
                    diffs[s] = worst_diff(out_dir, ort_out)
                walls[s + 1].append(wall), cpus[s + 1].append(cpu)
                if s == 0:
                    split = text[text.find("nodes:"):]
        print(f"== {model_dir} ({args.threads} threads, {args.rounds} rounds x {args.runs} runs, interleaved)")
        ort_wall, ort_cpu = min(walls[0]), statistics.median(cpus[0])
        print(f"   onnxruntime {ort.__version__:10s} best {ort_wall * 1e3:9.2f} ms wall, {ort_cpu * 1e3:9.2f} ms CPU")
        for s, name in enumerate(names):
            wall, cpu = min(walls[s + 1]), statistics.median(cpus[s + 1])
            print(f"   {name:22s} best {wall * 1e3:9.2f} ms wall, {cpu * 1e3:9.2f} ms CPU; "
                  f"ratio to ORT {wall / ort_wall:.2f} wall, {cpu / ort_cpu:.2f} CPU; max diff {diffs[s]:.1e} of scale")
        print("   " + split.strip().replace("\n", "\n   "))


if __name__ == "__main__":
    main()
