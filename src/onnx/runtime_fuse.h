// Graph fusion of the ONNX runtime (issue 15): chains of standard nodes rewritten at load, after
// constant folding, into one node of domain "microsr" each (docs/onnx.md, "Fusion"):
//
//   MicrosrAttention   [Transpose] MatMul(Q, Kᵀ) → [Mul|Div by a scalar constant] → [Reshape]
//                      → Add(bias)* → [Reshape] → Softmax(axis -1) → MatMul(·, [Transpose] V)
//                      → [[Reshape] Transpose keeping the last axis last]; Q, K and V may be the three
//                      outputs of one equal Split, each Squeezed on the split axis (qkv_* attributes)
//   MicrosrMatMulBias  MatMul(x, W constant) → Add(bias constant)
//   MicrosrGelu        x · 0.5 · (1 + erf(x / √2)), in the node orders torch exports
//   then a MicrosrGelu of a MicrosrMatMulBias becomes that MicrosrMatMulBias with activation "Gelu"
//   (counted as "MicrosrMatMulBias+Gelu")
//   MicrosrMaxPoolNhwc Transpose(0,3,1,2) → MaxPool → Transpose(0,2,3,1): pooling channels-last
//   MicrosrMatMulBiasAdd  Add(residual, MicrosrMatMulBias [→ Reshape → Transpose → Reshape]): the
//                      GEMM accumulates into the residual, rows scattered by the window unpartition
//   MicrosrMatMulBias with in_perm: Reshape → Transpose → Reshape (a window partition) before it,
//                      its rows gathered by the GEMM (counted as "MicrosrMatMulBias+WindowIn")
//   Values these two hide but Shape nodes read come from MicrosrShape nodes (shape, no elements)
//
// A chain fuses only when every intermediate value has exactly one reader (the next node of the
// chain) and is not a graph output; anything else stays as it was. Shapes are not known at load:
// a fused node keeps the chain's Reshape shapes as inputs, and its fast kernel checks the shapes
// it meets at run time, leaving anything it does not cover to the reference kernel, which runs
// the original chain op by op (kernels/cpu/ref/onnx_fused_ref.cpp).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "microsr/onnx_runtime.h"

namespace microsr::onnx_runtime {

// True when MICROSR_ONNX_NO_FUSION is set (and not "0"): the session keeps the graph as loaded.
bool fusion_disabled();

// Rewrites `nodes` (topological order) in place: each fused node takes the place of its chain's last
// node. `constants` are the values known at load (initializers and folded outputs); `graph_outputs`
// are never fused away. Returns how many chains were fused, by fused op type.
std::map<std::string, int64_t> fuse_graph(std::vector<OnnxNode>& nodes, const std::map<std::string, OnnxValue>& constants,
                                          const std::vector<OnnxValueInfo>& graph_outputs, int64_t opset);

}  // namespace microsr::onnx_runtime
