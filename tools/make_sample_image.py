"""Writes tests/data/samples/microdisk_96.png, the image the README's main command upscales.

A 96×96 RGB microdisk on a substrate, drawn by the same deterministic model as the test image
(tools/make_real_reference.py). It stands in until `microsr synth` renders full microscope fields.

Usage: /usr/bin/python3 tools/make_sample_image.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_real_reference import REPO_ROOT, make_microdisk_image, save_png  # noqa: E402

if __name__ == "__main__":
    out = os.path.join(REPO_ROOT, "tests", "data", "samples", "microdisk_96.png")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    save_png(out, make_microdisk_image(size=96, seed=7))
    print(out)
