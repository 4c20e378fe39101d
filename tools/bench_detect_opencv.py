"""Times microdisk detection on one full 10X frame: OpenCV against microsr, same image, same threads.

OpenCV runs the seed's pipeline (make_segment_fixtures.opencv_detect: cvtColor → GaussianBlur →
adaptiveThreshold → open → close → findContours → contourArea/arcLength/boundingRect/moments) with
cv2.setNumThreads(THREADS); microsr runs bench/bench_detect's BM_DetectDisks (detect_disks() with
the default DetectParams, which PARAMS below repeats) with OMP_NUM_THREADS=THREADS, on the same
pixels via $MICROSR_BENCH_IMAGE. Both are timed from the decoded RGB image in memory to the list
of detections (no file I/O, no crops); each figure is a median over --repeats repetitions (OpenCV:
single runs; microsr: Google Benchmark repetitions of ≥ 0.2 s each). Prints both times, the ratio,
and the disk counts (which should agree: the pipelines are the same).

The image: --image PATH (e.g. a `microsr synth --mag 10x` output), else a 2592×1944 synthetic field
drawn by make_segment_fixtures.make_scene (rimmed disks of radius 32–56 px on a lattice).

Usage: /usr/bin/python3 tools/bench_detect_opencv.py [--bench build/bench/bench_detect]
           [--image PATH] [--threads 2] [--repeats 20]
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
from make_segment_fixtures import make_scene, opencv_detect  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# = DetectParams{} in include/microsr/detect.h
PARAMS = dict(blur=5, block_size=51, c=-2.0, invert=False, open=5, close=5,
              min_area=300.0, max_area=200000.0, min_circularity=0.6)


def field_10x():
    rng = np.random.default_rng(10)
    disks = []
    pitch = 150
    for y in np.arange(70, 1944 + 60, pitch):
        for x in np.arange(75, 2592 + 60, pitch):
            if rng.random() < 0.08:
                continue
            disks.append((x + rng.uniform(-8, 8), y + rng.uniform(-8, 8), rng.uniform(32, 56)))
    return make_scene(2592, 1944, disks, seed=11)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default=os.path.join(REPO_ROOT, "build", "bench", "bench_detect"))
    parser.add_argument("--image", help="image to detect in (default: a synthetic 2592×1944 field)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.image
        if path is None:
            path = os.path.join(tmp, "field_10x.png")
            cv2.imwrite(path, cv2.cvtColor(field_10x(), cv2.COLOR_RGB2BGR))
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            sys.exit("cannot read " + path)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

        cv2.setNumThreads(args.threads)
        opencv_detect(rgb, **PARAMS)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            _, rows = opencv_detect(rgb, **PARAMS)
            times.append(time.perf_counter() - start)
        opencv_ms = 1000 * float(np.median(times))
        opencv_disks = sum(r["accepted"] for r in rows)

        env = dict(os.environ, MICROSR_BENCH_IMAGE=path, OMP_NUM_THREADS=str(args.threads))
        out = subprocess.run([args.bench, "--benchmark_filter=^BM_DetectDisks", "--benchmark_format=json",
                              "--benchmark_min_time=0.2", "--benchmark_repetitions=%d" % args.repeats],
                             env=env, check=True, capture_output=True, text=True).stdout
        runs = json.loads(out)["benchmarks"]
        run = next(r for r in runs if r.get("aggregate_name") == "median")
        ours_ms = run["real_time"] * {"ms": 1, "us": 1e-3, "ns": 1e-6, "s": 1e3}[run["time_unit"]]
        ours_disks = int(run.get("disks", -1))

    print("image: %s (%dx%d), threads: %d" % (args.image or "synthetic 10X field", rgb.shape[1], rgb.shape[0],
                                              args.threads))
    print("OpenCV %s: %8.1f ms  (%d disks)" % (cv2.__version__, opencv_ms, opencv_disks))
    print("microsr:      %8.1f ms  (%d disks)" % (ours_ms, ours_disks))
    print("ratio OpenCV / microsr: %.2f  (> 1: microsr is faster)" % (opencv_ms / ours_ms))


if __name__ == "__main__":
    main()
