"""Writes tests/data/rrdbnet/*.safetensors: PyTorch goldens of RRDBNet forward on small random nets.

Each fixture is a safetensors file, every tensor F32, holding
    the weights under their basicsr keys   conv_first.weight, body.0.rdb1.conv1.bias, …
    "input"                                [N][in_ch][H][W], uniform in [0, 1)
    "output"                               [N][out_ch][sH][sW] for scale s (see
                                            tools/torch_rrdbnet.py)
    "act.<name>"                           intermediate activations, names as in
                                            RRDBNet::set_activation_recorder: act.conv_first,
                                            act.body.N, act.conv_body (before the skip add),
                                            act.conv_up1, act.conv_up2, act.conv_hr (after lrelu)
and __metadata__ {"num_in_ch", "num_out_ch", "scale", "num_feat", "num_block", "num_grow_ch",
"generator"} (all strings, as safetensors requires).

Precision: weights and input are drawn, rounded to float32, and stored; the forward pass then runs
in float64 on exactly those values and only the results are rounded to float32. So the stored
output is the exact answer for the stored weights to within f32 rounding (relative 6e-8), and any
difference a float32 engine shows is its own accumulation error.

Weights: torch.manual_seed per fixture; kaiming_normal_ (gain for LeakyReLU 0.2) for every conv
weight and uniform(-0.1, 0.1) biases. Unlike basicsr's 0.1-scaled init this keeps every activation
O(1) (std 0.7–1.3) and makes the body change its input by ~45%, so a mistake anywhere shows.

Usage: /usr/bin/python3 tools/make_rrdbnet_goldens.py [--out tests/data/rrdbnet]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_rrdbnet import RRDBNet, record_activations  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (architecture, input shape N×C×H×W, seed)
FIXTURES = {
    "x4_f8_b2_g4": (dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=2,
                         num_grow_ch=4), (1, 3, 9, 6), 1),
    "x2_f8_b1_g4_batch2": (dict(num_in_ch=3, num_out_ch=3, scale=2, num_feat=8, num_block=1,
                                num_grow_ch=4), (2, 3, 6, 10), 2),
    "x1_f4_b1_g2": (dict(num_in_ch=3, num_out_ch=3, scale=1, num_feat=4, num_block=1,
                         num_grow_ch=2), (1, 3, 8, 8), 3),
    "x4_gray_f6_b3_g5": (dict(num_in_ch=1, num_out_ch=1, scale=4, num_feat=6, num_block=3,
                              num_grow_ch=5), (1, 1, 5, 5), 4),
}


# ---- safetensors: 8-byte little-endian header length, JSON header, raw little-endian data ----

def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: array-like}, written as F32 in the given order."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, value in tensors.items():
        array = np.ascontiguousarray(np.asarray(value, dtype="<f4"))
        raw = array.tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for raw in chunks:
            f.write(raw)


def read_safetensors(path):
    """Returns ({name: float32 array}, metadata) — F32 only, enough to check our own files."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    metadata = header.pop("__metadata__", {})
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{path}: {name} is {info['dtype']}"
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[base + begin:base + end], dtype="<f4") \
            .reshape(info["shape"])
    return tensors, metadata


# ---- fixtures ----

def make_random_model(config, seed):
    torch.manual_seed(seed)
    model = RRDBNet(**config)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, a=0.2, nonlinearity="leaky_relu")
                torch.nn.init.uniform_(module.bias, -0.1, 0.1)
    return model.float()  # parameters are now exactly float32 values


def make_fixture(name, config, input_shape, seed, out_dir):
    model = make_random_model(config, seed)
    x = torch.rand(input_shape, generator=torch.Generator().manual_seed(1000 + seed))
    tensors = {k: v.numpy() for k, v in model.state_dict().items()}

    model = model.double().eval()  # exact widening of the stored f32 weights
    activations, remove = record_activations(model)
    with torch.no_grad():
        y = model(x.double())
    remove()

    tensors["input"] = x.numpy()
    tensors["output"] = y.numpy()
    for act_name, value in activations.items():
        tensors["act." + act_name] = value.numpy()
    metadata = dict(config, generator="tools/make_rrdbnet_goldens.py")
    path = os.path.join(out_dir, name + ".safetensors")
    write_safetensors(path, tensors, metadata)

    # Read back with our reader and recompute in float32 as a sanity check of the file and of
    # how far a plain float32 forward lands from the float64 truth.
    stored, _ = read_safetensors(path)
    model32 = RRDBNet(**config)
    model32.load_state_dict({k: torch.from_numpy(stored[k].copy()) for k in model32.state_dict()})
    with torch.no_grad():
        y32 = model32.eval()(torch.from_numpy(stored["input"].copy()))
    f32_error = (y32.double() - torch.from_numpy(stored["output"].copy()).double()).abs().max()
    size = os.path.getsize(path)
    print(f"{path}: {size / 1024:.1f} KB, {len(stored)} tensors, input {list(x.shape)} → output "
          f"{list(y.shape)}, |out| max {y.abs().max():.3f}, torch f32 vs f64 max |Δ| "
          f"{f32_error:.2e}")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "data", "rrdbnet"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, (config, input_shape, seed) in FIXTURES.items():
        make_fixture(name, config, input_shape, seed, args.out)


if __name__ == "__main__":
    main()
