// Fast CPU paths of the ONNX runtime's ops (kernels/cpu/onnx/fast_*.cpp), beside the plain-loop
// references of kernels/cpu/ref/onnx_*_ref.cpp.
//
// A fast kernel takes the same OpContext as the reference and either computes the node's
// outputs (returns true) or declines (returns false: a layout, type or attribute it does not
// cover) so that the runtime runs the reference kernel instead. Each is tested against its
// reference on odd shapes (tests/test_onnx_fast_kernels.cpp). MICROSR_ONNX_REFERENCE=1 in the
// environment turns every fast kernel off (A/B timing, bisecting a parity problem).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_fast {

using FastKernel = bool (*)(const onnx_ref::OpContext& c, std::vector<OnnxValue>& outputs);
using FastTable = std::map<std::string, FastKernel>;

// The fast kernels by op type (empty when MICROSR_ONNX_REFERENCE is set).
const FastTable& fast_kernel_table();
// The table regardless of the environment (tests).
const FastTable& all_fast_kernels();

// Each family adds its ops.
void add_fast_matmul_ops(FastTable& t);   // fast_matmul.cpp: MatMul, Gemm, Einsum
void add_fast_conv_ops(FastTable& t);     // fast_conv.cpp: Conv, ConvTranspose
void add_fast_vector_ops(FastTable& t);   // fast_vector.cpp: elementwise, Pow, Softmax, LayerNormalization, Erf
void add_fast_movement_ops(FastTable& t); // fast_movement.cpp: Transpose, Slice, Split, Pad, Expand
void add_fast_reduce_ops(FastTable& t);   // fast_reduce.cpp: ReduceMean, ReduceSum, ReduceMax, ReduceMin
void add_fast_resize_ops(FastTable& t);   // fast_resize.cpp: Resize (linear, nearest; last two axes)
void add_fast_fused_ops(FastTable& t);    // fast_fused.cpp: MicrosrMatMulBias(Add), MicrosrGelu, MicrosrMaxPoolNhwc (graph fusion)
void add_fast_attention_ops(FastTable& t);  // fast_attention.cpp: MicrosrAttention (graph fusion)

}  // namespace microsr::onnx_fast
