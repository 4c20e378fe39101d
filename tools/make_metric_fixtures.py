"""Writes the goldens of tests/test_metrics.cpp into tests/data/metrics/.

cases.safetensors — PSNR and SSIM from scikit-image on float [0, 1] images (microsr's float psnr()
and ssim()). For each case "<name>": "<name>.a" and "<name>.b" ([C][H][W] float32 in [0, 1]),
"<name>.psnr", "<name>.ssim" ([1], skimage.metrics in float64 on the stored float32 values,
data_range=1, channel_axis=0) and "<name>.crop" ([1], the border cropped before measuring).

conventions.safetensors — 8- and 16-bit images measured the ways include/microsr/metrics.h
documents. For each case "<name>" (rgb8, gray8, rgb16):
  "<name>.a", "<name>.b"   [C][H][W] integer sample values (0..255 or 0..65535) stored as float32
  "<name>.bits"            [1] 8 or 16
  "<name>.<measure>"       [2] float32 hi, lo with the float64 value = hi + lo (safetensors in microsr
                           reads F32 only; the pair keeps ~48 bits, so the fixture does not limit the
                           tolerance)
Measures:
  skimage.psnr/.ssim          skimage.metrics on the integer arrays: data_range 255 or 65535,
                              SSIM gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                              channel_axis=0 (the seed's settings)
  basicsr.crop<k>[_y].psnr/.ssim
                              BasicSR's calculate_psnr / calculate_ssim, re-derived below from the
                              formulas (basicsr is not installed): 0..255 scale (16-bit samples are
                              scaled by 255/65535, not rounded), crop_border k, optionally the
                              BT.601 Y channel; SSIM with an 11×11 Gaussian window σ 1.5 on the
                              'valid' region. Computed twice — as a plain 2-D 'valid' correlation,
                              and as cv2.filter2D + [5:-5, 5:-5] as BasicSR does — and the two
                              must agree to 1e-12.
  gray.a                      [H][W] cv2.cvtColor(RGB2GRAY) of a's 8-bit reduction (uint8 values)
  sharpness.a/.b              cv2.Laplacian(gray, cv2.CV_64F).var() (ksize 1: [0 1 0; 1 -4 1; 0 1 0],
                              BORDER_REFLECT_101), gray = cv2.cvtColor(RGB2GRAY) of the 8-bit image
                              (16-bit reduced first as round(v·255/65535))
  edge.a/.b                   mean of sqrt(Sobel_x² + Sobel_y²), cv2.Sobel(gray, CV_64F, ksize=3)

Usage:
  python3 -m pip install --break-system-packages scikit-image opencv-python-headless numpy
  python3 tools/make_metric_fixtures.py
The script installs nothing itself; it prints each golden and, for information, how far BasicSR's
own float32 Y conversion would move the Y-channel numbers.
"""
import json
import os
import struct

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "data", "metrics")


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


def hi_lo(value):
    """A float64 as two float32 whose sum restores it to ~48 bits."""
    hi = np.float32(value)
    return [hi, np.float32(value - np.float64(hi))]


# ---- float [0, 1] cases (cases.safetensors) -------------------------------------------------------
def float_cases():
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
    write_safetensors(os.path.join(OUT_DIR, "cases.safetensors"), tensors)


# ---- BasicSR's formulas, re-derived ---------------------------------------------------------------
def basicsr_scale(samples, bits):
    """Integer samples → BasicSR's 0..255 float64 scale (16-bit: ×255/65535, no rounding)."""
    return samples.astype(np.float64) * (255.0 / (2 ** bits - 1))


def bt601_y(img255, dtype=np.float64):
    """Y of ITU-R BT.601 (studio range 16..235) of a [3][H][W] image on 0..255; gray passes through."""
    if img255.shape[0] != 3:
        return img255
    r, g, b = (img255 / 255.0).astype(dtype)
    y = dtype(65.481) * r + dtype(128.553) * g + dtype(24.966) * b + dtype(16.0)
    return (y / dtype(255.0) * dtype(255.0)).astype(np.float64)[None]


def crop(img, k):
    return img[:, k:img.shape[1] - k, k:img.shape[2] - k] if k else img


