#!/usr/bin/env python3
"""Writes the weight-file fixtures under tests/data/weights/ with real PyTorch and real safetensors.

Run from the repository root:
    /usr/bin/python3 tools/make_weight_fixtures.py

Two interpreters take part, because no single one here has both packages:
  * /usr/bin/python3 (Debian's python3-torch) writes every .pth with torch.save;
  * the `python3` on PATH (or $SAFETENSORS_PYTHON) writes the .safetensors files with the real
    `safetensors` package. Install it once with:  python3 -m pip install safetensors numpy
    The torch side hands it raw little-endian arrays as .npy files plus a JSON manifest; this same
    script, run with --write-safetensors MANIFEST OUT, turns them into a safetensors file.

Values are not random: element i of the t-th tensor of the tiny RRDBNet (in basicsr key order) is
    ((37 * i + 11 * t) % 255 - 127) / 128
which is exact in float32, float16 and bfloat16, so the C++ tests recompute every expected value
independently of any loader. The "params" copy (which must lose to "params_ema") holds the negation.

The tiny RRDBNet: in/out 3 channels, num_feat 4, num_grow_ch 2, num_block 2 (shapes as basicsr's).
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "weights")

NUM_IN, NUM_OUT, NUM_FEAT, GROW, NUM_BLOCK = 3, 3, 4, 2, 2


def basicsr_shapes():
    """(name, shape) of the tiny RRDBNet in basicsr's state_dict order."""
    conv = lambda cout, cin: [("weight", [cout, cin, 3, 3]), ("bias", [cout])]
    layers = [("conv_first", conv(NUM_FEAT, NUM_IN))]
    for b in range(NUM_BLOCK):
        for r in range(1, 4):
            for j in range(1, 6):
                cout = NUM_FEAT if j == 5 else GROW
                layers.append((f"body.{b}.rdb{r}.conv{j}", conv(cout, NUM_FEAT + (j - 1) * GROW)))
    for name in ["conv_body", "conv_up1", "conv_up2", "conv_hr"]:
        layers.append((name, conv(NUM_FEAT, NUM_FEAT)))
    layers.append(("conv_last", conv(NUM_OUT, NUM_FEAT)))
    return [(f"{layer}.{p}", shape) for layer, params in layers for p, shape in params]


def esrgan2019_name(name):
    """basicsr name -> ESRGAN-2019 (xinntao/ESRGAN RRDBNet_arch) name."""
    parts = name.split(".")
    if parts[0] == "body":
        return f"RRDB_trunk.{parts[1]}.RDB{parts[2][3:]}.{parts[3]}.{parts[4]}"
    old = {"conv_first": "conv_first", "conv_body": "trunk_conv", "conv_up1": "upconv1",
           "conv_up2": "upconv2", "conv_hr": "HRconv", "conv_last": "conv_last"}
    return f"{old[parts[0]]}.{parts[1]}"


def sequential_name(name):
    """basicsr name -> old sequential (ESRGAN 2018 architecture.py) name."""
    parts = name.split(".")
    if parts[0] == "body":
        return f"model.1.sub.{parts[1]}.RDB{parts[2][3:]}.{parts[3]}.0.{parts[4]}"
    index = {"conv_first": "model.0", "conv_body": f"model.1.sub.{NUM_BLOCK}",
             "conv_up1": "model.3", "conv_up2": "model.6", "conv_hr": "model.8",
             "conv_last": "model.10"}
    return f"{index[parts[0]]}.{parts[1]}"


def pattern_values(t, count):
    return [((37 * i + 11 * t) % 255 - 127) / 128.0 for i in range(count)]


def tiny_state_dict(torch, sign=1.0, dtype=None):
    sd = OrderedDict()
    for t, (name, shape) in enumerate(basicsr_shapes()):
        n = 1
        for d in shape:
            n *= d
        tensor = torch.tensor(pattern_values(t, n), dtype=torch.float32).reshape(shape) * sign
        sd[name] = tensor.to(dtype) if dtype is not None else tensor
    return sd


def renamed(sd, rename):
    return OrderedDict((rename(k), v) for k, v in sd.items())


def write_torch_layout_zip(path, pickle_bytes, compression=zipfile.ZIP_STORED, extra=None):
    """A zip laid out like torch.save's (archive/data.pkl, archive/data/N, archive/version)."""
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        for name, data in (extra or {}).items():
            z.writestr("archive/" + name, data)
        z.writestr("archive/version", b"3\n")


def special_values(torch):
    """Tensors that exercise dtype widening and strided views (see tests/test_pth.cpp)."""
    f16 = torch.tensor([65504.0, -65504.0, 2.0 ** -24, 2.0 ** -14, -0.0, float("inf"),
                        float("-inf"), 1.0 / 3.0], dtype=torch.float32).half()
    bf16 = torch.tensor([1.0, -2.5, 1.0 / 3.0, 2.0 ** -130, 3.0e38], dtype=torch.float32).bfloat16()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)  # value = 6 * row + col
    return OrderedDict([
        ("f16_specials", f16),
        ("bf16_values", bf16),
        ("transposed", base.t()),            # [6, 4], strides (1, 6)
        ("sliced", base[1:3, 2:5]),          # [2, 3], storage offset 8, strides (6, 1)
        ("shared_row", base[3]),             # same storage as the two above, offset 18
        ("scalar", torch.tensor(3.5)),       # rank 0
        ("empty", torch.zeros(0, 3)),        # no elements
    ])


