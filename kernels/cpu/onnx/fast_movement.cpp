// Fast Transpose (fast_ops.h): output axes that stay neighbours in the input are merged, then the
// output is written row by row (its last merged axis), reading the input with that axis's stride
// (1 when the permutation keeps the last axis: a plain copy of each row). No index vector.
#include <algorithm>
#include <cstring>

#include "cpu/onnx/fast_ops.h"

namespace microsr::onnx_fast {
namespace {

bool transpose(const onnx_ref::OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (!x.is_float() || rank == 0) return false;
  std::vector<int64_t> perm = c.attr_ints("perm");
  if (perm.empty())
    for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
  if (static_cast<int64_t>(perm.size()) != rank) return false;
  std::vector<bool> seen(rank, false);
  for (int64_t& p : perm) {
    if (p < 0) p += rank;
    if (p < 0 || p >= rank || seen[p]) return false;  // the reference names the bad perm
    seen[p] = true;
  }
  const std::vector<int64_t> in_strides = onnx_ref::strides_of(x.shape);
  std::vector<int64_t> shape(rank), dims, strides;
  for (int64_t d = 0; d < rank; ++d) {
    shape[d] = x.shape[perm[d]];
    if (shape[d] == 1) continue;
    const int64_t stride = in_strides[perm[d]];
    if (!dims.empty() && strides.back() == stride * shape[d]) {  // continues the previous axis
      dims.back() *= shape[d], strides.back() = stride;
      continue;
    }
    dims.push_back(shape[d]), strides.push_back(stride);
  }
  if (dims.empty()) dims = {1}, strides = {1};
  OnnxValue out = onnx_ref::make_value(x.type, shape);
  const int64_t inner = dims.back(), step = strides.back();
  const int64_t rows = inner ? out.numel() / inner : 0;
  const auto outer_rank = static_cast<int64_t>(dims.size()) - 1;
  const float* src = x.floats.data();
  float* dst = out.floats.data();
#pragma omp parallel for if (out.numel() > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t offset = 0, rest = r;
    for (int64_t d = outer_rank - 1; d >= 0; --d) {
      offset += rest % dims[d] * strides[d];
      rest /= dims[d];
    }
    float* y = dst + r * inner;
    if (step == 1) {
      std::memcpy(y, src + offset, static_cast<std::size_t>(inner) * sizeof(float));
    } else {
      for (int64_t j = 0; j < inner; ++j) y[j] = src[offset + j * step];
    }
  }
  outputs = {std::move(out)};
  return true;
}

}  // namespace

void add_fast_movement_ops(FastTable& t) { t["Transpose"] = transpose; }

}  // namespace microsr::onnx_fast
