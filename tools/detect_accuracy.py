"""Measures microdisk detection against synthetic ground truth on full-size frames.

Renders N fields per magnification with `microsr synth` (10X 2592×1944, 4X 1600×1200, seed S), runs
`microsr detect` on them with its default parameters (or the ones given after --), and scores
detections.csv against each frame's truth CSV with the rules of tests/test_detect_accuracy.cpp:

  * a disk counts ("full, away from the border") when its circle grown by 25 % lies inside the frame;
  * each accepted detection belongs to the truth disk whose circle holds its centre; the first on a
    counted disk is a hit, a further one a false positive; one on a disk that does not count, or
    whose box touches the frame, counts neither way; one on no disk (pad, dust, scratch) is a false
    positive;
  * recall = hits / counted disks, precision = hits / (hits + false positives); centre error
    |detected − true| in pixels, radius error |detected − true| / true.

Prints one line per frame and a total per magnification: the issue's bar is recall and precision
≥ 0.98, centre error ≤ 1.5 px, radius error ≤ 3 %.

Usage: python3 tools/detect_accuracy.py [--microsr build/microsr] [--fields 10] [--seed 1]
           [--mag 10x 4x] [--keep DIR] [-- extra microsr detect options]
"""
import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile

from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_truth(path):
    with open(path, newline="") as f:
        return [dict(x=float(r["centre_x"]), y=float(r["centre_y"]), r=float(r["radius"]))
                for r in csv.DictReader(f) if r["kind"] == "disk"]


def read_detections(path):
    """Accepted detections per input file."""
    per_file = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["accepted"] != "1":
                continue
            per_file.setdefault(r["file"], []).append(dict(
                x=float(r["cx"]), y=float(r["cy"]), r=float(r["radius"]),
                box=(int(r["x"]), int(r["y"]), int(r["w"]), int(r["h"]))))
    return per_file


def score(detections, truth, width, height):
    def counts(t):
        m = 1.25 * t["r"]
        return t["x"] - m >= -0.5 and t["y"] - m >= -0.5 and t["x"] + m <= width - 0.5 and t["y"] + m <= height - 0.5

    hit = [False] * len(truth)
    s = dict(full=sum(counts(t) for t in truth), found=0, fp=0, centre=[], radius=[])
    for d in detections:
        x, y, w, h = d["box"]
        if x == 0 or y == 0 or x + w == width or y + h == height:
            continue
        owner = None
        for i, t in enumerate(truth):
            if math.hypot(d["x"] - t["x"], d["y"] - t["y"]) < t["r"]:
                owner = i
        if owner is None or (counts(truth[owner]) and hit[owner]):
            s["fp"] += 1
            continue
        if not counts(truth[owner]):
            continue
        t = truth[owner]
        hit[owner] = True
        s["found"] += 1
        s["centre"].append(math.hypot(d["x"] - t["x"], d["y"] - t["y"]))
        s["radius"].append((d["r"] - t["r"]) / t["r"])
    return s


def summary(s):
    recall = s["found"] / max(1, s["full"])
    precision = s["found"] / max(1, s["found"] + s["fp"])
    worst_r = max((abs(v) for v in s["radius"]), default=0.0)
    mean_r = sum(s["radius"]) / max(1, len(s["radius"]))
    return ("%5d full disks  recall %.4f  precision %.4f  centre error worst %.2f px (mean %.2f)  "
            "radius error worst %.2f%% (mean %+.2f%%)" % (
                s["full"], recall, precision, max(s["centre"], default=0.0),
                sum(s["centre"]) / max(1, len(s["centre"])), 100 * worst_r, 100 * mean_r))


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--microsr", default=os.path.join(REPO_ROOT, "build", "microsr"))
    parser.add_argument("--fields", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mag", nargs="+", default=["10x", "4x"])
    parser.add_argument("--keep", help="folder for the frames and outputs (default: a temporary one)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or tmp
        for mag in args.mag:
            frames = os.path.join(root, "frames_" + mag)
            out = os.path.join(root, "detect_" + mag)
            subprocess.run([args.microsr, "synth", "-o", frames, "--mag", mag, "--seed", str(args.seed),
                            "--count", str(args.fields)], check=True, stdout=subprocess.DEVNULL)
            images = sorted(os.path.join(frames, n) for n in os.listdir(frames) if n.endswith(".tif"))
            subprocess.run([args.microsr, "detect", *images, "-o", out, "--no-crops", *extra], check=True,
                           stdout=subprocess.DEVNULL)
            detections = read_detections(os.path.join(out, "detections.csv"))
            total = dict(full=0, found=0, fp=0, centre=[], radius=[])
            print("%s, seed %d, %d fields, `microsr detect %s`" % (mag, args.seed, len(images), " ".join(extra)))
            for image in images:
                with Image.open(image) as frame:
                    width, height = frame.size
                s = score(detections.get(image, []), read_truth(image[:-4] + ".csv"), width, height)
                print("  %s %s" % (os.path.basename(image), summary(s)))
                for key in ("full", "found", "fp"):
                    total[key] += s[key]
                total["centre"] += s["centre"]
                total["radius"] += s["radius"]
            print("  total               %s" % summary(total))


if __name__ == "__main__":
    main()