def make_pth_fixtures(torch):
    save = lambda obj, name, **kw: torch.save(obj, os.path.join(OUT_DIR, name), **kw)
    ema = tiny_state_dict(torch)
    # nn.Module.state_dict() attaches _metadata, which pickles as a BUILD opcode; mimic it.
    ema._metadata = OrderedDict([("", {"version": 1}), ("conv_first", {"version": 1})])
    params = tiny_state_dict(torch, sign=-1.0)

    # BasicSR / Real-ESRGAN layout: both wrappers present, the loader must prefer params_ema.
    save({"params": params, "params_ema": ema}, "tiny_basicsr_params_ema.pth")
    # xinntao/ESRGAN 2019 release: a plain OrderedDict with the old class's names.
    save(renamed(ema, esrgan2019_name), "tiny_esrgan2019.pth")
    # ESRGAN 2018 sequential model names.
    save(renamed(ema, sequential_name), "tiny_sequential.pth")
    # A DataParallel training checkpoint: module.-prefixed names under state_dict, next to other
    # picklable values the restricted unpickler must build (floats, big ints, lists, None, bools).
    checkpoint = {
        "epoch": 7,
        "meta": {"lr": 2.5e-4, "iters": 2 ** 40, "neg": -300, "flags": [True, False, None],
                 "pair": (1, "x"), "name": "tiny"},
        "state_dict": renamed(ema, lambda k: "module." + k),
    }
    save(checkpoint, "tiny_module_state_dict.pth")
    # Half-precision weights (as many released .pth files are), top-level dict.
    save(tiny_state_dict(torch, dtype=torch.float16), "tiny_fp16.pth")
    # Strided views, shared storages, fp16/bf16 special values; pickle protocols 2 and 4.
    save(special_values(torch), "special_tensors.pth")
    save(special_values(torch), "special_tensors_protocol4.pth", pickle_protocol=4)

    # The same torch archive re-packed with deflate compression (zip readers must inflate).
    src = zipfile.ZipFile(os.path.join(OUT_DIR, "special_tensors.pth"))
    with zipfile.ZipFile(os.path.join(OUT_DIR, "special_tensors_deflated.pth"), "w",
                         zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))

    # Malicious pickles, written opcode by opcode: generating them runs nothing. Protocol 2 GLOBAL
    # of os.system, and protocol 4 STACK_GLOBAL of builtins.eval.
    os_system = b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R."
    write_torch_layout_zip(os.path.join(OUT_DIR, "malicious_os_system.pth"), os_system)
    short = lambda s: b"\x8c" + bytes([len(s)]) + s
    builtins_eval = (b"\x80\x04" + short(b"builtins") + short(b"eval") + b"\x93"
                     + short(b"print('pwned')") + b"\x85R.")
    write_torch_layout_zip(os.path.join(OUT_DIR, "malicious_eval_protocol4.pth"), builtins_eval)


def raw_for_safetensors(tensor, torch):
    """(numpy array of the raw little-endian bytes' element type, safetensors dtype name)."""
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: hand over the bit patterns
        return tensor.contiguous().view(torch.int16).numpy().view("uint16"), "bfloat16"
    return tensor.contiguous().numpy(), {torch.float32: "float32", torch.float16: "float16"}[tensor.dtype]


def make_safetensors_fixtures(torch):
    import numpy as np
    specs = {
        "tiny_basicsr.safetensors": tiny_state_dict(torch),
        "mixed_dtypes.safetensors": OrderedDict([
            ("f16_specials", special_values(torch)["f16_specials"]),
            ("bf16_values", special_values(torch)["bf16_values"]),
            ("f32_matrix", torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2.5),
            ("f16_pattern", torch.tensor(pattern_values(0, 12)).reshape(3, 4).half()),
            ("bf16_pattern", torch.tensor(pattern_values(1, 12)).reshape(2, 2, 3).bfloat16()),
            ("scalar", torch.tensor(-1.25)),
        ]),
    }
    python = os.environ.get("SAFETENSORS_PYTHON", "python3")
    with tempfile.TemporaryDirectory() as tmp:
        for out_name, sd in specs.items():
            manifest = []
            for i, (name, tensor) in enumerate(sd.items()):
                array, dtype = raw_for_safetensors(tensor, torch)
                npy = os.path.join(tmp, f"{i}.npy")
                np.save(npy, array)
                manifest.append({"name": name, "dtype": dtype, "shape": list(tensor.shape), "npy": npy})
            manifest_path = os.path.join(tmp, "manifest.json")
            with open(manifest_path, "w") as f:
                json.dump(manifest, f)
            subprocess.run([python, os.path.abspath(__file__), "--write-safetensors", manifest_path,
                            os.path.join(OUT_DIR, out_name)], check=True)


def write_safetensors(manifest_path, out_path):
    """Runs under the interpreter that has `safetensors` (no torch needed)."""
    import numpy as np
    from safetensors import serialize_file, TensorSpec
    manifest = json.load(open(manifest_path))
    arrays, specs = [], {}
    for entry in manifest:
        array = np.ascontiguousarray(np.load(entry["npy"]))
        arrays.append(array)  # keeps the buffers alive while serialize_file reads them
        specs[entry["name"]] = TensorSpec(dtype=entry["dtype"], shape=entry["shape"],
                                          data_ptr=array.ctypes.data, data_len=array.nbytes)
    serialize_file(specs, out_path, metadata={"format": "pt", "source": "make_weight_fixtures.py"})


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--write-safetensors":
        write_safetensors(sys.argv[2], sys.argv[3])
        return
    import torch
    os.makedirs(OUT_DIR, exist_ok=True)
    make_pth_fixtures(torch)
    make_safetensors_fixtures(torch)
    for name in sorted(os.listdir(OUT_DIR)):
        print(f"{os.path.getsize(os.path.join(OUT_DIR, name)):8d}  tests/data/weights/{name}")


if __name__ == "__main__":
    main()
