#!/usr/bin/env python3
"""Single-node ONNX models for every op (and attribute variant) of microsr's graph runtime, with
inputs and the outputs ONNX Runtime computes for them: the parity fixtures of
tests/test_onnx_runtime_ops.cpp, written to tests/data/onnx/ops/<case>/{model.onnx,
inputs/<name>.npy, expected/<name>.npy} plus tests/data/onnx/ops/cases.txt (one case a line).
Also stores ONNX Runtime's output for tests/data/onnx/torch_tiny.onnx (tests/data/onnx/torch_tiny/).

Environment (onnx 1.17 and an onnxruntime that accepts Debian's numpy 1.24):
    /usr/bin/python3 -m venv --system-site-packages /work/venvs/runtime
    /work/venvs/runtime/bin/pip install onnx==1.17.0 onnxruntime==1.19.2
    /work/venvs/runtime/bin/python tools/make_onnx_op_fixtures.py
Inputs are drawn with fixed seeds, so a rerun writes the same files (up to the ORT version).
"""
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "onnx")
OPS = os.path.join(ROOT, "ops")
NP_TO_ONNX = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64, np.bool_: TensorProto.BOOL,
              np.int32: TensorProto.INT32}

CASES = []


def case(name, op, inputs, attrs=None, opset=17, n_out=1, consts=None):
    """inputs: list of (name, array) fed at run time; consts: list of (name, array) as initializers
    (an input name of "" marks an omitted optional input: give it as (\"\", None))."""
    CASES.append((name, op, inputs, attrs or {}, opset, n_out, consts or []))


def rng(seed):
    return np.random.RandomState(seed)


