// Fast MicrosrMatMulBias (with its optional GELU epilogue) and MicrosrGelu, fused ops of the graph
// runtime (src/onnx/runtime_fuse.h; references in kernels/cpu/ref/onnx_fused_ref.cpp).
#include <algorithm>
#include <cmath>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/activation.h"
#include "cpu/onnx/fast_ops.h"
#include "cpu/onnx/gemm.h"
#include "cpu/onnx/vector_math.h"

namespace microsr::onnx_fast {
namespace {

using onnx_ref::OpContext;

// MatMul(x [..., K], W [K, N]) + bias [N] (or [1, ..., N] of no higher rank than x) as one GEMM whose
// output starts as the bias: the sum costs no pass of its own. activation "Gelu": GELU runs on each
// GEMM tile as it is finished (still in cache), not as a pass over the output.
bool matmul_bias(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &x = c.in(0), &w = c.in(1), &bias = c.in(2);
  if (!x.is_float() || !w.is_float() || !bias.is_float() || x.shape.size() < 2 || w.shape.size() != 2) return false;
  const std::string activation = c.attr_string("activation", "");
  if (!activation.empty() && activation != "Gelu") return false;
  const int64_t k = x.shape.back(), n = w.shape[1];
  if (w.shape[0] != k || bias.numel() != n || bias.shape.empty() || bias.shape.back() != n ||
      bias.shape.size() > x.shape.size())
    return false;  // the reference names the mismatch (or broadcasts to a higher rank)
  std::vector<int64_t> shape = x.shape;
  shape.back() = n;
  OnnxValue out = onnx_ref::make_value(x.type, shape);
  GemmArgs g;
  g.m = k > 0 ? x.numel() / k : 0, g.n = n, g.k = k;
  if (k == 0) g.m = out.numel() / std::max<int64_t>(n, 1);
  g.a = x.floats.data(), g.a_row = k;
  g.b = w.floats.data(), g.b_row = n;
  g.c = out.floats.data(), g.ldc = n;
  g.bias_col = bias.floats.data();
  if (activation == "Gelu") g.epilogue = gelu_block;
  gemm_f32(g);
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// GELU, erf form: y = x · (1 + erf(x / √2)) · 0.5, in chunks that stay in L1; in place when x dies here.
bool gelu(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  if (!x.is_float()) return false;
  OnnxValue out;
  const float* px = x.floats.data();
  if (c.donated && c.donated->is_float() && static_cast<int64_t>(c.donated->floats.size()) == c.donated->numel()) {
    out = std::move(*c.donated);  // x's buffer: read x through it
    px = out.floats.data();
  } else {
    out = onnx_ref::make_value(x.type, x.shape);
  }
  const auto erf_array = kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx2) ? avx2::erf_array : baseline::erf_array;
  constexpr int64_t kChunk = 2048;
  const int64_t total = out.numel(), chunks = (total + kChunk - 1) / kChunk;
  float* py = out.floats.data();
  const float inv_sqrt2 = 1.0f / std::sqrt(2.0f);
#pragma omp parallel for if (total > 65536)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    float t[kChunk];
    const int64_t i0 = ch * kChunk, len = std::min(kChunk, total - i0);
    for (int64_t i = 0; i < len; ++i) t[i] = px[i0 + i] * inv_sqrt2;
    erf_array(t, t, len);
    for (int64_t i = 0; i < len; ++i) py[i0 + i] = px[i0 + i] * (1.0f + t[i]) * 0.5f;
  }
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

}  // namespace

void gelu_block(float* c, int64_t ldc, int64_t rows, int64_t cols) {
  if (kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx512)) {
    avx512::gelu_block(c, ldc, rows, cols);
    return;
  }
  const auto erf_array = kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx2) ? avx2::erf_array : baseline::erf_array;
  constexpr int64_t kChunk = 512;
  const float inv_sqrt2 = 1.0f / std::sqrt(2.0f);
  float t[kChunk];
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j0 = 0; j0 < cols; j0 += kChunk) {
      float* x = c + i * ldc + j0;
      const int64_t len = std::min(kChunk, cols - j0);
      for (int64_t j = 0; j < len; ++j) t[j] = x[j] * inv_sqrt2;
      erf_array(t, t, len);
      for (int64_t j = 0; j < len; ++j) x[j] = x[j] * (1.0f + t[j]) * 0.5f;
    }
}

void add_fast_fused_ops(FastTable& t) {
  t["MicrosrMatMulBias"] = matmul_bias;
  t["MicrosrGelu"] = gelu;
}

}  // namespace microsr::onnx_fast
