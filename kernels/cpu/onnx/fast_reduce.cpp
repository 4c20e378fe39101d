// Fast ReduceMean, ReduceSum, ReduceMax, ReduceMin on floats (fast_ops.h).
//
// Size-1 axes are dropped and neighbouring axes that are both reduced or both kept are merged; the
// kernel covers the layouts that leave at most three groups, x viewed as [O][R][K] with R reduced
// (O or K may be 1):
//   K = 1: each output is the reduction of a contiguous row of R (LayerNorm over the last axes);
//   K > 1: out[o][k] reduces x[o][r][k] over r, walking the rows of K in order, so the inner loop
//          runs along k and vectorises (channel LayerNorm: ReduceMean over axis 1 of NCHW).
// Anything else (reduced axes on both sides of a kept one, integers, noop_with_empty_axes with no
// axes, empty tensors) goes to the reference. Sums are in double as in the reference; the column
// sums add in the reference's order, so ReduceMean over channels matches it bit for bit.
#include <algorithm>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/fast_ops.h"
#include "cpu/onnx/row_math.h"

namespace microsr::onnx_fast {
namespace {

using onnx_ref::OpContext;

enum class Kind { mean, sum, max, min };

bool reduce(const OpContext& c, std::vector<OnnxValue>& outputs, Kind kind) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (!x.is_float() || x.numel() == 0 || static_cast<int64_t>(x.floats.size()) != x.numel()) return false;
  const std::vector<int64_t> axes = c.has(1) ? onnx_ref::as_integers(c.in(1)) : c.attr_ints("axes");
  if (axes.empty() && c.attr_int("noop_with_empty_axes", 0) != 0) return false;
  std::vector<bool> reduced(rank, axes.empty());
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) return false;  // the reference names the bad axis
    reduced[a < 0 ? a + rank : a] = true;
  }
  // Groups of merged axes: (size, reduced).
  std::vector<std::pair<int64_t, bool>> groups;
  for (int64_t d = 0; d < rank; ++d) {
    if (x.shape[d] == 1) continue;
    if (!groups.empty() && groups.back().second == reduced[d])
      groups.back().first *= x.shape[d];
    else
      groups.emplace_back(x.shape[d], reduced[d]);
  }
  int64_t outer = 1, count = 1, inner = 1;
  std::size_t g = 0;
  if (g < groups.size() && !groups[g].second) outer = groups[g++].first;
  if (g < groups.size() && groups[g].second) count = groups[g++].first;
  if (g < groups.size() && !groups[g].second) inner = groups[g++].first;
  if (g != groups.size()) return false;

  std::vector<int64_t> out_shape;
  const bool keep = c.attr_int("keepdims", 1) != 0;
  for (int64_t d = 0; d < rank; ++d)
    if (!reduced[d]) out_shape.push_back(x.shape[d]);
    else if (keep) out_shape.push_back(1);
  OnnxValue out = onnx_ref::make_value(x.type, out_shape);
  const bool avx2 = kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx2);
  const float* in = x.floats.data();
  float* y = out.floats.data();
  const bool extreme = kind == Kind::max || kind == Kind::min, min = kind == Kind::min;
  const double divisor = kind == Kind::mean ? static_cast<double>(count) : 1.0;

  if (inner == 1) {  // rows of `count`, contiguous
    const int64_t chunk = std::max<int64_t>(1, 16384 / count), chunks = (outer + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (x.numel() > 32768)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t r0 = ch * chunk, rows = std::min(chunk, outer - r0);
      if (extreme) {
        (avx2 ? avx2::extreme_rows : baseline::extreme_rows)(y + r0, in + r0 * count, rows, count, min);
        continue;
      }
      double sums[64];
      for (int64_t r = 0; r < rows; r += 64) {
        const int64_t n = std::min<int64_t>(64, rows - r);
        (avx2 ? avx2::sum_rows : baseline::sum_rows)(sums, in + (r0 + r) * count, n, count);
        for (int64_t i = 0; i < n; ++i) y[r0 + r + i] = static_cast<float>(sums[i] / divisor);
      }
    }
  } else {  // out[o][k] over x[o][r][k]: column blocks of 512 accumulate row after row
    constexpr int64_t kBlock = 512;
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (x.numel() > 32768)
    for (int64_t t = 0; t < outer * blocks; ++t) {
      const int64_t o = t / blocks, k0 = t % blocks * kBlock, width = std::min(kBlock, inner - k0);
      const float* src = in + o * count * inner + k0;
      float* dst = y + o * inner + k0;
      if (extreme) {
        std::fill(dst, dst + width, min ? __builtin_inff() : -__builtin_inff());
        (avx2 ? avx2::extreme_columns : baseline::extreme_columns)(dst, src, count, width, inner, min);
        continue;
      }
      double acc[kBlock] = {};
      (avx2 ? avx2::sum_columns : baseline::sum_columns)(acc, src, count, width, inner);
      for (int64_t k = 0; k < width; ++k) dst[k] = static_cast<float>(acc[k] / divisor);
    }
  }
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

bool reduce_mean(const OpContext& c, std::vector<OnnxValue>& o) { return reduce(c, o, Kind::mean); }
bool reduce_sum(const OpContext& c, std::vector<OnnxValue>& o) { return reduce(c, o, Kind::sum); }
bool reduce_max(const OpContext& c, std::vector<OnnxValue>& o) { return reduce(c, o, Kind::max); }
bool reduce_min(const OpContext& c, std::vector<OnnxValue>& o) { return reduce(c, o, Kind::min); }

}  // namespace

void add_fast_reduce_ops(FastTable& t) {
  t["ReduceMean"] = reduce_mean;
  t["ReduceSum"] = reduce_sum;
  t["ReduceMax"] = reduce_max;
  t["ReduceMin"] = reduce_min;
}

}  // namespace microsr::onnx_fast
