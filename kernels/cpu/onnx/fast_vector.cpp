// Fast elementwise ops, Softmax, LayerNormalization and Erf (fast_ops.h).
//
// Binary float ops broadcast without index vectors: the output is walked row by row (its last
// dimension, merged with the dimensions before it while both operands broadcast alike), and each
// operand steps 1 or 0 elements within a row.
#include <algorithm>
#include <cmath>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/fast_ops.h"
#include "cpu/onnx/vector_math.h"

namespace microsr::onnx_fast {
namespace {

using onnx_ref::OpContext;

bool use_avx2() { return kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx2); }

// The output buffer: input 0's own (OpContext::donated) when it has the output's type and shape,
// so the op runs in place without allocating and zero-filling; else a new value.
OnnxValue output_like(const OpContext& c, int32_t type, const std::vector<int64_t>& shape) {
  if (c.donated && c.donated->type == type && c.donated->shape == shape && c.donated->is_float() &&
      static_cast<int64_t>(c.donated->floats.size()) == c.donated->numel())
    return std::move(*c.donated);
  return onnx_ref::make_output(type, shape);
}

// Each operand's element strides over the output's dimensions (0 where it broadcasts), with
// neighbouring dimensions merged where both operands are contiguous across them.
struct BroadcastWalk {
  std::vector<int64_t> dims, stride_a, stride_b;
};

BroadcastWalk walk_of(const std::vector<int64_t>& a, const std::vector<int64_t>& b, const std::vector<int64_t>& out) {
  const std::size_t rank = out.size();
  auto strides = [&](const std::vector<int64_t>& s) {
    std::vector<int64_t> st(rank, 0);
    int64_t step = 1;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const std::size_t d = rank - 1 - i, sd = s.size() - 1 - i;
      st[d] = s[sd] == 1 ? 0 : step;
      step *= s[sd];
    }
    return st;
  };
  const std::vector<int64_t> sa = strides(a), sb = strides(b);
  BroadcastWalk w;
  for (std::size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    if (!w.dims.empty() && sa[d] * out[d] == w.stride_a.back() && sb[d] * out[d] == w.stride_b.back()) {
      w.dims.back() *= out[d];  // the previous dimension continues this one in both operands
      w.stride_a.back() = sa[d], w.stride_b.back() = sb[d];
      continue;
    }
    w.dims.push_back(out[d]), w.stride_a.push_back(sa[d]), w.stride_b.push_back(sb[d]);
  }
  if (w.dims.empty()) w.dims = {1}, w.stride_a = {0}, w.stride_b = {0};
  return w;
}

template <class F>
bool binary(const OpContext& c, std::vector<OnnxValue>& outputs, F f) {
  const OnnxValue &a = c.in(0), &b = c.in(1);
  if (!a.is_float() || !b.is_float() || a.type != b.type) return false;
  const std::vector<int64_t> shape = onnx_ref::broadcast_shapes(a.shape, b.shape);
  if (shape.size() > 9) return false;  // the odometer below holds 8 outer dimensions
  const BroadcastWalk w = walk_of(a.shape, b.shape, shape);
  const float* pb = b.floats.data();
  OnnxValue out = output_like(c, a.type, shape);  // may take a's buffer: a is read through `pa`
  const float* pa = c.donated && c.donated->floats.empty() ? out.floats.data() : a.floats.data();
  const int64_t inner = w.dims.back(), ia = w.stride_a.back(), ib = w.stride_b.back();
  const int64_t rows = out.numel() / std::max<int64_t>(inner, 1);
  const auto outer_rank = static_cast<int64_t>(w.dims.size()) - 1;
  float* po = out.floats.data();
  // Rows in chunks; each chunk finds its first row's offsets by division, then steps an odometer.
  const int64_t chunk = std::max<int64_t>(1, 4096 / std::max<int64_t>(inner, 1));
  const int64_t chunks = (rows + chunk - 1) / chunk;
#pragma omp parallel for if (out.numel() > 65536)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t r0 = ch * chunk, r1 = std::min(rows, r0 + chunk);
    int64_t index[8] = {0, 0, 0, 0, 0, 0, 0, 0}, oa = 0, ob = 0, rest = r0;
    for (int64_t d = outer_rank - 1; d >= 0; --d) {
      index[d] = rest % w.dims[d];
      rest /= w.dims[d];
      oa += index[d] * w.stride_a[d], ob += index[d] * w.stride_b[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      const float *ra = pa + oa, *rb = pb + ob;
      float* y = po + r * inner;
      if (ia == 1 && ib == 1)
        for (int64_t j = 0; j < inner; ++j) y[j] = f(ra[j], rb[j]);
      else if (ia == 1)
        for (int64_t j = 0; j < inner; ++j) y[j] = f(ra[j], rb[0]);
      else if (ib == 1)
        for (int64_t j = 0; j < inner; ++j) y[j] = f(ra[0], rb[j]);
      else
        for (int64_t j = 0; j < inner; ++j) y[j] = f(ra[0], rb[0]);
      for (int64_t d = outer_rank - 1; d >= 0; --d) {  // next row
        oa += w.stride_a[d], ob += w.stride_b[d];
        if (++index[d] < w.dims[d]) break;
        oa -= w.stride_a[d] * w.dims[d], ob -= w.stride_b[d] * w.dims[d];
        index[d] = 0;
      }
    }
  }
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

bool add(const OpContext& c, std::vector<OnnxValue>& o) { return binary(c, o, [](float x, float y) { return x + y; }); }
bool sub(const OpContext& c, std::vector<OnnxValue>& o) { return binary(c, o, [](float x, float y) { return x - y; }); }
bool mul(const OpContext& c, std::vector<OnnxValue>& o) { return binary(c, o, [](float x, float y) { return x * y; }); }
bool div(const OpContext& c, std::vector<OnnxValue>& o) { return binary(c, o, [](float x, float y) { return x / y; }); }

// Runs a row kernel over `rows` rows in parallel chunks.
template <class F>
void over_rows(int64_t rows, int64_t width, F run_chunk) {
  const int64_t chunk = std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1));
  const int64_t chunks = (rows + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (rows * width > 32768)
  for (int64_t i = 0; i < chunks; ++i) run_chunk(i * chunk, std::min(chunk, rows - i * chunk));
}

