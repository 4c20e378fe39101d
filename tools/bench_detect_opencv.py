"""Times microdisk detection on one full 10X frame: OpenCV against microsr, same image, same threads.

OpenCV runs the seed's pipeline (make_segment_fixtures.opencv_detect: cvtColor → GaussianBlur →
adaptiveThreshold → open → close → findContours → contourArea/arcLength/boundingRect/moments) with
cv2.setNumThreads(THREADS). microsr runs bench/bench_detect's BM_DetectDisks with
OMP_NUM_THREADS=THREADS on the same pixels (via $MICROSR_BENCH_IMAGE), twice: /classical:1 is stage 1
alone — the same pipeline as OpenCV's, step for step — and /classical:0 the whole detector with its
defaults (stage 2 too: touching disks split, circles fitted to the edges), which does more work than
OpenCV's pipeline and finds more disks. PARAMS repeats DetectParams{}. All are timed from the decoded
RGB image in memory to the list of detections (no file I/O, no crops); each figure is a median over
--repeats repetitions (OpenCV: single runs; microsr: Google Benchmark repetitions of ≥ 0.2 s each),
and the runs are interleaved (OpenCV, microsr, OpenCV, ...) so that a busy machine slows both alike.
Prints the times, the ratios, and the disk counts (OpenCV and stage 1 agree; the whole detector
finds the touching disks too).

The image: --image PATH, else field 0 of `microsr synth --mag 10x --seed 1` (2592×1944), made with
the microsr program (--microsr, default build/microsr).

Usage: /usr/bin/python3 tools/bench_detect_opencv.py [--bench build/bench/bench_detect]
           [--microsr build/microsr] [--image PATH] [--threads 2] [--repeats 10]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_segment_fixtures import opencv_detect  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# = DetectParams{} in include/microsr/detect.h (stage 1's part)
PARAMS = dict(blur=5, block_size=151, c=-2.0, invert=False, open=5, close=5,
              min_area=300.0, max_area=200000.0, min_circularity=0.6)


def time_opencv(rgb, threads):
    """One run of OpenCV's pipeline: (seconds, accepted disks)."""
    cv2.setNumThreads(threads)
    start = time.perf_counter()
    _, rows = opencv_detect(rgb, **PARAMS)
    return time.perf_counter() - start, sum(r["accepted"] for r in rows)


def time_microsr(bench, path, threads, classical):
    """One Google Benchmark run of BM_DetectDisks: (milliseconds, accepted disks)."""
    env = dict(os.environ, MICROSR_BENCH_IMAGE=path, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([bench, "--benchmark_filter=^BM_DetectDisks/classical:%d" % classical,
                          "--benchmark_format=json", "--benchmark_min_time=0.2"],
                         env=env, check=True, capture_output=True, text=True).stdout
    run = json.loads(out)["benchmarks"][0]
    ms = run["real_time"] * {"ms": 1, "us": 1e-3, "ns": 1e-6, "s": 1e3}[run["time_unit"]]
    return ms, int(run.get("disks", -1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default=os.path.join(REPO_ROOT, "build", "bench", "bench_detect"))
    parser.add_argument("--microsr", default=os.path.join(REPO_ROOT, "build", "microsr"))
    parser.add_argument("--image", help="image to detect in (default: a `microsr synth --mag 10x` frame)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.image
        if path is None:
            subprocess.run([args.microsr, "synth", "-o", tmp, "--mag", "10x", "--seed", "1", "--count", "1"],
                           check=True, capture_output=True)
            path = os.path.join(tmp, "field_000_10x.tif")
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            sys.exit("cannot read " + path)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

        time_opencv(rgb, args.threads)  # warm-up
        opencv, stage1, whole = [], [], []
        for _ in range(args.repeats):
            seconds, opencv_disks = time_opencv(rgb, args.threads)
            opencv.append(1000 * seconds)
            ms, stage1_disks = time_microsr(args.bench, path, args.threads, classical=1)
            stage1.append(ms)
            ms, whole_disks = time_microsr(args.bench, path, args.threads, classical=0)
            whole.append(ms)

    opencv_ms, stage1_ms, whole_ms = (float(np.median(t)) for t in (opencv, stage1, whole))
    print("image: %s (%dx%d), threads: %d, %d interleaved repetitions (medians)" % (
        args.image or "microsr synth --mag 10x --seed 1, field 0", rgb.shape[1], rgb.shape[0], args.threads,
        args.repeats))
    print("OpenCV %s pipeline:        %8.1f ms  (%d disks)" % (cv2.__version__, opencv_ms, opencv_disks))
    print("microsr stage 1 (same steps): %8.1f ms  (%d disks)  OpenCV / microsr = %.2f" % (
        stage1_ms, stage1_disks, opencv_ms / stage1_ms))
    print("microsr whole detector:       %8.1f ms  (%d disks)  OpenCV / microsr = %.2f" % (
        whole_ms, whole_disks, opencv_ms / whole_ms))
    print("(ratio > 1: microsr is faster)")


if __name__ == "__main__":
    main()
