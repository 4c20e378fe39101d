#!/usr/bin/env python3
"""Writes the ONNX fixtures of tests/test_onnx_reader.cpp under tests/data/onnx/ and, beside
them, expected.json: what the `onnx` Python package (the independent reference) reads from each
file: opsets, producer, graph inputs/outputs with shapes, the op histogram, every node with its
attributes, and every initializer's type, dims and values.

  helper_model.onnx         built with onnx.helper: float_data and raw_data float32, int64
                            (raw and int64_data), float16 (raw and int32_data), bfloat16, int32,
                            int8, uint8, bool, float64 initializers, a scalar and an empty tensor,
                            attributes of every type we parse (float, int, string, tensor, graph,
                            floats, ints, strings, tensors), fixed, symbolic and unknown dims, a
                            Constant node, metadata_props
  external/model.onnx       weights in a side file, external/weights.bin (offsets and lengths)
  torch_tiny.onnx           a tiny conv + LayerNorm + attention module exported by
                            torch.onnx.export, opset 17, with a dynamic batch axis

Needs onnx and numpy; for torch_tiny.onnx also torch (Debian's /usr/bin/python3 has torch 1.13):
  /usr/bin/python3 -m pip install --break-system-packages "onnx==1.17.0"
(onnx 1.17 works with Debian's numpy 1.24; newer onnx pulls numpy 2, which torch 1.13 cannot use.)
Then, from the repository root:
  /usr/bin/python3 tools/make_onnx_fixtures.py [--out tests/data/onnx]
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def values_of(tensor, base_dir):
    array = numpy_helper.to_array(tensor, base_dir=base_dir)
    if tensor.data_type == TensorProto.BFLOAT16 and array.dtype != np.float32:
        # Older onnx releases return bfloat16 as its raw uint16 bits.
        array = (array.astype(np.uint32) << 16).view(np.float32)
    if array.dtype.kind == "f":
        return [float(v) for v in array.astype(np.float64).ravel()]
    return [int(v) for v in array.astype(np.int64).ravel()]


def tensor_entry(tensor, base_dir):
    entry = {"name": tensor.name, "data_type": int(tensor.data_type), "dims": [int(d) for d in tensor.dims],
             "external": tensor.data_location == TensorProto.EXTERNAL, "values": values_of(tensor, base_dir)}
    if entry["external"]:
        for kv in tensor.external_data:
            entry["external_" + kv.key] = kv.value
    return entry


def dims_of(value_info):
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    out = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            out.append(str(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append("?")
    return out


def value_entry(value_info):
    return {"name": value_info.name, "elem_type": int(value_info.type.tensor_type.elem_type),
            "dims": dims_of(value_info)}


def attribute_entry(attribute, base_dir):
    a = {"name": attribute.name, "type": int(attribute.type)}
    kind = attribute.type
    A = onnx.AttributeProto
    if kind == A.FLOAT:
        a["value"] = float(attribute.f)
    elif kind == A.INT:
        a["value"] = int(attribute.i)
    elif kind == A.STRING:
        a["value"] = attribute.s.decode("latin-1")
    elif kind == A.TENSOR:
        a["value"] = tensor_entry(attribute.t, base_dir)
    elif kind == A.GRAPH:
        a["value"] = {"name": attribute.g.name, "nodes": len(attribute.g.node)}
    elif kind == A.FLOATS:
        a["value"] = [float(v) for v in attribute.floats]
    elif kind == A.INTS:
        a["value"] = [int(v) for v in attribute.ints]
    elif kind == A.STRINGS:
        a["value"] = [s.decode("latin-1") for s in attribute.strings]
    elif kind == A.TENSORS:
        a["value"] = [tensor_entry(t, base_dir) for t in attribute.tensors]
    return a


def model_entry(path):
    base_dir = os.path.dirname(path)
    model = onnx.load(path, load_external_data=False)
    g = model.graph
    initialized = {t.name for t in g.initializer}
    histogram = {}
    for n in g.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else n.domain + ":" + n.op_type
        histogram[key] = histogram.get(key, 0) + 1
    return {
        "ir_version": int(model.ir_version),
        "opsets": [{"domain": o.domain, "version": int(o.version)} for o in model.opset_import],
        "producer_name": model.producer_name, "producer_version": model.producer_version,
        "metadata": {p.key: p.value for p in model.metadata_props},
        "graph_name": g.name,
        "inputs": [value_entry(v) for v in g.input if v.name not in initialized],
        "outputs": [value_entry(v) for v in g.output],
        "value_infos": [value_entry(v) for v in g.value_info],
        "op_histogram": histogram,
        "nodes": [{"name": n.name, "op_type": n.op_type, "domain": n.domain, "inputs": list(n.input),
                   "outputs": list(n.output), "attributes": [attribute_entry(a, base_dir) for a in n.attribute]}
                  for n in g.node],
        "initializers": [tensor_entry(t, base_dir) for t in g.initializer],
        "parameters": int(sum(int(np.prod(t.dims)) for t in g.initializer)),
    }


def helper_model():
    rng = np.random.default_rng(15)
    conv_w = rng.standard_normal((2, 3, 1, 1)).astype(np.float32)
    initializers = [
        helper.make_tensor("conv_w_float_data", TensorProto.FLOAT, conv_w.shape, conv_w.ravel().tolist()),
        numpy_helper.from_array(rng.standard_normal(2).astype(np.float32), "conv_b_raw"),
        numpy_helper.from_array(np.array([-1, 32], dtype=np.int64), "shape_int64_raw"),
        helper.make_tensor("axes_int64_data", TensorProto.INT64, [3], [0, -2, 1 << 40]),
        numpy_helper.from_array(np.array([0.5, -2.0, 65504.0, 1e-3], dtype=np.float16), "half_raw"),
        helper.make_tensor("half_int32_data", TensorProto.FLOAT16, [2, 2],
                           np.array([1.0, -0.25, 3.5, 0.0], dtype=np.float16).view(np.uint16).tolist(), raw=False),
        helper.make_tensor("bf16_int32_data", TensorProto.BFLOAT16, [3], [1.0, -3.0, 0.15625]),
        helper.make_tensor("int32_data", TensorProto.INT32, [2, 3], [1, -2, 3, -4, 2147483647, -2147483648]),
        numpy_helper.from_array(np.array([-128, 0, 127], dtype=np.int8), "int8_raw"),
        helper.make_tensor("uint8_int32_data", TensorProto.UINT8, [4], [0, 1, 200, 255]),
        numpy_helper.from_array(np.array([True, False, True]), "bool_raw"),
        helper.make_tensor("double_data", TensorProto.DOUBLE, [2], [0.1, -1e300]),
        helper.make_tensor("scalar_float", TensorProto.FLOAT, [], [2.5]),
        helper.make_tensor("empty_float", TensorProto.FLOAT, [0, 4], []),
    ]
    subgraph = helper.make_graph(
        [helper.make_node("Identity", ["sub_in"], ["sub_out"], name="sub_identity")], "then_branch",
        [helper.make_tensor_value_info("sub_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("sub_out", TensorProto.FLOAT, [1])])
    attr_tensor = helper.make_tensor("attr_tensor", TensorProto.INT64, [2], [7, -7])
    every_attribute = helper.make_node(
        "EveryAttribute", ["y"], ["z"], name="every_attribute", domain="test.microsr",
        alpha=0.75, count=-3, mode="nearest", value=attr_tensor, body=subgraph,
        scales=[1.0, 2.5, -0.5], pads=[0, 1, 2, -1], names=["a", "bc", ""],
        pair=[helper.make_tensor("t0", TensorProto.FLOAT, [2], [1.5, -1.5]),
              numpy_helper.from_array(np.array([3], dtype=np.int32), "t1")])
    nodes = [
        helper.make_node("Conv", ["x", "conv_w_float_data", "conv_b_raw"], ["conv"], name="conv0",
                         kernel_shape=[1, 1], pads=[0, 0, 0, 0], strides=[1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu0"),
        helper.make_node("Constant", [], ["two"], name="const_two",
                         value=helper.make_tensor("two_value", TensorProto.FLOAT, [1], [2.0])),
        helper.make_node("Mul", ["relu", "two"], ["y"], name="mul0"),
        every_attribute,
        helper.make_node("Relu", ["z"], ["w"], name="relu1"),
    ]
    graph = helper.make_graph(
        nodes, "helper_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4, "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, 4, "width"]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [None, "n", 5]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        initializer=initializers,
        value_info=[helper.make_tensor_value_info("relu", TensorProto.FLOAT, ["batch", 2, 4, "width"])])
    model = helper.make_model(graph, producer_name="microsr-fixtures", producer_version="1.0",
                              opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("test.microsr", 1)])
    model.ir_version = 8
    model.model_version = 3
    helper.set_model_props(model, {"purpose": "microsr reader test", "issue": "15"})
    return model


def external_model(folder):
    rng = np.random.default_rng(16)
    weight = rng.standard_normal((16, 8)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    shape = np.array([1, -1], dtype=np.int64)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "weight", "bias"], ["g"], name="gemm", transB=1),
         helper.make_node("Reshape", ["g", "shape"], ["y"], name="reshape")], "external_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "m"])],
        initializer=[numpy_helper.from_array(weight, "weight"),
                     numpy_helper.from_array(bias, "bias"),
                     numpy_helper.from_array(rng.standard_normal(32).astype(np.float16), "half_scale"),
                     numpy_helper.from_array(shape, "shape")])
    model = helper.make_model(graph, producer_name="microsr-fixtures", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    os.makedirs(folder, exist_ok=True)
    # Tensors of 64 bytes and more go to weights.bin (weight, bias, half_scale); the 16-byte shape stays inside.
    onnx.save_model(model, os.path.join(folder, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=64)


def torch_model(path):
    import torch

    class TinyAttention(torch.nn.Module):
        def __init__(self, channels=8):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, channels, 3, padding=1)
            self.norm = torch.nn.LayerNorm(channels)
            self.qkv = torch.nn.Linear(channels, 3 * channels)
            self.proj = torch.nn.Linear(channels, channels)
            self.scale = channels ** -0.5

        def forward(self, x):
            f = self.conv(x)                     # [B, C, H, W]
            b, c, h, w = f.shape
            t = self.norm(f.flatten(2).transpose(1, 2))  # [B, HW, C]
            q, k, v = self.qkv(t).chunk(3, dim=-1)
            a = torch.softmax(q @ k.transpose(1, 2) * self.scale, dim=-1)
            y = self.proj(a @ v) + t
            return torch.nn.functional.gelu(y).transpose(1, 2).reshape(b, c, h, w)

    torch.manual_seed(0)
    module = TinyAttention().eval()
    torch.onnx.export(module, torch.randn(1, 3, 6, 6), path, opset_version=OPSET, input_names=["image"],
                      output_names=["features"], dynamic_axes={"image": {0: "batch"}, "features": {0: "batch"}})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "onnx"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    onnx.save(helper_model(), os.path.join(args.out, "helper_model.onnx"))
    external_model(os.path.join(args.out, "external"))
    torch_model(os.path.join(args.out, "torch_tiny.onnx"))
    expected = {name: model_entry(os.path.join(args.out, name))
                for name in ["helper_model.onnx", "external/model.onnx", "torch_tiny.onnx"]}
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(args.out)):
        print(name)


if __name__ == "__main__":
    main()
