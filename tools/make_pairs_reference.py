"""Writes tests/data/pairs/: HR crops and the pairs `microsr make-pairs` must make from them.

inputs/                   the HR crops, written by OpenCV (cv2.imwrite), random pixels:
    rgb8.png              43×30 8-bit RGB      (mod-crop to 40×28, no enlargement)
    gray16.tif            37×33 16-bit gray    (values use all 16 bits; mod-crop to 36×32)
    small.png             17×11 8-bit RGB      (shorter than --min-size 24: enlarged to 37×24, cut to 36×24)
    tiny16.tif            19×14 16-bit gray    (enlarged to 33×24, cut to 32×24)
reference.safetensors     for every input <in> and variant <v>:
    "hr.<in>.<v>"         the prepared HR, [C][H][W] float32 in [0, 1]
    "lr.<in>.<v>"         its LR, [C][h][w] float32, not clamped, not quantized
  metadata: "<v>" -> "scale,sigma,min_size,resize,order", "generator" -> this script and versions.

The pipeline is rebuilt here from its description (include/microsr/pairs.h, docs/training_data.md)
with independent tools: pixels as cv2.imread sees them (/255 or /65535); the min-size enlargement
and the ÷scale reduction with cv2.resize(INTER_CUBIC) for "opencv", or for "matlab" with
matlab_imresize from tools/make_resize_fixtures.py (a float64 numpy implementation of MATLAB's
imresize 'bicubic', itself checked there against closed forms and BasicSR); the blur is
cv2.GaussianBlur(img, (0, 0), σ) on float32. Arrays are float32 between steps, as in the C++.

Usage: /usr/bin/python3 tools/make_pairs_reference.py [--out tests/data/pairs]   (needs python3-opencv)
"""
import argparse
import math
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resize_fixtures import matlab_imresize  # noqa: E402
from make_rrdbnet_goldens import write_safetensors  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (width, height, channels, bits)
INPUTS = {
    "rgb8.png": (43, 30, 3, 8),
    "gray16.tif": (37, 33, 1, 16),
    "small.png": (17, 11, 3, 8),
    "tiny16.tif": (19, 14, 1, 16),
}
# variant: (scale, sigma, min_size, resize, order)
VARIANTS = {
    "default": (4, 0.5, 24, "matlab", "blur-then-resize"),
    "resize_first": (4, 0.5, 24, "matlab", "resize-then-blur"),
    "opencv": (4, 0.5, 24, "opencv", "blur-then-resize"),
    "x2_s1p3": (2, 1.3, 24, "matlab", "blur-then-resize"),
    "no_blur": (3, 0.0, 24, "matlab", "blur-then-resize"),
}


def to_cv(planar):
    return planar[0] if planar.shape[0] == 1 else np.ascontiguousarray(planar.transpose(1, 2, 0))


def from_cv(a):
    return a[None] if a.ndim == 2 else np.ascontiguousarray(a.transpose(2, 0, 1))


def resize(planar, width, height, kind):
    """[C][H][W] float32 -> [C][height][width] float32."""
    if kind == "opencv":
        return from_cv(cv2.resize(to_cv(planar), (width, height), interpolation=cv2.INTER_CUBIC))
    return np.stack([matlab_imresize(p, width, height) for p in planar]).astype(np.float32)


def blur(planar, sigma):
    if sigma == 0:
        return planar
    return from_cv(cv2.GaussianBlur(to_cv(planar), (0, 0), sigmaX=sigma))


def prepare_hr(img, scale, min_size, kind):
    c, h, w = img.shape
    min_side = math.ceil(min_size / scale) * scale
    if min(w, h) < min_side:
        f = min_side / min(w, h)
        new_w, new_h = (max(min_side, math.floor(side * f + 0.5)) for side in (w, h))
        img = resize(img, new_w, new_h, kind)
        h, w = new_h, new_w
    return np.ascontiguousarray(img[:, : h - h % scale, : w - w % scale])


def degrade(hr, scale, sigma, kind, order):
    _, h, w = hr.shape
    if order == "blur-then-resize":
        return resize(blur(hr, sigma), w // scale, h // scale, kind)
    return blur(resize(hr, w // scale, h // scale, kind), sigma)


def write_inputs(folder, rng):
    os.makedirs(folder, exist_ok=True)
    for name, (w, h, c, bits) in INPUTS.items():
        top = 2**bits - 1
        # Smooth structure plus noise, so blur and resize have something to act on.
        y, x = np.mgrid[0:h, 0:w]
        base = 0.5 + 0.3 * np.sin(x / 3.1)[None] * np.cos(y / 4.7)[None]
        noisy = np.clip(base + 0.2 * rng.standard_normal((c, h, w)), 0, 1)
        pixels = np.rint(noisy * top).astype(np.uint8 if bits == 8 else np.uint16)
        pixels[:, 0, 0], pixels[:, -1, -1] = 0, top
        cv_pixels = to_cv(pixels)
        if c == 3:
            cv_pixels = cv_pixels[:, :, ::-1]  # OpenCV writes BGR
        assert cv2.imwrite(os.path.join(folder, name), np.ascontiguousarray(cv_pixels))


def read_input(path):
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    top = 65535.0 if raw.dtype == np.uint16 else 255.0
    if raw.ndim == 3:
        raw = raw[:, :, ::-1]  # BGR -> RGB
    return from_cv(raw.astype(np.float32) / np.float32(top)).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "data", "pairs"))
    args = parser.parse_args()
    inputs = os.path.join(args.out, "inputs")
    write_inputs(inputs, np.random.default_rng(20240612))

    tensors, meta = {}, {}
    for variant, (scale, sigma, min_size, kind, order) in VARIANTS.items():
        meta[variant] = f"{scale},{sigma},{min_size},{kind},{order}"
        for name in INPUTS:
            img = read_input(os.path.join(inputs, name))
            hr = prepare_hr(img, scale, min_size, kind)
            lr = degrade(hr, scale, sigma, kind, order)
            tensors[f"hr.{name}.{variant}"] = hr
            tensors[f"lr.{name}.{variant}"] = lr
            print(f"{variant:13s} {name:11s} HR {hr.shape[2]}x{hr.shape[1]} -> LR {lr.shape[2]}x{lr.shape[1]}")
    meta["generator"] = f"tools/make_pairs_reference.py, OpenCV {cv2.__version__}, numpy {np.__version__}"
    path = os.path.join(args.out, "reference.safetensors")
    write_safetensors(path, tensors, meta)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
