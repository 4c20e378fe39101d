"""Reads an ncnn .param/.bin pair of an RRDBNet into a basicsr-named state dict (numpy float32).

An independent reader (Python, no ncnn) to cross-check microsr's load_ncnn_rrdbnet and to build
the PyTorch reference from the real Real-ESRGAN weights.

.param (text): line 1 magic 7767517; line 2 "<layer count> <blob count>"; then one line per layer:
    <type> <name> <n inputs> <n outputs> <input blobs…> <output blobs…> <key=value…>
  For Convolution: 0=num_output 1=kernel_w 4=pad 5=bias_term 6=weight_data_size
  (9=activation type, 2 = LeakyReLU, its slope in -23310=1,<slope> — fused in by the converter).

.bin (binary, no header): for each layer with weights, in .param order. A Convolution stores
    weight: 4-byte little-endian tag, then weight_data_size values laid out [out][in][kh][kw]
        tag 0x01306B47 → fp16 values, padded to a multiple of 4 bytes
        tag 0x00000000 → fp32 values
        (ncnn also knows int8 / quantized-table tags; an RRDBNet export never uses them → error)
    bias (if bias_term): num_output raw fp32 values, no tag.
The Real-ESRGAN export holds only Convolution weights (Concat/Split/Eltwise/Interp have none);
any other weighted layer type is refused.

The 351 convolutions of RealESRGAN_x4plus come in basicsr's module order:
    conv_first, body.0.rdb1.conv1 … body.22.rdb3.conv5, conv_body, conv_up1, conv_up2, conv_hr,
    conv_last.

CLI: /usr/bin/python3 tools/ncnn_rrdbnet.py [model.param [model.bin]]  — prints a summary.
"""
import os
import sys

import numpy as np

DEFAULT_PARAM = "/work/shared/models/realesrgan-x4plus.param"
PARAM_MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_FP32 = 0x00000000
LAYERS_WITHOUT_WEIGHTS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp",
                          "PixelShuffle", "Reshape", "Permute", "ReLU"}


class NcnnFormatError(ValueError):
    pass


def parse_param(param_path):
    """Returns the list of layers: dict(type, name, params {int key: str value})."""
    with open(param_path, "r", encoding="ascii") as f:
        lines = [line.strip() for line in f if line.strip()]
    if int(lines[0]) != PARAM_MAGIC:
        raise NcnnFormatError(f"{param_path}: magic is {lines[0]}, expected {PARAM_MAGIC}")
    layer_count, _blob_count = (int(v) for v in lines[1].split())
    if len(lines) - 2 != layer_count:
        raise NcnnFormatError(f"{param_path}: header says {layer_count} layers, "
                              f"found {len(lines) - 2} layer lines")
    layers = []
    for line in lines[2:]:
        fields = line.split()
        layer_type, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
        params = {}
        for pair in fields[4 + n_in + n_out:]:
            key, value = pair.split("=", 1)
            params[int(key)] = value
        layers.append(dict(type=layer_type, name=name, params=params))
    return layers


def basicsr_conv_names(num_block):
    names = ["conv_first"]
    for block in range(num_block):
        for rdb in (1, 2, 3):
            names += [f"body.{block}.rdb{rdb}.conv{i}" for i in range(1, 6)]
    return names + ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]


