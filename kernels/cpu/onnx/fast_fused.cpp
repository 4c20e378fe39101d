// Fast MicrosrMatMulBias (with its optional GELU epilogue) and MicrosrGelu, fused ops of the graph
// runtime (src/onnx/runtime_fuse.h; references in kernels/cpu/ref/onnx_fused_ref.cpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/activation.h"
#include "cpu/onnx/fast_ops.h"
#include "cpu/onnx/gemm.h"
#include "cpu/onnx/vector_math.h"

namespace microsr::onnx_fast {
namespace {

using onnx_ref::OpContext;

// Offsets of the rows of a strided view, in row-major order of `dims` (the row axes; each row is
// contiguous): row (i_0, ..., i_r) starts at sum_d i_d · strides[d].
std::vector<int64_t> row_offsets(const std::vector<int64_t>& dims, const std::vector<int64_t>& strides) {
  int64_t rows = 1;
  for (int64_t d : dims) rows *= d;
  std::vector<int64_t> offsets(static_cast<std::size_t>(rows));
  std::vector<int64_t> index(dims.size(), 0);
  int64_t at = 0;
  for (int64_t r = 0; r < rows; ++r) {
    offsets[r] = at;
    for (auto d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      if (++index[d] < dims[d]) {
        at += strides[d];
        break;
      }
      at -= (dims[d] - 1) * strides[d], index[d] = 0;
    }
  }
  return offsets;
}

// A window partition (or its reverse) around a GEMM: Reshape(shape1) → Transpose(perm, last axis
// kept) → Reshape(shape2) applied to a contiguous value of shape `in` whose last axis stays whole.
struct RowChain {
  std::vector<int64_t> shape1, moved, shape2;  // moved: shape1 permuted
  std::vector<int64_t> perm;
};

std::optional<RowChain> row_chain(const std::vector<int64_t>& in, const OnnxValue& s1, const OnnxValue& s2,
                                  std::vector<int64_t> perm, bool allowzero1, bool allowzero2) {
  RowChain r;
  const std::optional<std::vector<int64_t>> shape1 = onnx_ref::reshaped_shape(in, s1, allowzero1);
  if (!shape1 || in.empty() || shape1->size() != perm.size() || shape1->empty() || shape1->back() != in.back())
    return std::nullopt;
  const auto rank = static_cast<int64_t>(perm.size());
  std::vector<bool> seen(rank, false);
  for (int64_t& p : perm) {
    if (p < 0) p += rank;
    if (p < 0 || p >= rank || seen[p]) return std::nullopt;
    seen[p] = true;
  }
  if (perm.back() != rank - 1) return std::nullopt;
  r.shape1 = *shape1, r.perm = perm;
  for (int64_t p : perm) r.moved.push_back(r.shape1[p]);
  const std::optional<std::vector<int64_t>> shape2 = onnx_ref::reshaped_shape(r.moved, s2, allowzero2);
  if (!shape2 || shape2->empty() || shape2->back() != in.back()) return std::nullopt;
  r.shape2 = *shape2;
  return r;
}

// The chain read as GEMM rows: where, in its contiguous input, each row of its output starts.
std::vector<int64_t> gather_rows(const RowChain& r) {
  const std::vector<int64_t> strides = onnx_ref::strides_of(r.shape1);
  std::vector<int64_t> dims, steps;
  for (std::size_t j = 0; j + 1 < r.perm.size(); ++j) dims.push_back(r.moved[j]), steps.push_back(strides[r.perm[j]]);
  return row_offsets(dims, steps);
}

// The chain written as GEMM rows: where, in its contiguous output, each row of its input lands.
std::vector<int64_t> scatter_rows(const RowChain& r) {
  const std::vector<int64_t> moved_strides = onnx_ref::strides_of(r.moved);
  std::vector<int64_t> step_of_axis(r.perm.size());
  for (std::size_t j = 0; j < r.perm.size(); ++j) step_of_axis[r.perm[j]] = moved_strides[j];
  const std::vector<int64_t> dims(r.shape1.begin(), r.shape1.end() - 1), steps(step_of_axis.begin(), step_of_axis.end() - 1);
  return row_offsets(dims, steps);
}

// The GEMM of MatMul(x [..., K], W [K, N]) + bias [N]; false when the operands do not fit it.
bool matmul_bias_args(const OnnxValue& x, const OnnxValue& w, const OnnxValue& bias, GemmArgs& g) {
  if (!x.is_float() || !w.is_float() || !bias.is_float() || x.shape.size() < 2 || w.shape.size() != 2) return false;
  const int64_t k = x.shape.back(), n = w.shape[1];
  if (w.shape[0] != k || bias.numel() != n || bias.shape.empty() || bias.shape.back() != n ||
      bias.shape.size() > x.shape.size())
    return false;  // the reference names the mismatch (or broadcasts to a higher rank)
  int64_t rows = 1;
  for (std::size_t d = 0; d + 1 < x.shape.size(); ++d) rows *= x.shape[d];
  g.m = rows, g.n = n, g.k = k;
  g.a = x.floats.data(), g.a_row = k;
  g.b = w.floats.data(), g.b_row = n;
  g.ldc = n;
  g.bias_col = bias.floats.data();
  return true;
}

// MatMul(x [..., K], W [K, N]) + bias [N] (or [1, ..., N] of no higher rank than x) as one GEMM whose
// output starts as the bias: the sum costs no pass of its own. activation "Gelu": GELU runs on each
// GEMM tile as it is finished (still in cache), not as a pass over the output. With in_perm, x
// goes through Reshape(input 3) → Transpose(in_perm) → Reshape(input 4) first (a window
// partition): the GEMM reads its rows where they are.
bool matmul_bias(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &x = c.in(0), &w = c.in(1), &bias = c.in(2);
  const std::string activation = c.attr_string("activation", "");
  if (!activation.empty() && activation != "Gelu") return false;
  std::vector<int64_t> a_shape = x.shape, a_rows;
  if (c.has_attr("in_perm")) {
    if (!c.has(3) || !c.has(4)) return false;
    const std::optional<RowChain> chain = row_chain(x.shape, c.in(3), c.in(4), c.attr_ints("in_perm"),
                                                    c.attr_int("in_allowzero1", 0), c.attr_int("in_allowzero2", 0));
    if (!chain) return false;
    a_shape = chain->shape2;
    a_rows = gather_rows(*chain);
  }
  OnnxValue shaped{x.type, a_shape, {}, {}};  // x's type and the GEMM's view of its shape
  GemmArgs g;
  if (!x.is_float() || !matmul_bias_args(shaped, w, bias, g)) return false;
  g.a = x.floats.data();
  if (!a_rows.empty()) g.a_rows = a_rows.data();
  std::vector<int64_t> shape = a_shape;
  shape.back() = g.n;
  OnnxValue out = onnx_ref::make_output(x.type, shape);
  g.c = out.floats.data();
  if (activation == "Gelu") g.epilogue = gelu_block;
  gemm_f32(g);
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// residual + (MatMul(x, W) + bias), the sum taken by the GEMM itself: it accumulates into the
// residual's buffer (taken over when this node is its last reader, else copied). With out_perm,
// the product goes through Reshape(input 4) → Transpose(out_perm) → Reshape(input 5) first (a
// window unpartition): the GEMM writes each row where that chain would put it.
bool matmul_bias_add(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &residual = c.in(0), &x = c.in(1), &w = c.in(2), &bias = c.in(3);
  GemmArgs g;
  if (!residual.is_float() || !matmul_bias_args(x, w, bias, g)) return false;
  std::vector<int64_t> y_shape = x.shape, c_rows;
  y_shape.back() = g.n;
  if (c.has_attr("out_perm")) {
    if (!c.has(4) || !c.has(5)) return false;
    const std::optional<RowChain> chain = row_chain(y_shape, c.in(4), c.in(5), c.attr_ints("out_perm"),
                                                    c.attr_int("out_allowzero1", 0), c.attr_int("out_allowzero2", 0));
    if (!chain) return false;
    y_shape = chain->shape2;
    c_rows = scatter_rows(*chain);
  }
  if (y_shape != residual.shape) return false;  // broadcasting: the reference
  OnnxValue out;
  if (c.donated && c.donated->is_float() && static_cast<int64_t>(c.donated->floats.size()) == c.donated->numel()) {
    out = std::move(*c.donated);
  } else {
    out = onnx_ref::make_output(residual.type, residual.shape);
    std::copy(residual.floats.begin(), residual.floats.end(), out.floats.begin());
  }
  g.c = out.floats.data();
  g.accumulate = true;
  if (!c_rows.empty()) g.c_rows = c_rows.data();
  gemm_f32(g);
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// Max pooling of a channels-last x [N, H, W, C] (MicrosrMaxPoolNhwc): each output pixel is the
// elementwise max of its window's C-long rows, so the loops run along C. No padding, dilation 1,
// floor rounding (else the reference).
bool max_pool_nhwc(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  if (!x.is_float() || x.shape.size() != 4 || c.output_count() != 1) return false;
  const std::vector<int64_t> kernel = c.attr_ints("kernel_shape"), strides = c.attr_ints("strides", {1, 1});
  const std::vector<int64_t> pads = c.attr_ints("pads", {0, 0, 0, 0}), dilations = c.attr_ints("dilations", {1, 1});
  if (kernel.size() != 2 || strides.size() != 2 || pads != std::vector<int64_t>{0, 0, 0, 0} ||
      dilations != std::vector<int64_t>{1, 1} || c.attr_int("ceil_mode", 0) != 0 ||
      c.attr_string("auto_pad", "NOTSET") != "NOTSET" || c.attr_int("storage_order", 0) != 0)
    return false;
  const int64_t n = x.shape[0], h = x.shape[1], w = x.shape[2], ch = x.shape[3];
  const int64_t kh = kernel[0], kw = kernel[1], sh = strides[0], sw = strides[1];
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || h < kh || w < kw) return false;
  const int64_t oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1;
  OnnxValue out = onnx_ref::make_output(x.type, {n, oh, ow, ch});
  const float* src = x.floats.data();
  float* dst = out.floats.data();
#pragma omp parallel for collapse(2) if (n * oh * ow * ch > 65536)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        float* y = dst + ((b * oh + oy) * ow + ox) * ch;
        const float* first = src + ((b * h + oy * sh) * w + ox * sw) * ch;
        std::fill_n(y, ch, -std::numeric_limits<float>::infinity());  // NaNs skipped, as the reference does
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx) {
            const float* row = first + (ky * w + kx) * ch;
            for (int64_t j = 0; j < ch; ++j) y[j] = std::max(y[j], row[j]);
          }
      }
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
    out = onnx_ref::make_output(x.type, x.shape);
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
  t["MicrosrMatMulBiasAdd"] = matmul_bias_add;
  t["MicrosrMaxPoolNhwc"] = max_pool_nhwc;
  t["MicrosrGelu"] = gelu;
}

}  // namespace microsr::onnx_fast
