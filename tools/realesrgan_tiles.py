"""Writes tests/data/tiles/*.safetensors: tiled-inference references for microsr's tiler.

Two tile loops over PyTorch, written here from their descriptions:

realesrgan  Real-ESRGAN's RealESRGANer (realesrgan/utils.py): pre_process reflect-pads the image by
            pre_pad on the bottom and right, then (scale 2 / 1 models) reflect-pads bottom/right to a
            multiple of 2 / 4 ("mod pad"); tile_process cuts tiles of tile×tile from the top-left
            (the last row/column takes the remainder), runs each with tile_pad pixels of context on
            every side clamped to the image, and pastes only the tile's own scale× area into a zero
            image; post_process crops the mod pad, then the pre-pad, both times scale. tile 0 runs
            the whole padded image at once.
blend       microsr's seam-free mode (src/nn/tiler.cpp): ceil(L / tile) tiles spread evenly over
            each axis (tile i covers [floor(L·i/n), floor(L·(i+1)/n))), every piece of one length —
            ceil(L / n) + 2·tile_pad rounded up to a multiple of 2 / 4 for scale 2 / 1, at most L —
            centred on its tile and shifted inside the image at the ends, and each piece's output
            weighted by fade_in(left seam) · fade_out(right seam) per axis, a raised cosine over
            ±blend input pixels around each seam (blend < 0: tile_pad // 2), evaluated at
            output-pixel centres (X + ½)/scale;
            the output is Σ weight·piece / Σ weight (written here with a weight-sum image, where
            microsr normalises per axis — the same numbers, computed differently).

Each fixture file holds the weights of one tests/data/rrdbnet fixture (basicsr keys, re-stored so
the test needs one file), "input" [1][C][H][W] (uniform [0,1), seeded) and one output per setting,
named "<mode>.t<tile>.p<tile_pad>.pp<pre_pad>.b<blend>" (b-1 for realesrgan), all F32. Forward
passes run in float64 on the stored float32 weights and input; only the results are rounded, so a
float32 engine should land within ~1e-5 of them (tests allow 1e-4).

Usage: /usr/bin/python3 tools/realesrgan_tiles.py [--out tests/data/tiles]
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rrdbnet_goldens import read_safetensors, write_safetensors  # noqa: E402
from torch_rrdbnet import build_from_state_dict  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# output name: (weights fixture in tests/data/rrdbnet, input H, W, seed, settings)
# settings: (mode, tile, tile_pad, pre_pad, blend); tiles that do not divide the image on purpose.
FIXTURES = {
    "tiles_x4": ("x4_f8_b2_g4", 13, 11, 7, [
        ("realesrgan", 0, 10, 0, -1),   # whole image
        ("realesrgan", 0, 10, 3, -1),   # whole image with pre-pad
        ("realesrgan", 6, 2, 0, -1),    # 3×3 tiles, last row/column thinner
        ("realesrgan", 5, 3, 2, -1),    # pre-pad, tiles of 5 over 15×13
        ("realesrgan", 4, 0, 0, -1),    # no context at all: seams at their worst
        ("realesrgan", 7, 1, 1, -1),
        ("realesrgan", 40, 10, 0, -1),  # one tile larger than the image
        ("blend", 6, 3, 0, 3),
        ("blend", 5, 4, 2, 2),
        ("blend", 6, 2, 0, 0),          # zero-width cross-fade: a hard cut at evenly spread seams
        ("blend", 6, 4, 0, -1),         # the default cross-fade, tile_pad // 2
    ]),
    "tiles_x2": ("x2_f8_b1_g4_batch2", 13, 11, 8, [
        ("realesrgan", 0, 10, 0, -1),   # mod pad to 14×12
        ("realesrgan", 4, 2, 0, -1),
        ("realesrgan", 6, 4, 3, -1),    # pre-pad 3 then mod pad: 16×14
        ("blend", 4, 3, 0, 3),          # odd context: pieces grown to even sizes
    ]),
    "tiles_x1": ("x1_f4_b1_g2", 10, 9, 9, [
        ("realesrgan", 8, 4, 0, -1),    # mod pad to 12×12 (multiples of 4)
        ("blend", 4, 2, 1, 2),
    ]),
}


# ---- RealESRGANer's loop ----

def realesrgan_pre_process(img, scale, pre_pad):
    """Returns (padded image, mod_pad_h, mod_pad_w)."""
    if pre_pad != 0:
        img = F.pad(img, (0, pre_pad, 0, pre_pad), "reflect")
    mod = {2: 2, 1: 4}.get(scale)
    mod_pad_h = mod_pad_w = 0
    if mod is not None:
        _, _, h, w = img.shape
        mod_pad_h = (mod - h % mod) % mod
        mod_pad_w = (mod - w % mod) % mod
        img = F.pad(img, (0, mod_pad_w, 0, mod_pad_h), "reflect")
    return img, mod_pad_h, mod_pad_w


def realesrgan_tile_process(model, img, scale, tile, tile_pad):
    n, _, height, width = img.shape
    output = None
    for ty in range(math.ceil(height / tile)):
        for tx in range(math.ceil(width / tile)):
            x0, y0 = tx * tile, ty * tile
            x1, y1 = min(x0 + tile, width), min(y0 + tile, height)
            px0, py0 = max(x0 - tile_pad, 0), max(y0 - tile_pad, 0)
            px1, py1 = min(x1 + tile_pad, width), min(y1 + tile_pad, height)
            piece = model(img[:, :, py0:py1, px0:px1])
            if output is None:
                output = img.new_zeros((n, piece.shape[1], height * scale, width * scale))
            # The tile's own area, which starts (x0 - px0)·scale into the piece's output.
            oy, ox = (y0 - py0) * scale, (x0 - px0) * scale
            output[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                piece[:, :, oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
    return output


def realesrgan_upscale(model, img, scale, tile, tile_pad, pre_pad):
    padded, mod_pad_h, mod_pad_w = realesrgan_pre_process(img, scale, pre_pad)
    out = model(padded) if tile == 0 else realesrgan_tile_process(model, padded, scale, tile, tile_pad)
    _, _, h, w = out.shape
    out = out[:, :, :h - mod_pad_h * scale, :w - mod_pad_w * scale]
    _, _, h, w = out.shape
    return out[:, :, :h - pre_pad * scale, :w - pre_pad * scale]


# ---- microsr's blend loop ----

def fade_in(x, seam, half_width):
    if half_width == 0:
        return (x >= seam).double()
    t = ((x - seam + half_width) / (2 * half_width)).clamp(0, 1)
    return 0.5 - 0.5 * torch.cos(math.pi * t)


def blend_axis(length, tile, pad, divisor):
    """[(begin, end, piece_begin, piece_end)] for one axis."""
    count = math.ceil(length / tile)
    piece = min(length, math.ceil((math.ceil(length / count) + 2 * pad) / divisor) * divisor)
    spans = []
    for i in range(count):
        begin, end = length * i // count, length * (i + 1) // count
        piece_begin = min(max(begin - (piece - (end - begin)) // 2, 0), length - piece)
        spans.append((begin, end, piece_begin, piece_begin + piece))
    return spans


def axis_weight(spans, i, scale, half_width):
    begin, end, piece_begin, piece_end = spans[i]
    x = (torch.arange(piece_begin * scale, piece_end * scale, dtype=torch.float64) + 0.5) / scale
    w = torch.ones_like(x)
    if i > 0:
        w = w * fade_in(x, begin, half_width)
    if i + 1 < len(spans):
        w = w * (1 - fade_in(x, end, half_width))
    return w


def blend_upscale(model, img, scale, tile, tile_pad, pre_pad, blend):
    padded, mod_pad_h, mod_pad_w = realesrgan_pre_process(img, scale, pre_pad)
    divisor = {2: 2, 1: 4}.get(scale, 1)
    _, _, height, width = padded.shape
    half_width = min(tile_pad // 2 if blend < 0 else blend, tile_pad)
    rows = blend_axis(height, tile, tile_pad, divisor)
    cols = blend_axis(width, tile, tile_pad, divisor)
    total, weight_sum = None, torch.zeros(height * scale, width * scale, dtype=torch.float64)
    for i, (_, _, py0, py1) in enumerate(rows):
        wy = axis_weight(rows, i, scale, half_width)
        for j, (_, _, px0, px1) in enumerate(cols):
            wx = axis_weight(cols, j, scale, half_width)
            piece = model(padded[:, :, py0:py1, px0:px1])
            if total is None:
                total = padded.new_zeros((1, piece.shape[1], height * scale, width * scale))
            weight = wy[:, None] * wx[None, :]
            total[:, :, py0 * scale:py1 * scale, px0 * scale:px1 * scale] += weight * piece
            weight_sum[py0 * scale:py1 * scale, px0 * scale:px1 * scale] += weight
    out = total / weight_sum
    _, _, h, w = out.shape
    out = out[:, :, :h - mod_pad_h * scale, :w - mod_pad_w * scale]
    _, _, h, w = out.shape
    return out[:, :, :h - pre_pad * scale, :w - pre_pad * scale]


def make_fixture(name, weights_name, height, width, seed, settings, out_dir):
    weights, _ = read_safetensors(os.path.join(REPO_ROOT, "tests", "data", "rrdbnet",
                                               weights_name + ".safetensors"))
    weights = {k: v for k, v in weights.items() if k not in ("input", "output")
               and not k.startswith("act.")}
    model = build_from_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()},
                                  dtype=torch.float64)
    channels = weights["conv_first.weight"].shape[1] // {4: 1, 2: 4, 1: 16}[model.scale]
    x = torch.rand((1, channels, height, width), generator=torch.Generator().manual_seed(seed))
    tensors = dict(weights)
    tensors["input"] = x.numpy()
    with torch.no_grad():
        whole = model(realesrgan_pre_process(x.double(), model.scale, 0)[0])
        for mode, tile, tile_pad, pre_pad, blend in settings:
            if mode == "realesrgan":
                y = realesrgan_upscale(model, x.double(), model.scale, tile, tile_pad, pre_pad)
            else:
                y = blend_upscale(model, x.double(), model.scale, tile, tile_pad, pre_pad, blend)
            key = f"{mode}.t{tile}.p{tile_pad}.pp{pre_pad}.b{blend}"
            tensors[key] = y.numpy()
            same = whole[:, :, :y.shape[2], :y.shape[3]]
            print(f"  {key}: {list(y.shape)}, max |tiled - whole| {(y - same).abs().max():.3f}")
    path = os.path.join(out_dir, name + ".safetensors")
    write_safetensors(path, tensors, dict(weights=weights_name, generator="tools/realesrgan_tiles.py"))
    print(f"{path}: {os.path.getsize(path) / 1024:.1f} KB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "data", "tiles"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, (weights_name, height, width, seed, settings) in FIXTURES.items():
        make_fixture(name, weights_name, height, width, seed, settings, args.out)


if __name__ == "__main__":
    main()