def f32(seed, *shape, lo=-1.0, hi=1.0):
    return rng(seed).uniform(lo, hi, size=shape).astype(np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


def build(name, op, inputs, attrs, opset, n_out, consts):
    node_inputs = [n for n, _ in inputs]
    graph_inputs = [helper.make_tensor_value_info(n, NP_TO_ONNX[a.dtype.type], list(a.shape))
                    for n, a in inputs if n and not any(n == c for c, _ in consts)]
    initializers = [numpy_helper.from_array(a, n) for n, a in consts]
    outputs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, node_inputs, outputs, name=f"{name}_node", **attrs)
    graph = helper.make_graph([node], name, graph_inputs,
                              [helper.make_value_info(o, onnx.TypeProto()) for o in outputs], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_onnx_op_fixtures")
    model.ir_version = 8
    return model


def write_case(name, model, feeds):
    folder = os.path.join(OPS, name)
    os.makedirs(os.path.join(folder, "inputs"))
    os.makedirs(os.path.join(folder, "expected"))
    data = model.SerializeToString()
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(data)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    results = session.run(None, feeds)
    for n, a in feeds.items():
        np.save(os.path.join(folder, "inputs", n + ".npy"), a)
    for out, r in zip(session.get_outputs(), results):
        np.save(os.path.join(folder, "expected", out.name + ".npy"), r)


def elementwise_cases():
    a, b = f32(1, 2, 3, 4), f32(2, 3, 1)
    pos = f32(3, 2, 3, 4, lo=0.5, hi=2.0)
    case("add_broadcast", "Add", [("a", a), ("b", b)])
    case("add_int64", "Add", [("a", i64(1, 2, 3)), ("b", i64(10))])
    case("sub_broadcast", "Sub", [("a", b), ("b", a)])
    case("mul_scalar", "Mul", [("a", a), ("b", np.array(1.5, np.float32))])
    case("div", "Div", [("a", a), ("b", pos)])
    case("div_int64", "Div", [("a", i64(7, -7, 9)), ("b", i64(2, 2, 3))])
    case("pow_square", "Pow", [("a", a), ("b", np.array(2.0, np.float32))])
    case("pow_tensor", "Pow", [("a", pos), ("b", f32(4, 4, lo=-2, hi=2))])
    case("pow_int_exponent", "Pow", [("a", pos), ("b", np.array(3, np.int64))])
    case("mod_int", "Mod", [("a", i64(-7, 7, -8, 9, 5)), ("b", i64(3, -3, 4, 4, -2))])
    case("mod_fmod", "Mod", [("a", f32(5, 6, lo=-5, hi=5)), ("b", np.array([1.5, -2.0, 3.0, 1.5, -2.0, 3.0], np.float32))],
         {"fmod": 1})
    case("equal_int", "Equal", [("a", i64(1, 2, 3, 4)), ("b", i64(1, 0, 3, 0))])
    case("where_broadcast", "Where", [("c", rng(6).rand(3, 1) > 0.5), ("a", a), ("b", np.array(-9.0, np.float32))])
    case("not", "Not", [("a", rng(7).rand(2, 5) > 0.5)])
    for op in ["Cos", "Sin", "Erf", "Floor", "Relu", "Neg", "Sigmoid", "Tanh"]:
        case(op.lower(), op, [("a", f32(8, 2, 3, 5, lo=-3, hi=3))])
    case("sqrt", "Sqrt", [("a", pos)])
    case("reciprocal", "Reciprocal", [("a", pos)])
    case("identity", "Identity", [("a", a)])
    case("cast_float_to_int64", "Cast", [("a", f32(9, 7, lo=-4, hi=4))], {"to": TensorProto.INT64})
    case("cast_int64_to_float", "Cast", [("a", i64(-3, 0, 5))], {"to": TensorProto.FLOAT})
    case("cast_float_to_bool", "Cast", [("a", np.array([0.0, 1.5, -2.0, 0.0], np.float32))], {"to": TensorProto.BOOL})
    case("cast_bool_to_float", "Cast", [("a", np.array([True, False, True]))], {"to": TensorProto.FLOAT})


def shape_cases():
    x = f32(10, 2, 3, 4)
    case("shape", "Shape", [("x", x)])
    case("shape_start_end", "Shape", [("x", x)], {"start": 1, "end": -1}, opset=15)
    case("reshape_zero_and_infer", "Reshape", [("x", x), ("s", i64(0, -1, 2))], consts=[("s", i64(0, -1, 2))])
    case("flatten", "Flatten", [("x", x)], {"axis": 2})
    case("squeeze_axes_input", "Squeeze", [("x", f32(11, 2, 1, 3, 1)), ("axes", i64(-1))], consts=[("axes", i64(-1))])
    case("squeeze_all", "Squeeze", [("x", f32(11, 2, 1, 3, 1))])
    case("squeeze_axes_attribute_opset11", "Squeeze", [("x", f32(11, 2, 1, 3, 1))], {"axes": [1]}, opset=11)
    case("unsqueeze_axes_input", "Unsqueeze", [("x", x), ("axes", i64(0, -1))], consts=[("axes", i64(0, -1))])
    case("unsqueeze_axes_attribute_opset11", "Unsqueeze", [("x", x)], {"axes": [1]}, opset=11)
    case("constant_of_shape", "ConstantOfShape", [("s", i64(2, 3))],
         {"value": numpy_helper.from_array(np.array([0.5], np.float32))})
    case("constant_of_shape_int", "ConstantOfShape", [("s", i64(4))],
         {"value": numpy_helper.from_array(np.array([7], np.int64))})
    case("range_int", "Range", [("a", np.array(2, np.int64)), ("b", np.array(11, np.int64)), ("d", np.array(3, np.int64))])
    case("range_float_negative", "Range", [("a", np.array(1.0, np.float32)), ("b", np.array(-2.0, np.float32)),
                                           ("d", np.array(-0.5, np.float32))])


def movement_cases():
    x = f32(20, 2, 3, 4)
    case("concat_axis1", "Concat", [("a", x), ("b", f32(21, 2, 2, 4))], {"axis": 1})
    case("concat_negative_axis_int", "Concat", [("a", i64(1, 2)), ("b", i64(3))], {"axis": -1})
    case("split_sizes_input", "Split", [("x", x), ("s", i64(1, 3))], {"axis": 2}, n_out=2, consts=[("s", i64(1, 3))])
    case("split_equal", "Split", [("x", f32(22, 6, 2))], {"axis": 0}, n_out=3)
    case("split_num_outputs_opset18", "Split", [("x", f32(22, 7, 2))], {"axis": 0, "num_outputs": 3}, opset=18, n_out=3)
    case("split_attribute_opset11", "Split", [("x", x)], {"axis": 1, "split": [2, 1]}, opset=11, n_out=2)
    case("slice_basic", "Slice", [("x", x), ("st", i64(1, 0)), ("en", i64(3, -1))],
         consts=[("st", i64(1, 0)), ("en", i64(3, -1))])
    case("slice_axes_steps", "Slice", [("x", x), ("st", i64(0, 3)), ("en", i64(100, -100)), ("ax", i64(2, -2)), ("sp", i64(2, -1))])
    case("slice_negative_step", "Slice", [("x", f32(23, 9)), ("st", i64(-1)), ("en", i64(-10)), ("ax", i64(0)), ("sp", i64(-3))])
    case("gather_axis0_scalar", "Gather", [("x", x), ("i", np.array(1, np.int64))])
    case("gather_axis1_negative", "Gather", [("x", x), ("i", i64(-1, 0, 2, 1).reshape(2, 2))], {"axis": 1})
    case("gather_int_data", "Gather", [("x", i64(5, 6, 7, 8)), ("i", i64(3, 0))])
    case("transpose_perm", "Transpose", [("x", x)], {"perm": [2, 0, 1]})
    case("transpose_default", "Transpose", [("x", x)])
    case("expand", "Expand", [("x", f32(24, 3, 1)), ("s", i64(2, 1, 4))])
    case("tile", "Tile", [("x", f32(25, 2, 3)), ("r", i64(2, 3))])
    case("pad_constant", "Pad", [("x", x), ("p", i64(0, 1, 2, 0, 0, 1)), ("v", np.array(0.25, np.float32))])
    case("pad_constant_default", "Pad", [("x", x), ("p", i64(0, 0, 1, 0, 0, 2))])
    case("pad_reflect", "Pad", [("x", x), ("p", i64(0, 1, 2, 0, 1, 3))], {"mode": "reflect"})
    case("pad_edge", "Pad", [("x", x), ("p", i64(0, 2, 1, 0, 0, 2))], {"mode": "edge"})


def reduce_cases():
    x = f32(30, 2, 3, 4, 5)
    case("reducemean_keepdims", "ReduceMean", [("x", x)], {"axes": [-1]})
    case("reducemean_two_axes", "ReduceMean", [("x", x)], {"axes": [1, 3], "keepdims": 0})
    case("reducemean_all", "ReduceMean", [("x", x)], {"keepdims": 0})
    case("reducemean_axes_input_opset18", "ReduceMean", [("x", x), ("a", i64(1))], opset=18)
    case("reducemax", "ReduceMax", [("x", x)], {"axes": [2]})
    case("reducesum_axes_input", "ReduceSum", [("x", x), ("a", i64(0, 2))], {"keepdims": 0})
    case("argmax", "ArgMax", [("x", x)], {"axis": 2, "keepdims": 0})
    case("softmax_last", "Softmax", [("x", x)])
    case("softmax_axis1", "Softmax", [("x", x * 5)], {"axis": 1})
    case("softmax_opset11_flattens", "Softmax", [("x", x)], {"axis": 2}, opset=11)
    case("layernorm_eps1e-6", "LayerNormalization", [("x", x), ("s", f32(31, 5)), ("b", f32(32, 5))], {"epsilon": 1e-6})
    case("layernorm_axis2", "LayerNormalization", [("x", x), ("s", f32(31, 4, 5)), ("b", f32(32, 4, 5))], {"axis": 2})
    case("layernorm_no_bias", "LayerNormalization", [("x", x), ("s", f32(33, 5))])


def conv_cases():
    x = f32(40, 2, 4, 7, 6)
    w = f32(41, 6, 4, 3, 3)
    b = f32(42, 6)
    case("conv_pads", "Conv", [("x", x), ("w", w), ("b", b)], {"pads": [1, 1, 1, 1]})
    case("conv_stride2_asymmetric_pads", "Conv", [("x", x), ("w", w), ("b", b)], {"strides": [2, 2], "pads": [0, 1, 2, 1]})
    case("conv_dilation2", "Conv", [("x", x), ("w", w)], {"dilations": [2, 2], "pads": [2, 1, 2, 1]})
    case("conv_groups2", "Conv", [("x", x), ("w", f32(43, 6, 2, 3, 3)), ("b", b)], {"group": 2, "pads": [1, 1, 1, 1]})
    case("conv_depthwise", "Conv", [("x", x), ("w", f32(44, 4, 1, 7, 7)), ("b", f32(45, 4))], {"group": 4, "pads": [3, 3, 3, 3]})
    case("conv_same_upper", "Conv", [("x", x), ("w", f32(46, 3, 4, 2, 2))], {"auto_pad": "SAME_UPPER", "strides": [2, 2]})
    case("conv_1x1", "Conv", [("x", x), ("w", f32(47, 5, 4, 1, 1)), ("b", f32(48, 5))])
    case("conv_1d", "Conv", [("x", f32(49, 1, 3, 10)), ("w", f32(50, 2, 3, 3)), ("b", f32(51, 2))], {"pads": [1, 1]})
    case("convtranspose_k2s2", "ConvTranspose", [("x", x), ("w", f32(52, 4, 3, 2, 2)), ("b", f32(53, 3))], {"strides": [2, 2]})
    case("convtranspose_pads_output_padding", "ConvTranspose", [("x", x), ("w", f32(54, 4, 2, 3, 3))],
         {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 0]})
    case("convtranspose_groups", "ConvTranspose", [("x", x), ("w", f32(55, 4, 1, 3, 3))], {"group": 2, "dilations": [2, 1]})
    case("maxpool_k2s2", "MaxPool", [("x", x)], {"kernel_shape": [2, 2], "strides": [2, 2]})
    case("maxpool_k3s1p1", "MaxPool", [("x", x)], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    case("maxpool_ceil", "MaxPool", [("x", x)], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1})


