"""Test inputs and output comparisons for tools/gpu_check.sh (numpy + OpenCV or tifffile; no torch).

Images travel between microsr and the references as 16-bit RGB TIFF: microsr's upscale keeps the
input's bit depth, so a 16-bit input gives a 16-bit output, quantized to 1/65535 ≈ 1.5e-5 — an
error of at most 7.6e-6 per pixel from rounding, 13× under the 1e-4 parity target. PyTorch outputs
are kept as float32 .npy ([3][H][W], not clamped, so NaN/Inf from fp16 overflow stay visible).
Every comparison is on [0,1] values: TIFF / 65535, .npy clamped to [0,1] (as Real-ESRGAN saves).

    make-inputs --sample S --out-dir D --sizes 64x64,256x256,1600x1200
        16-bit RGB TIFFs in_<W>x<H>.tif: a centre crop of the sample when it is large enough,
        else the sample mirrored (numpy 'symmetric' padding) out to the size, then cropped.
        8-bit samples are widened exactly (v · 257).
    compare A B             prints {max_abs, mean_abs, psnr_db, nonfinite_a, nonfinite_b} as JSON
    rows --results R --call C --step S [--simulate] --spec 'label|A|B|kind|target' ...
        one table row per spec: kind maxabs (PASS when max abs ≤ target), psnr (PASS when PSNR ≥
        target dB), or info_maxabs / info_psnr (no target). A missing file gives a FAIL row
        naming it, so a command that crashed upstream still shows in the table.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_report import add_row, fmt_number  # noqa: E402


# ---- image files ----------------------------------------------------------------------------

def read_image(path):
    """Returns float32 [3][H][W] in [0,1] (TIFF/PNG: value / max) or the raw .npy array."""
    if path.endswith(".npy"):
        a = np.load(path).astype(np.float32)
        if a.ndim == 4:
            a = a[0]
        if a.ndim == 3 and a.shape[-1] in (1, 3, 4) and a.shape[0] not in (1, 3, 4):
            a = a.transpose(2, 0, 1)
        return a
    pixels = _read_pixels(path)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    return (pixels.astype(np.float32) / scale).transpose(2, 0, 1)[:3]


def _read_pixels(path):
    """[H][W][C] integers in RGB order."""
    try:
        import cv2
        pixels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if pixels is not None:
            if pixels.ndim == 3 and pixels.shape[2] >= 3:
                pixels = np.ascontiguousarray(pixels[:, :, [2, 1, 0]])
            return pixels
    except ImportError:
        pass
    import tifffile
    return tifffile.imread(path)


def write_tiff16(path, rgb16):
    """rgb16: uint16 [H][W][3]. Written through OpenCV (BGR order) or tifffile, atomically."""
    tmp = path + ".tmp.tif"
    try:
        import cv2
        if not cv2.imwrite(tmp, np.ascontiguousarray(rgb16[:, :, ::-1])):
            raise OSError(f"OpenCV could not write {tmp}")
    except ImportError:
        import tifffile
        tifffile.imwrite(tmp, rgb16, photometric="rgb")
    os.replace(tmp, path)


def parse_size(text):
    """'64' → (64, 64); '1600x1200' → (1600, 1200) as (width, height)."""
    parts = text.lower().split("x")
    if len(parts) == 1:
        return int(parts[0]), int(parts[0])
    return int(parts[0]), int(parts[1])


def make_input(sample_rgb, width, height):
    """Centre crop of the sample, mirrored out first where it is smaller than the size."""
    h, w = sample_rgb.shape[:2]
    pad_h, pad_w = max(0, height - h), max(0, width - w)
    if pad_h or pad_w:
        sample_rgb = np.pad(sample_rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        h, w = sample_rgb.shape[:2]
    top, left = (h - height) // 2, (w - width) // 2
    return sample_rgb[top:top + height, left:left + width]


def make_inputs(sample, out_dir, sizes):
    pixels = _read_pixels(sample)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    pixels = pixels[:, :, :3]
    wide = pixels.astype(np.uint16) * 257 if pixels.dtype == np.uint8 else pixels.astype(np.uint16)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for text in sizes:
        width, height = parse_size(text)
        path = os.path.join(out_dir, f"in_{width}x{height}.tif")
        if not os.path.exists(path):
            write_tiff16(path, np.ascontiguousarray(make_input(wide, width, height)))
        back = _read_pixels(path)
        if back.shape != (height, width, 3) or back.dtype != np.uint16:
            raise ValueError(f"{path}: read back {back.shape} {back.dtype}, expected "
                             f"({height}, {width}, 3) uint16")
        written.append(path)
    return written


# ---- comparisons ----------------------------------------------------------------------------

def compare(path_a, path_b):
    a, b = read_image(path_a), read_image(path_b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {path_a} {a.shape} vs {path_b} {b.shape}")
    nonfinite_a, nonfinite_b = int((~np.isfinite(a)).sum()), int((~np.isfinite(b)).sum())
    # NaN counts as the worst value (0 after nan_to_num would hide it; 1 makes it visible).
    a = np.clip(np.nan_to_num(a, nan=1.0, posinf=1.0, neginf=0.0), 0.0, 1.0).astype(np.float64)
    b = np.clip(np.nan_to_num(b, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0).astype(np.float64)
    diff = np.abs(a - b)
    mse = float((diff ** 2).mean())
    return dict(max_abs=float(diff.max()), mean_abs=float(diff.mean()),
                psnr_db=math.inf if mse == 0 else 10 * math.log10(1.0 / mse),
                nonfinite_a=nonfinite_a, nonfinite_b=nonfinite_b, shape=list(a.shape))


def spec_row(spec, results, call, step, note_prefix="", simulate=False):
    label, path_a, path_b, kind, target = (spec.split("|") + [""] * 5)[:5]
    missing = [p for p in (path_a, path_b) if not os.path.exists(p)]
    if missing:
        add_row(results, call, step, label, status="FAIL",
                note=note_prefix + "missing " + ", ".join(os.path.basename(p) for p in missing)
                + " (the command that makes it failed; see its log)")
        return None
    try:
        m = compare(path_a, path_b)
    except ValueError as e:
        add_row(results, call, step, label, status="FAIL", note=note_prefix + str(e))
        return None
    extra = (f"max abs {fmt_number(m['max_abs'])}, mean abs {fmt_number(m['mean_abs'])}, "
             f"PSNR {fmt_number(m['psnr_db'])} dB")
    if m["nonfinite_a"] or m["nonfinite_b"]:
        extra += f"; NON-FINITE values: {m['nonfinite_a']} in A, {m['nonfinite_b']} in B"
    if kind in ("maxabs", "info_maxabs"):
        value, shown, target_text = m["max_abs"], fmt_number(m["max_abs"]), f"≤{target}" if target else ""
        ok = target == "" or value <= float(target)
    else:
        value, shown, target_text = m["psnr_db"], fmt_number(m["psnr_db"]) + " dB", f"≥{target} dB" if target else ""
        ok = target == "" or value >= float(target)
    ok = ok and not m["nonfinite_a"] and not m["nonfinite_b"]
    status = "INFO" if kind.startswith("info") else ("PASS" if ok else "FAIL")
    if simulate and status != "INFO":
        note_prefix, status = f"simulated on CPU, would be {status}; " + note_prefix, "INFO"
    add_row(results, call, step, label, ours=shown, target=target_text, status=status,
            note=note_prefix + extra)
    return m


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_make = sub.add_parser("make-inputs")
    p_make.add_argument("--sample", required=True)
    p_make.add_argument("--out-dir", required=True)
    p_make.add_argument("--sizes", default="64x64,256x256")
    p_cmp = sub.add_parser("compare")
    p_cmp.add_argument("a")
    p_cmp.add_argument("b")
    p_rows = sub.add_parser("rows")
    p_rows.add_argument("--results", required=True)
    p_rows.add_argument("--call", default="")
    p_rows.add_argument("--step", required=True)
    p_rows.add_argument("--note", default="", help="prefix for every row's note")
    p_rows.add_argument("--spec", action="append", default=[], help="label|A|B|kind|target")
    p_rows.add_argument("--simulate", action="store_true", help="a CPU plumbing test: verdicts → INFO")
    args = parser.parse_args(argv[1:])

    if args.command == "make-inputs":
        for path in make_inputs(args.sample, args.out_dir, args.sizes.split(",")):
            print(path)
    elif args.command == "compare":
        print(json.dumps(compare(args.a, args.b)))
    elif args.command == "rows":
        prefix = args.note + "; " if args.note else ""
        for spec in args.spec:
            m = spec_row(spec, args.results, args.call, args.step, prefix, args.simulate)
            print(spec.split("|")[0], json.dumps(m))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