class _BinReader:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.path, self.pos = path, 0

    def take(self, nbytes, what):
        if self.pos + nbytes > len(self.data):
            raise NcnnFormatError(f"{self.path}: {what} needs {nbytes} bytes at offset {self.pos}, "
                                  f"file has {len(self.data)}")
        chunk = self.data[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def tagged_weights(self, count, what):
        tag = int.from_bytes(self.take(4, what + " tag"), "little")
        if tag == TAG_FP16:
            padded = (count * 2 + 3) // 4 * 4
            raw = self.take(padded, what)
            return np.frombuffer(raw[:count * 2], dtype="<f2").astype(np.float32), "fp16"
        if tag == TAG_FP32:
            return np.frombuffer(self.take(count * 4, what), dtype="<f4").copy(), "fp32"
        raise NcnnFormatError(f"{self.path}: {what} at offset {self.pos - 4} has tag 0x{tag:08X}; "
                              f"expected 0x{TAG_FP16:08X} (fp16) or 0 (fp32)")

    def raw_fp32(self, count, what):
        return np.frombuffer(self.take(count * 4, what), dtype="<f4").copy()


def load_ncnn_rrdbnet(param_path=DEFAULT_PARAM, bin_path=None, verbose=False):
    """Returns {basicsr key: float32 numpy array} in basicsr order (weights OIHW, bias [O])."""
    bin_path = bin_path or os.path.splitext(param_path)[0] + ".bin"
    layers = parse_param(param_path)
    for layer in layers:
        if layer["type"] != "Convolution" and layer["type"] not in LAYERS_WITHOUT_WEIGHTS:
            raise NcnnFormatError(f"{param_path}: layer {layer['name']} of type {layer['type']} "
                                  f"is not part of an RRDBNet export")
    convs = [layer for layer in layers if layer["type"] == "Convolution"]
    # 351 = 1 + 15·num_block + 5
    if (len(convs) - 6) % 15 != 0 or len(convs) < 21:
        raise NcnnFormatError(f"{param_path}: {len(convs)} Convolution layers; an RRDBNet has "
                              f"6 + 15·num_block")
    names = basicsr_conv_names((len(convs) - 6) // 15)

    reader = _BinReader(bin_path)
    state_dict, storage_kinds = {}, set()
    for name, layer in zip(names, convs):
        p = layer["params"]
        out_ch, kernel = int(p.get(0, 0)), int(p.get(1, 0))
        bias_term, weight_size = int(p.get(5, 0)), int(p.get(6, 0))
        kernel_h = int(p.get(11, kernel))
        if kernel != 3 or kernel_h != 3 or int(p.get(4, 0)) != 1 or int(p.get(2, 1)) != 1 \
                or int(p.get(3, 1)) != 1:
            raise NcnnFormatError(f"{param_path}: {layer['name']} ({name}) is not a 3×3 stride-1 "
                                  f"pad-1 convolution: params {p}")
        if weight_size % (out_ch * 9) != 0:
            raise NcnnFormatError(f"{param_path}: {layer['name']} ({name}): 6={weight_size} is not "
                                  f"a multiple of 0={out_ch} × 9")
        in_ch = weight_size // (out_ch * 9)
        weight, kind = reader.tagged_weights(weight_size, f"{layer['name']} weight")
        storage_kinds.add(kind)
        state_dict[name + ".weight"] = weight.reshape(out_ch, in_ch, 3, 3)
        if bias_term != 1:
            raise NcnnFormatError(f"{param_path}: {layer['name']} ({name}) has no bias; "
                                  f"every RRDBNet conv has one")
        state_dict[name + ".bias"] = reader.raw_fp32(out_ch, f"{layer['name']} bias")
    if reader.pos != len(reader.data):
        raise NcnnFormatError(f"{bin_path}: consumed {reader.pos} bytes, file has "
                              f"{len(reader.data)}")
    _check_shapes(state_dict, param_path)
    if verbose:
        print(f"read {len(convs)} convolutions ({'/'.join(sorted(storage_kinds))} weights), "
              f"{reader.pos} bytes = whole .bin")
    return state_dict


def _check_shapes(sd, path):
    """The channel counts must chain the way RRDBNet wires them."""
    nf = sd["conv_first.weight"].shape[0]
    gc = sd["body.0.rdb1.conv1.weight"].shape[0]
    out_ch = sd["conv_last.weight"].shape[0]
    expected = {"conv_body": (nf, nf), "conv_up1": (nf, nf), "conv_up2": (nf, nf),
                "conv_hr": (nf, nf), "conv_last": (out_ch, nf)}
    for key in sd:
        if key.startswith("body.") and key.endswith(".weight"):
            i = int(key.split(".")[3][len("conv"):])
            expected[key[:-len(".weight")]] = (gc if i < 5 else nf, nf + (i - 1) * gc)
    for name, (o, i) in expected.items():
        found = sd[name + ".weight"].shape
        if found != (o, i, 3, 3):
            raise NcnnFormatError(f"{path}: {name}.weight has shape {found}, "
                                  f"expected {(o, i, 3, 3)}")


def main(argv):
    param = argv[1] if len(argv) > 1 else DEFAULT_PARAM
    bin_path = argv[2] if len(argv) > 2 else None
    sd = load_ncnn_rrdbnet(param, bin_path, verbose=True)
    total = sum(v.size for v in sd.values())
    print(f"{len(sd)} tensors, {total} parameters")
    for key in ("conv_first.weight", "body.0.rdb1.conv1.weight", "body.22.rdb3.conv5.weight",
                "conv_last.weight", "conv_last.bias"):
        if key in sd:
            v = sd[key]
            print(f"  {key:28s} {str(v.shape):18s} mean {v.mean():+.6f} std {v.std():.6f}")


if __name__ == "__main__":
    main(sys.argv)