def basicsr_psnr(a255, b255):
    mse = np.mean((a255 - b255) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def gaussian_window():
    x = np.arange(11) - 5.0
    k = np.exp(-x * x / (2 * 1.5 ** 2))
    k /= k.sum()
    return np.outer(k, k)


def correlate_valid(plane, window):
    """Plain 2-D correlation over the positions where the 11×11 window fits."""
    h, w = plane.shape
    out = np.zeros((h - 10, w - 10))
    for i in range(11):
        for j in range(11):
            out += window[i, j] * plane[i:i + h - 10, j:j + w - 10]
    return out


def correlate_like_basicsr(plane, window):
    """cv2.filter2D (BORDER_REFLECT_101) on the whole plane, then the 5-pixel border cut off."""
    return cv2.filter2D(plane, -1, window)[5:-5, 5:-5]


def ssim_plane(x, y, correlate):
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    w = gaussian_window()
    mx, my = correlate(x, w), correlate(y, w)
    vx = correlate(x * x, w) - mx * mx
    vy = correlate(y * y, w) - my * my
    cxy = correlate(x * y, w) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return ssim_map.mean()


def basicsr_ssim(a255, b255, correlate=correlate_valid):
    return float(np.mean([ssim_plane(a255[c], b255[c], correlate) for c in range(a255.shape[0])]))


# ---- OpenCV sharpness ------------------------------------------------------------------------------
def gray8(samples, bits):
    """The 8-bit grey cv2 would see: 16-bit reduced as round(v·255/65535), then RGB2GRAY."""
    u8 = samples if bits == 8 else np.floor(samples.astype(np.float64) * (255.0 / 65535.0) + 0.5)
    u8 = u8.astype(np.uint8)
    if u8.shape[0] == 1:
        return u8[0]
    return cv2.cvtColor(np.ascontiguousarray(u8.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)


def sharpness(gray):
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def edge_strength(gray):
    gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3)
    return float(np.sqrt(gx * gx + gy * gy).mean())


# ---- 8- and 16-bit cases (conventions.safetensors) ----------------------------------------------
def disk_scene(channels, h, w, rng):
    """A bright ring-edged disk on a shaded background with texture: [C][H][W] in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.hypot(yy - 0.45 * h, xx - 0.55 * w)
    disk = 1.0 / (1.0 + np.exp((r - 0.3 * min(h, w)) / 0.8))
    base = 0.15 + 0.1 * xx / w + 0.6 * disk + 0.08 * np.sin(xx / 2.3) * np.cos(yy / 3.1)
    planes = [base * s for s in (1.0, 0.9, 0.75)[:channels]]
    img = np.stack(planes) + 0.03 * rng.standard_normal((channels, h, w))
    img[:, :2, :3] = 1.2  # a saturated corner: clipping is part of real images
    return np.clip(img, 0, 1)


def convention_cases():
    rng = np.random.default_rng(14)
    specs = {"rgb8": (3, 22, 27, 8, 0.04), "gray8": (1, 23, 19, 8, 0.06), "rgb16": (3, 21, 24, 16, 0.03)}
    tensors = {}
    for name, (channels, h, w, bits, noise) in specs.items():
        top = 2 ** bits - 1
        a_float = disk_scene(channels, h, w, rng)
        b_float = np.clip(a_float + noise * rng.standard_normal(a_float.shape), 0, 1)
        dtype = np.uint8 if bits == 8 else np.uint16
        a = np.floor(a_float * top + 0.5).astype(dtype)
        b = np.floor(b_float * top + 0.5).astype(dtype)
        tensors.update({f"{name}.a": a.astype(np.float32), f"{name}.b": b.astype(np.float32), f"{name}.bits": [bits]})

        measures = {
            "skimage.psnr": peak_signal_noise_ratio(a, b, data_range=top),
            "skimage.ssim": structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                                  data_range=top, channel_axis=0),
        }
        a255, b255 = basicsr_scale(a, bits), basicsr_scale(b, bits)
        for k, use_y in ((0, False), (2, False), (4, True)):
            ca, cb = crop(a255, k), crop(b255, k)
            if use_y:
                ca, cb = bt601_y(ca), bt601_y(cb)
            tag = f"basicsr.crop{k}{'_y' if use_y else ''}"
            measures[tag + ".psnr"] = basicsr_psnr(ca, cb)
            measures[tag + ".ssim"] = basicsr_ssim(ca, cb)
            as_basicsr = basicsr_ssim(ca, cb, correlate_like_basicsr)
            assert abs(as_basicsr - measures[tag + ".ssim"]) < 1e-12, (name, tag, as_basicsr)
            if use_y:  # BasicSR itself converts in float32: how much that moves the numbers
                fa = bt601_y(crop(a255, k), np.float32)
                fb = bt601_y(crop(b255, k), np.float32)
                print(f"  {name} {tag}: float32 Y would move PSNR by {basicsr_psnr(fa, fb) - measures[tag + '.psnr']:.2e}"
                      f" dB, SSIM by {basicsr_ssim(fa, fb) - measures[tag + '.ssim']:.2e}")
        for side, samples in (("a", a), ("b", b)):
            gray = gray8(samples, bits)
            measures[f"sharpness.{side}"] = sharpness(gray)
            measures[f"edge.{side}"] = edge_strength(gray)
            if side == "a":
                tensors[f"{name}.gray.a"] = gray.astype(np.float32)
        for measure, value in measures.items():
            tensors[f"{name}.{measure}"] = hi_lo(value)
        print(f"{name}: {list(a.shape)} {bits}-bit: " + ", ".join(f"{m} {v:.6f}" for m, v in measures.items()))
    write_safetensors(os.path.join(OUT_DIR, "conventions.safetensors"), tensors)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    float_cases()
    convention_cases()


if __name__ == "__main__":
    main()
