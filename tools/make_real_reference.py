"""Writes the real-weights golden: RealESRGAN_x4plus on a small synthetic microdisk image.

Outputs
    tests/data/real/microdisk_40.png               40×40 RGB 8-bit input (deterministic)
    tests/data/real/microdisk_40_x4plus.safetensors
        "input"   F32 [1][3][40][40]    = png / 255 (exactly the values the engine should feed)
        "output"  F32 [1][3][160][160]  RRDBNet forward in float64, rounded to f32; NOT clamped
        __metadata__: weights_bin_sha256, weights (file name), generator

The weights are the ncnn pair (fp16 in the file, widened exactly), read by tools/ncnn_rrdbnet.py and
run by tools/torch_rrdbnet.py. The script also prints how far a plain PyTorch float32 forward lands
from the float64 truth — the share of any tolerance that f32 rounding alone uses up.

Usage: /usr/bin/python3 tools/make_real_reference.py [--param P] [--bin B] [--out DIR]
"""
import argparse
import hashlib
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rrdbnet_goldens import read_safetensors, write_safetensors  # noqa: E402
from ncnn_rrdbnet import DEFAULT_PARAM, load_ncnn_rrdbnet  # noqa: E402
from torch_rrdbnet import build_from_state_dict  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 40


def box_blur(image, radius):
    """Separable box blur with edge clamping, image [H][W][C] float."""
    padded = np.pad(image, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    k = 2 * radius + 1
    rows = sum(padded[i:i + image.shape[0], :, :] for i in range(k)) / k
    return sum(rows[:, j:j + image.shape[1], :] for j in range(k)) / k


def make_microdisk_image(size=SIZE, seed=2024):
    """A bright disk with a darker rim on a grainy, slightly graded substrate; blurred; noisy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx, radius = size * 0.48, size * 0.53, size * 0.30
    r = np.hypot(yy - cy, xx - cx)

    substrate = 0.32 + 0.06 * (xx / size) - 0.04 * (yy / size)          # uneven illumination
    grain = box_blur(rng.normal(0, 1, (size, size, 1)), 1)[..., 0] * 0.05  # polishing texture
    streaks = 0.015 * np.sin(0.9 * xx + 0.35 * yy)                         # faint scratches
    gray = substrate + grain + streaks

    disk = np.clip(radius - r + 0.5, 0, 1)                                 # antialiased disk
    rim = np.exp(-((r - radius) / 1.2) ** 2)                               # dark edge ring
    top = 0.78 + 0.08 * np.cos(r / radius * np.pi)                         # domed top surface
    gray = gray * (1 - disk) + top * disk - 0.22 * rim

    tint = np.array([1.00, 0.93, 0.80])                                    # warm halogen light
    rgb = gray[..., None] * tint
    rgb = box_blur(rgb, 1) * 0.6 + rgb * 0.4                               # slight optical blur
    rgb += rng.normal(0, 0.012, rgb.shape)                                 # sensor noise
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)


def save_png(path, rgb_uint8):
    from PIL import Image  # Debian python3-pil
    Image.fromarray(rgb_uint8, mode="RGB").save(path, optimize=True)


def load_png(path):
    from PIL import Image
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--param", default=DEFAULT_PARAM)
    parser.add_argument("--bin", default=None, help="default: the .param path with .bin")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "data", "real"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    bin_path = args.bin or os.path.splitext(args.param)[0] + ".bin"
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    png_path = os.path.join(args.out, f"microdisk_{SIZE}.png")
    save_png(png_path, make_microdisk_image())
    pixels = load_png(png_path)  # what is on disk is what the engine will read
    x = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()

    weights = load_ncnn_rrdbnet(args.param, bin_path, verbose=True)
    bin_sha = sha256_of(bin_path)
    print(f"weights {bin_path}\n  sha256 {bin_sha}")

    start = time.time()
    with torch.no_grad():
        y64 = build_from_state_dict(weights, torch.float64)(x.double())
    print(f"float64 forward {list(x.shape)} → {list(y64.shape)} in {time.time() - start:.1f} s")
    with torch.no_grad():
        y32 = build_from_state_dict(weights, torch.float32)(x)

    out_path = os.path.join(args.out, f"microdisk_{SIZE}_x4plus.safetensors")
    write_safetensors(out_path, {"input": x.numpy(), "output": y64.numpy()},
                      dict(weights=os.path.basename(bin_path), weights_bin_sha256=bin_sha,
                           generator="tools/make_real_reference.py"))
    stored, _ = read_safetensors(out_path)
    assert np.array_equal(stored["input"], x.numpy())

    diff = (y32.double() - y64).abs()
    store_rounding = (torch.from_numpy(stored["output"].copy()).double() - y64).abs().max()
    print(f"output range [{y64.min():.4f}, {y64.max():.4f}], mean {y64.mean():.4f}")
    print(f"torch float32 vs float64: max |Δ| {diff.max():.3e}, mean |Δ| {diff.mean():.3e}, "
          f"99.9th pct {diff.flatten().quantile(0.999):.3e}")
    print(f"storing as F32 adds at most {store_rounding:.3e}")
    for path in (png_path, out_path):
        print(f"wrote {path} ({os.path.getsize(path) / 1024:.1f} KB)")


if __name__ == "__main__":
    main()