// Pow with one exponent for every element (a constant such as 2 in a decomposed LayerNorm):
// 2 is x·x (as the reference, exact), 0.5 the square root, 1 a copy, others std::pow per element.
bool pow(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &x = c.in(0), &e = c.in(1);
  if (!x.is_float() || e.numel() != 1) return false;
  const float p = e.is_float() ? e.floats[0] : static_cast<float>(e.integers[0]);
  const std::vector<int64_t> shape = onnx_ref::broadcast_shapes(x.shape, e.shape);  // same elements, maybe more 1s
  const int64_t n = x.numel();  // before output_like, which may move x away
  OnnxValue out = output_like(c, x.type, shape);
  const float* in = c.donated && c.donated->floats.empty() ? out.floats.data() : x.floats.data();
  float* y = out.floats.data();
  over_rows(n, 1, [&](int64_t start, int64_t count) {
    const float* a = in + start;
    float* b = y + start;
    if (p == 2.0f)
      for (int64_t i = 0; i < count; ++i) b[i] = a[i] * a[i];
    else if (p == 0.5f)
      for (int64_t i = 0; i < count; ++i) b[i] = std::sqrt(a[i]);
    else if (p == 1.0f)
      for (int64_t i = 0; i < count; ++i) b[i] = a[i];
    else
      for (int64_t i = 0; i < count; ++i) b[i] = std::pow(a[i], p);
  });
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

bool erf(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  if (!x.is_float()) return false;
  const int64_t n = x.numel();
  OnnxValue out = output_like(c, x.type, x.shape);
  const float* in = c.donated && c.donated->floats.empty() ? out.floats.data() : x.floats.data();
  const auto kernel = use_avx2() ? avx2::erf_array : baseline::erf_array;
  over_rows(n, 1, [&](int64_t start, int64_t count) { kernel(out.floats.data() + start, in + start, count); });
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// Softmax over the last axis (opset 13 on with any axis that is the last one; before 13 the axes
// from `axis` on are flattened, so axis = rank - 1 is the same).
bool softmax(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (!x.is_float() || rank == 0) return false;
  int64_t axis = c.attr_int("axis", c.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis != rank - 1) return false;
  const int64_t width = x.shape.back(), rows = width ? x.numel() / width : 0;
  OnnxValue out = output_like(c, x.type, x.shape);
  const float* in = c.donated && c.donated->floats.empty() ? out.floats.data() : x.floats.data();
  const auto kernel = use_avx2() ? avx2::softmax_rows : baseline::softmax_rows;
  over_rows(rows, width, [&](int64_t start, int64_t count) {
    kernel(out.floats.data() + start * width, in + start * width, count, width);
  });
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// LayerNormalization with scale (and bias) holding one value per element of the normalised axes.
bool layer_norm(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &x = c.in(0), &scale = c.in(1);
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (!x.is_float() || rank == 0) return false;
  int64_t axis = c.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  int64_t rows = 1, width = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.shape[d];
  for (int64_t d = axis; d < rank; ++d) width *= x.shape[d];
  if (scale.numel() != width || (c.has(2) && c.in(2).numel() != width)) return false;
  std::vector<int64_t> stat_shape = x.shape;
  for (int64_t d = axis; d < rank; ++d) stat_shape[d] = 1;
  OnnxValue mean = onnx_ref::make_output(x.type, stat_shape), inv = onnx_ref::make_output(x.type, stat_shape);
  OnnxValue out = output_like(c, x.type, x.shape);
  const float* in = c.donated && c.donated->floats.empty() ? out.floats.data() : x.floats.data();
  const float* bias = c.has(2) ? c.in(2).floats.data() : nullptr;
  const float eps = c.attr_float("epsilon", 1e-5f);
  const auto kernel = use_avx2() ? avx2::layer_norm_rows : baseline::layer_norm_rows;
  over_rows(rows, width, [&](int64_t start, int64_t count) {
    kernel(out.floats.data() + start * width, in + start * width, count, width, scale.floats.data(), bias,
           eps, mean.floats.data() + start, inv.floats.data() + start);
  });
  outputs = onnx_ref::outputs_of(std::move(out), std::move(mean), std::move(inv));
  return true;
}

}  // namespace

void add_fast_vector_ops(FastTable& t) {
  t["Add"] = add;
  t["Sub"] = sub;
  t["Mul"] = mul;
  t["Div"] = div;
  t["Pow"] = pow;
  t["Erf"] = erf;
  t["Softmax"] = softmax;
  t["LayerNormalization"] = layer_norm;
}

}  // namespace microsr::onnx_fast
