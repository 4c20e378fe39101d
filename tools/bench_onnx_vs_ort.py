#!/usr/bin/env python3
"""Times `microsr onnx run` against ONNX Runtime on the same model, inputs and thread count, side by
side, and prints our per-op time split.

    tools/bench_onnx_vs_ort.py MODEL_DIR [MODEL_DIR ...] [--threads 2] [--runs 5] [--microsr build/microsr]

MODEL_DIR holds model.onnx and inputs/<input>.npy (the layout of tests/data/onnx/sam/<model>/ and
tests/data/onnx/ops/<case>/). Our time is the last of --runs runs in one process (the first run
folds the shape arithmetic for the input shapes); ORT's is the median of --runs runs after one
warm-up run. Also prints the max difference between the two outputs, relative to ORT's scale.

Environment: the same venv as tools/make_onnx_op_fixtures.py:
    /usr/bin/python3 -m venv --system-site-packages /work/venvs/runtime
    /work/venvs/runtime/bin/pip install onnx==1.17.0 onnxruntime==1.19.2
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort


def inputs_of(model_dir):
    folder = os.path.join(model_dir, "inputs")
    return {f[:-4]: np.load(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith(".npy")}


def time_ort(model, feeds, threads, runs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    outputs = session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return statistics.median(times), dict(zip([o.name for o in session.get_outputs()], outputs))


def time_microsr(program, model, model_dir, threads, runs, out_dir):
    args = [program, "onnx", "run", model, "-o", out_dir, "--threads", str(threads), "--runs", str(runs + 1)]
    for name in inputs_of(model_dir):
        args += ["--input", f"{name}={os.path.join(model_dir, 'inputs', name + '.npy')}"]
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    seconds = float(re.search(r"run time ([0-9.]+) s", text).group(1))
    return seconds, text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dirs", nargs="+")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--microsr", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "microsr"))
    args = parser.parse_args()
    for model_dir in args.model_dirs:
        model = os.path.join(model_dir, "model.onnx")
        ort_s, ort_out = time_ort(model, inputs_of(model_dir), args.threads, args.runs)
        with tempfile.TemporaryDirectory() as out_dir:
            ours_s, text = time_microsr(args.microsr, model, model_dir, args.threads, args.runs, out_dir)
            worst = 0.0
            for name, expected in ort_out.items():
                path = os.path.join(out_dir, re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy")
                got = np.load(path)
                worst = max(worst, float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-30)))
        print(f"== {model_dir} ({args.threads} threads)")
        print(f"   onnxruntime {ort.__version__}: {ort_s * 1e3:9.2f} ms (median of {args.runs})")
        print(f"   microsr:          {ours_s * 1e3:9.2f} ms (last of {args.runs + 1}); ratio microsr/ORT {ours_s / ort_s:.2f}")
        print(f"   max diff vs ORT: {worst:.2e} of scale")
        split = text[text.find("nodes:"):]
        print("   " + split.strip().replace("\n", "\n   "))


if __name__ == "__main__":
    main()
