"""Writes tests/data/resize/*.safetensors: references for src/imgproc/resize.cpp.

opencv.safetensors — made by OpenCV itself (cv2.resize / cv2.GaussianBlur on float32 arrays):
    "src.<case>"              [H][W] or [C][H][W] float32, uniform in [0, 1)
    "cubic.<case>"            cv2.resize(src, (dst_w, dst_h), interpolation=cv2.INTER_CUBIC)
    "lanczos4.<case>"         ... interpolation=cv2.INTER_LANCZOS4
    "area.<case>"             ... interpolation=cv2.INTER_AREA (shrinking cases only)
    "blur_s<σ>.<case>"        cv2.GaussianBlur(src, (0, 0), sigmaX=σ)  (σ = 0.5, 1.3; "0p5", "1p3")
  Multi-channel sources are stored planar [C][H][W]; cv2 ran on the interleaved [H][W][C] copy.

matlab.safetensors — MATLAB's imresize(..., 'bicubic') as computed by `matlab_imresize` below: a
    second implementation written here in float64 numpy from the published algorithm (MATLAB's
    contributions(): Keys cubic a = -0.5, x = u/scale + (1 - 1/scale)/2, kernel stretched by
    1/scale when shrinking, weights normalised, symmetric border). It is not MATLAB itself, which
    cannot run here; it shares no code with the C++ (different language, loops, padding scheme:
    explicit symmetric padding of the array instead of index mirroring).
    "src.<case>", "bicubic.<case>"

The metadata of each file maps every case name to "src_w,src_h,dst_w,dst_h[,channels]".

Usage: /usr/bin/python3 tools/make_resize_fixtures.py [--out tests/data/resize]
       (needs python3-opencv: apt-get install -y python3-opencv)
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rrdbnet_goldens import write_safetensors  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (src_w, src_h, dst_w, dst_h, channels)
CASES = {
    "up4": (12, 9, 48, 36, 1),
    "up2p5": (10, 6, 25, 15, 1),
    "down4": (32, 24, 8, 6, 1),
    "down3": (27, 18, 9, 6, 1),
    "odd_up": (13, 7, 52, 28, 1),
    "odd_down": (37, 23, 9, 6, 1),
    "mixed": (20, 10, 15, 30, 1),      # shrink x, enlarge y
    "col_up": (1, 9, 4, 36, 1),        # a 1-pixel-wide column
    "row_down": (9, 1, 3, 1, 1),       # a 1-pixel-high row
    "row_up": (7, 1, 28, 4, 1),
    "rgb_up": (11, 8, 44, 32, 3),
}
BLUR_CASES = {  # name: (w, h, channels)
    "blur_plane": (23, 17, 1),
    "blur_rgb": (9, 12, 3),
    "blur_row": (10, 1, 1),
    "blur_tiny": (3, 2, 1),  # smaller than the kernel: reflect-101 folds more than once
}
SIGMAS = {"0p5": 0.5, "1p3": 1.3}


def planar_to_cv(a):
    return a if a.ndim == 2 else np.ascontiguousarray(a.transpose(1, 2, 0))


def cv_to_planar(a, channels):
    if channels == 1:
        return a
    return np.ascontiguousarray(a.reshape(a.shape[0], a.shape[1], channels).transpose(2, 0, 1))


# ---- MATLAB imresize, bicubic (second implementation, float64) ----

def keys_cubic(x):
    d = np.abs(x)
    return np.where(d <= 1, 1.5 * d**3 - 2.5 * d**2 + 1,
                    np.where(d < 2, -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2, 0.0))


def matlab_weights(in_len, out_len):
    """Returns (positions, weights), both [out_len][P]: 0-based source taps (which may lie outside
    the image) and their normalised weights."""
    scale = out_len / in_len
    width = 4.0 / scale if scale < 1 else 4.0
    u = np.arange(1, out_len + 1, dtype=np.float64)
    x = u / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(x - width / 2).astype(np.int64)
    taps = int(np.ceil(width)) + 2
    pos = left[:, None] + np.arange(taps)[None, :]
    dist = x[:, None] - pos
    w = scale * keys_cubic(scale * dist) if scale < 1 else keys_cubic(dist)
    w /= w.sum(axis=1, keepdims=True)
    return pos - 1, w  # 0-based source positions, possibly outside [0, in_len)


def resize_axis0(a, out_len):
    """Resizes axis 0 of a float64 array, padding it symmetrically (…b a | a b … y z | z y…)."""
    in_len = a.shape[0]
    pos, w = matlab_weights(in_len, out_len)
    pad = int(max(-pos.min(), pos.max() - in_len + 1, 0))
    widths = [(pad, pad)] + [(0, 0)] * (a.ndim - 1)
    padded = np.pad(a, widths, mode="symmetric")  # repeats the mirror when pad > in_len
    offset = pad
    gathered = padded[pos + offset]               # [out_len][P][...]
    return np.einsum("op,op...->o...", w, gathered)


def matlab_imresize(plane, dst_w, dst_h):
    out = resize_axis0(plane.astype(np.float64), dst_h)
    return resize_axis0(out.T, dst_w).T


def self_check():
    """The MATLAB reference on closed forms: constants stay constant; a ramp is kept in the interior."""
    const = np.full((9, 13), 0.3)
    assert np.allclose(matlab_imresize(const, 52, 36), 0.3, atol=1e-12)
    assert np.allclose(matlab_imresize(const, 3, 2), 0.3, atol=1e-12)
    ramp = np.tile(np.arange(32, dtype=np.float64), (4, 1))  # value = x
    down = matlab_imresize(ramp, 8, 4)[0]  # ÷4: output i covers source 4i..4i+3, centre 4i+1.5
    assert np.allclose(down[2:-2], 4 * np.arange(8)[2:-2] + 1.5, atol=1e-12), down


def cross_check_basicsr():
    """When BasicSR is importable, compares matlab_imresize with its imresize (float32 torch, so
    differences up to ~1e-6 are rounding). Sizes divisible by the factor: BasicSR takes a scale
    factor and MATLAB then samples with that factor rather than dst/src."""
    try:
        from basicsr.utils.matlab_functions import imresize
    except ImportError:
        print("basicsr not importable: skipping the cross-check of matlab_imresize")
        return
    rng = np.random.default_rng(7)
    for w, h, scale in [(32, 24, 1 / 4), (27, 18, 1 / 3), (12, 9, 4), (10, 6, 2.5)]:
        src = rng.random((h, w))
        theirs = np.asarray(imresize(src[:, :, None].copy(), scale))[:, :, 0]
        ours = matlab_imresize(src, theirs.shape[1], theirs.shape[0])
        diff = np.abs(theirs - ours).max()
        print(f"basicsr imresize {w}x{h} x{scale:.3g}: max |diff| {diff:.2g}")
        assert diff < 1e-5


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "data", "resize"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    self_check()
    cross_check_basicsr()
    rng = np.random.default_rng(20240611)

    opencv, matlab, opencv_meta, matlab_meta = {}, {}, {}, {}
    for name, (sw, sh, dw, dh, ch) in CASES.items():
        shape = (sh, sw) if ch == 1 else (ch, sh, sw)
        src = rng.random(shape, dtype=np.float32)
        meta = f"{sw},{sh},{dw},{dh},{ch}"
        opencv["src." + name] = src
        opencv_meta[name] = meta
        flags = {"cubic": cv2.INTER_CUBIC, "lanczos4": cv2.INTER_LANCZOS4}
        if dw <= sw and dh <= sh:
            flags["area"] = cv2.INTER_AREA
        for label, flag in flags.items():
            out = cv2.resize(planar_to_cv(src), (dw, dh), interpolation=flag)
            opencv[f"{label}.{name}"] = cv_to_planar(out, ch)
        matlab["src." + name] = src
        matlab_meta[name] = meta
        planes = src[None] if ch == 1 else src
        ref = np.stack([matlab_imresize(p, dw, dh) for p in planes])
        matlab["bicubic." + name] = ref[0] if ch == 1 else ref

    for name, (w, h, ch) in BLUR_CASES.items():
        shape = (h, w) if ch == 1 else (ch, h, w)
        src = rng.random(shape, dtype=np.float32)
        opencv["src." + name] = src
        opencv_meta[name] = f"{w},{h},{w},{h},{ch}"
        for label, sigma in SIGMAS.items():
            out = cv2.GaussianBlur(planar_to_cv(src), (0, 0), sigmaX=sigma)
            opencv[f"blur_s{label}.{name}"] = cv_to_planar(out, ch)

    opencv_meta["generator"] = f"tools/make_resize_fixtures.py, OpenCV {cv2.__version__}"
    matlab_meta["generator"] = "tools/make_resize_fixtures.py, matlab_imresize (numpy float64)"
    write_safetensors(os.path.join(args.out, "opencv.safetensors"), opencv, opencv_meta)
    write_safetensors(os.path.join(args.out, "matlab.safetensors"), matlab, matlab_meta)
    for f in ("opencv.safetensors", "matlab.safetensors"):
        print(f, os.path.getsize(os.path.join(args.out, f)), "bytes")


if __name__ == "__main__":
    main()