def resize_cases():
    x = f32(60, 1, 2, 5, 4)
    empty = np.zeros(0, np.float32)

    def scales(name, s, **attrs):
        case(name, "Resize", [("x", x), ("", None), ("scales", np.array(s, np.float32))], attrs, opset=13)

    def sizes(name, s, **attrs):
        case(name, "Resize", [("x", x), ("", None), ("", None), ("sizes", i64(*s))], attrs, opset=13)

    scales("resize_nearest_asymmetric_floor_x2", [1, 1, 2, 2], mode="nearest",
           coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    sizes("resize_nearest_half_pixel_sizes", [1, 2, 8, 7], mode="nearest")
    sizes("resize_nearest_round_prefer_ceil_down", [1, 2, 3, 3], mode="nearest", nearest_mode="round_prefer_ceil")
    sizes("resize_nearest_tf_half_pixel_ceil", [1, 2, 7, 9], mode="nearest",
          coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="ceil")
    sizes("resize_linear_half_pixel_sizes", [1, 2, 8, 7], mode="linear")
    sizes("resize_linear_pytorch_half_pixel_down", [1, 2, 3, 1], mode="linear",
          coordinate_transformation_mode="pytorch_half_pixel")
    sizes("resize_linear_align_corners", [1, 2, 9, 6], mode="linear", coordinate_transformation_mode="align_corners")
    scales("resize_linear_asymmetric_scales", [1, 1, 1.5, 2.5], mode="linear", coordinate_transformation_mode="asymmetric")
    scales("resize_cubic_half_pixel_scales", [1, 1, 2, 2], mode="cubic", cubic_coeff_a=-0.75)
    sizes("resize_cubic_pytorch_half_pixel", [1, 2, 7, 11], mode="cubic", cubic_coeff_a=-0.75,
          coordinate_transformation_mode="pytorch_half_pixel")
    sizes("resize_cubic_align_corners", [1, 2, 8, 8], mode="cubic", coordinate_transformation_mode="align_corners")
    sizes("resize_cubic_exclude_outside", [1, 2, 9, 3], mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1)
    del empty


def matmul_cases():
    case("matmul_2d", "MatMul", [("a", f32(70, 5, 7)), ("b", f32(71, 7, 3))])
    case("matmul_batched_broadcast", "MatMul", [("a", f32(72, 2, 1, 4, 6)), ("b", f32(73, 3, 6, 5))])
    case("matmul_vector_left", "MatMul", [("a", f32(74, 6)), ("b", f32(75, 2, 6, 3))])
    case("matmul_vector_right", "MatMul", [("a", f32(76, 2, 4, 6)), ("b", f32(77, 6))])
    case("gemm_basic", "Gemm", [("a", f32(78, 4, 6)), ("b", f32(79, 6, 3)), ("c", f32(80, 4, 3))])
    case("gemm_trans_alpha_beta", "Gemm", [("a", f32(81, 6, 4)), ("b", f32(82, 3, 6)), ("c", f32(83, 3))],
         {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0})
    case("gemm_no_c", "Gemm", [("a", f32(84, 4, 6)), ("b", f32(85, 3, 6))], {"transB": 1})
    case("einsum_bhwc_hkc", "Einsum", [("q", f32(86, 2, 3, 4, 5)), ("r", f32(87, 3, 6, 5))], {"equation": "bhwc,hkc->bhwk"})
    case("einsum_bhwc_wkc", "Einsum", [("q", f32(88, 2, 3, 4, 5)), ("r", f32(89, 4, 6, 5))], {"equation": "bhwc,wkc->bhwk"})
    case("einsum_batched_matmul", "Einsum", [("a", f32(90, 2, 3, 4)), ("b", f32(91, 2, 4, 5))], {"equation": "bij, bjk -> bik"})
    case("einsum_transpose", "Einsum", [("a", f32(92, 2, 3, 4))], {"equation": "abc->cab"})
    case("einsum_sum_implicit", "Einsum", [("a", f32(93, 3, 4)), ("b", f32(94, 4))], {"equation": "ij,j"})
    case("einsum_trace", "Einsum", [("a", f32(95, 4, 4))], {"equation": "ii->"})


def main():
    if os.path.isdir(OPS):
        shutil.rmtree(OPS)
    os.makedirs(OPS)
    for make in [elementwise_cases, shape_cases, movement_cases, reduce_cases, conv_cases, resize_cases, matmul_cases]:
        make()
    names = []
    for name, op, inputs, attrs, opset, n_out, consts in CASES:
        const_names = {c for c, _ in consts}
        model = build(name, op, inputs, attrs, opset, n_out, consts)
        feeds = {n: a for n, a in inputs if n and n not in const_names}
        write_case(name, model, feeds)
        names.append(name)
    with open(os.path.join(OPS, "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    # torch_tiny.onnx (made by tools/make_onnx_fixtures.py) against ONNX Runtime.
    tiny = os.path.join(ROOT, "torch_tiny")
    shutil.rmtree(tiny, ignore_errors=True)
    os.makedirs(os.path.join(tiny, "inputs"))
    os.makedirs(os.path.join(tiny, "expected"))
    image = f32(99, 2, 3, 6, 6)
    session = ort.InferenceSession(os.path.join(ROOT, "torch_tiny.onnx"), providers=["CPUExecutionProvider"])
    np.save(os.path.join(tiny, "inputs", "image.npy"), image)
    np.save(os.path.join(tiny, "expected", "features.npy"), session.run(None, {"image": image})[0])
    # An output name that is no file name: `onnx run` must write it inside its folder.
    node = helper.make_node("Relu", ["x"], ["../evil/y:0"], name="relu")
    graph = helper.make_graph([node], "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("../evil/y:0", TensorProto.FLOAT, [3])])
    odd = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    odd.ir_version = 8
    onnx.save(odd, os.path.join(ROOT, "odd_output_name.onnx"))
    print(f"{len(names)} op cases written to {OPS}")


if __name__ == "__main__":
    main()
