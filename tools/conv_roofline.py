#!/usr/bin/env python3
"""The least time a convolution can take on a card: its roofline floor.

A 'same' k×k convolution of an N×Cin×H×W input to Cout channels does 2·N·H·W·Cin·Cout·k²
FLOPs and, at best, reads its input and weights once and writes its output once:
(Cin + Cout)·N·H·W + Cin·Cout·k² elements. Its floor is the larger of FLOPs / peak rate and
bytes / memory bandwidth; no kernel, cuDNN's or ours, can beat it. The gradients have the same
counts (backward data reads dy and writes dx; backward weight reads x and dy and writes dw).

Peaks are the data sheets' dense figures (no sparsity): fp16 on tensor cores with fp32
accumulation; fp32 as FMA on the CUDA cores (microsr's fp32 uses no TF32).

    conv_roofline.py network --card "NVIDIA H200" [--size 1600x1200] [--precision fp16] [--batch 1]
        RealESRGAN_x4plus's convolutions at that size: FLOPs, bytes, the floor of the whole pass
    conv_roofline.py train --card "NVIDIA H200" [--size 32x32] [--batch 4] [--precision fp32]
        one training step's convolutions: the forward pass and both gradients of every
        convolution (the first one's input gradient is not needed)
    conv_roofline.py --self-test
        checks the arithmetic against hand-worked figures (run by ctest)

gpu_layer_summary.py uses floor_seconds() to say how far each measured layer shape is from it.
"""
import argparse
import re
import sys

# name pattern (searched in the device name, first match wins) → (fp16 tensor FLOP/s, fp32 FMA
# FLOP/s, memory bytes/s), NVIDIA's data sheets, dense.
CARDS = [
    ("H200", (989.4e12, 66.9e12, 4.8e12)),
    ("H100 NVL", (835e12, 60e12, 3.9e12)),
    ("H100 PCIe", (756e12, 51.2e12, 2.0e12)),
    ("H100", (989.4e12, 66.9e12, 3.35e12)),  # SXM5, "NVIDIA H100 80GB HBM3"
]

SHAPE = re.compile(r"^(\d+)×(\d+)×(\d+)×(\d+) → (\d+), k(\d+)$")


def card_peaks(device_name):
    """(fp16 FLOP/s, fp32 FLOP/s, bytes/s) of a device name as nvidia-smi gives it, or None."""
    for pattern, peaks in CARDS:
        if pattern in (device_name or ""):
            return peaks
    return None


def parse_conv_shape(shape):
    """'1×64×1200×1600 → 32, k3' (TimedBackend's convolution shapes) → (n, cin, h, w, cout, k), or None."""
    m = SHAPE.match(shape.strip())
    return tuple(int(g) for g in m.groups()) if m else None


def conv_counts(n, cin, h, w, cout, k, element_bytes):
    """(FLOPs, bytes moved at best) of one 'same' convolution."""
    flops = 2.0 * n * h * w * cin * cout * k * k
    moved = ((cin + cout) * n * h * w + cin * cout * k * k) * element_bytes
    return flops, moved


def floor_seconds(shape, precision, peaks):
    """(floor in s, 'compute' or 'memory') of a convolution shape string, or None if not one."""
    dims = parse_conv_shape(shape)
    if dims is None or peaks is None:
        return None
    fp16 = precision == "fp16"
    flops, moved = conv_counts(*dims, element_bytes=2 if fp16 else 4)
    compute, memory = flops / (peaks[0] if fp16 else peaks[1]), moved / peaks[2]
    return (compute, "compute") if compute >= memory else (memory, "memory")


def realesrgan_x4plus_convs(width, height, batch=1):
    """The 351 convolutions of RRDBNet x4 (23 blocks, 64 features, growth 32) as shape strings."""
    def conv(cin, cout, scale=1):
        return f"{batch}×{cin}×{height * scale}×{width * scale} → {cout}, k3"
    shapes = [conv(3, 64)]
    for _ in range(23 * 3):  # 23 RRDBs of 3 dense blocks, 5 convolutions each
        shapes += [conv(64 + 32 * i, 32) for i in range(4)] + [conv(192, 64)]
    shapes += [conv(64, 64), conv(64, 64, 2), conv(64, 64, 4), conv(64, 64, 4), conv(64, 3, 4)]
    return shapes


