"""Writes tests/data/metrics/cases.safetensors: PSNR and SSIM goldens from scikit-image.

For each case "<name>": tensors "<name>.a" and "<name>.b" ([C][H][W] float32 in [0, 1]) and
"<name>.psnr", "<name>.ssim" ([1], computed in float64 by skimage.metrics on the stored float32
values) and "<name>.crop" ([1], the border cropped before measuring).

SSIM settings, the ones microsr's ssim() implements: gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=0 (mean over channels).

Usage: python3 tools/make_metric_fixtures.py   (needs numpy and scikit-image from PyPI)
"""
import json
import os
import struct

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, value in tensors.items():
        raw = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(value)), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:29, 0:37]
    smooth = 0.5 + 0.4 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    cases = {
        "rgb_noise": (np.stack([smooth, smooth ** 2, 1 - smooth]), 0.05, 0),
        "gray_crop2": (smooth[None, :25, :19], 0.2, 2),
        "rgb_texture": (rng.random((3, 16, 41)), 0.1, 0),
    }
    tensors = {}
    for name, (a, noise, crop) in cases.items():
        a = a.astype(np.float32)
        b = np.clip(a + noise * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
        ca = a[:, crop:a.shape[1] - crop, crop:a.shape[2] - crop].astype(np.float64)
        cb = b[:, crop:b.shape[1] - crop, crop:b.shape[2] - crop].astype(np.float64)
        p = peak_signal_noise_ratio(ca, cb, data_range=1)
        s = structural_similarity(ca, cb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1, channel_axis=0)
        tensors.update({f"{name}.a": a, f"{name}.b": b, f"{name}.psnr": [p], f"{name}.ssim": [s], f"{name}.crop": [crop]})
        print(f"{name}: {list(a.shape)} crop {crop}: PSNR {p:.4f} dB, SSIM {s:.6f}")
    out = os.path.join(REPO_ROOT, "tests", "data", "metrics")
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "cases.safetensors"), tensors)


if __name__ == "__main__":
    main()