def network_floor(width, height, precision, peaks, batch=1, train=False):
    """(FLOPs, bytes, floor s) of the whole forward pass, or with train of a training step (three
    convolutions' worth for each but the first, two for it): the sum of the convolutions' floors."""
    element_bytes = 2 if precision == "fp16" else 4
    flops = moved = seconds = 0.0
    for i, shape in enumerate(realesrgan_x4plus_convs(width, height, batch)):
        times = 1 if not train else 2 if i == 0 else 3
        f, b = conv_counts(*parse_conv_shape(shape), element_bytes)
        flops, moved = flops + times * f, moved + times * b
        seconds += times * floor_seconds(shape, precision, peaks)[0]
    return flops, moved, seconds


def self_test():
    h200, h100 = card_peaks("NVIDIA H200"), card_peaks("NVIDIA H100 80GB HBM3")
    assert h200[2] == 4.8e12 and h100[2] == 3.35e12 and card_peaks("NVIDIA H100 PCIe")[0] == 756e12
    assert card_peaks("AMD EPYC") is None and floor_seconds("1×64×8×8 → 32, k3", "fp16", None) is None
    assert parse_conv_shape("1×64×1200×1600 → 32, k3") == (1, 64, 1200, 1600, 32, 3)
    assert parse_conv_shape("1×64×1200×1600") is None  # not a convolution
    # 64 → 32 at 1600×1200, fp16: 2·1920000·64·32·9 = 70.78 GFLOP; (64+32)·1920000·2 + 18432·2 bytes.
    f, b = conv_counts(1, 64, 1200, 1600, 32, 3, 2)
    assert f == 70_778_880_000 and b == 368_676_864
    # Memory-bound even on an H200: 76.8 µs of traffic against 71.5 µs of math (110 µs on an H100).
    s, bound = floor_seconds("1×64×1200×1600 → 32, k3", "fp16", h200)
    assert bound == "memory" and abs(s - b / 4.8e12) < 1e-12
    s, bound = floor_seconds("1×64×1200×1600 → 32, k3", "fp16", h100)
    assert bound == "memory" and abs(s - b / 3.35e12) < 1e-12
    # The dense block's last convolution, 192 → 64: 429 µs of math against 205 µs of traffic.
    s, bound = floor_seconds("1×192×1200×1600 → 64, k3", "fp16", h200)
    assert bound == "compute" and abs(s - 2 * 1920000 * 192 * 64 * 9 / 989.4e12) < 1e-12
    s, bound = floor_seconds("4×64×32×32 → 32, k3", "fp32", h200)  # fp32 uses the FMA rate
    assert bound == "compute" and abs(s - 2 * 4 * 32 * 32 * 64 * 32 * 9 / 66.9e12) < 1e-15
    shapes = realesrgan_x4plus_convs(1600, 1200)
    assert len(shapes) == 1 + 23 * 3 * 5 + 5
    flops, moved, seconds = network_floor(1600, 1200, "fp16", h200)
    assert abs(flops / 1e12 - 68.8) < 0.05, flops  # the "~70 TFLOP"
    assert 0.069 < seconds < 0.072, seconds
    # A training step at batch 4, 32×32: 4096/1920000 of that pass's work, about 3 times over.
    flops, _, seconds = network_floor(32, 32, "fp32", h200, batch=4, train=True)
    forward = network_floor(32, 32, "fp32", h200, batch=4)[0]
    assert abs(forward / 68.8e12 * 1920000 / 4096 - 1) < 0.001 and 2.99 < flops / forward < 3
    assert abs(seconds - flops / 66.9e12) < 1e-4, seconds  # fp32 FMA-bound throughout
    print("conv_roofline self-test: ok")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["network", "train"])
    ap.add_argument("--card", required=True, help="device name, e.g. 'NVIDIA H200'")
    ap.add_argument("--size", help="WxH of the (LR) input; default 1600x1200, 32x32 for train")
    ap.add_argument("--batch", type=int, help="default 1, 4 for train")
    ap.add_argument("--precision", choices=["fp16", "fp32"], help="default fp16, fp32 for train")
    args = ap.parse_args(argv[1:])
    train = args.what == "train"
    size = args.size or ("32x32" if train else "1600x1200")
    batch = args.batch or (4 if train else 1)
    precision = args.precision or ("fp32" if train else "fp16")
    peaks = card_peaks(args.card)
    if peaks is None:
        sys.exit(f"conv_roofline: no peak figures for {args.card!r}; known: {', '.join(p for p, _ in CARDS)}")
    width, height = (int(v) for v in size.lower().split("x"))
    flops, moved, seconds = network_floor(width, height, precision, peaks, batch, train)
    print(f"RealESRGAN_x4plus {'training step' if train else 'forward'} {batch}×{width}x{height} {precision} on "
          f"{args.card}: {flops / 1e12:.3f} TFLOP, {moved / 1e9:.1f} GB moved at best; floor {seconds:.4f} s "
          f"(the sum of each convolution's)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
