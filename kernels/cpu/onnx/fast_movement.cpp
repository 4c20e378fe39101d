// Fast Transpose, Slice, Split, Expand (fast_ops.h), each a strided copy: the output, in order, reads the input
// at base + sum_d index[d] · stride[d]. Output axes that stay neighbours in the input are merged,
// then the output is written row by row (its last merged axis), reading the input with that axis's
// stride (1: a plain copy of each row). No index vector. And Pad (constant mode): row copies.
#include <algorithm>
#include <cstring>

#include "cpu/onnx/fast_ops.h"

namespace microsr::onnx_fast {
namespace {

// The strided copy below when the output's last axis is strided in the input and an outer axis
// `unit` is contiguous there (a 2-D transpose inside): 16 × 16 tiles of (unit, last), so each tile
// reads 16 input lines and writes 16 output rows while both stay in L1.
void tiled_transpose_copy(float* dst, const float* src, int64_t base, const std::vector<int64_t>& dims,
                          const std::vector<int64_t>& strides, int64_t unit) {
  const auto rank = static_cast<int64_t>(dims.size());
  std::vector<int64_t> out_strides(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d) out_strides[d] = out_strides[d + 1] * dims[d + 1];
  const int64_t last = rank - 1, rows = dims[unit], cols = dims[last], step = strides[last];
  const int64_t row_step = out_strides[unit];
  int64_t others = 1;  // every index of the axes other than `unit` and the last
  for (int64_t d = 0; d < last; ++d)
    if (d != unit) others *= dims[d];
#pragma omp parallel for if (others * rows * cols > 65536)
  for (int64_t o = 0; o < others; ++o) {
    int64_t in = base, out = 0, rest = o;
    for (int64_t d = last - 1; d >= 0; --d) {
      if (d == unit) continue;
      const int64_t i = rest % dims[d];
      rest /= dims[d];
      in += i * strides[d], out += i * out_strides[d];
    }
    for (int64_t i0 = 0; i0 < rows; i0 += 16)
      for (int64_t j0 = 0; j0 < cols; j0 += 16) {
        const int64_t i1 = std::min(rows, i0 + 16), j1 = std::min(cols, j0 + 16);
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = j0; j < j1; ++j) dst[out + i * row_step + j] = src[in + i + j * step];
      }
  }
}

// out (shape `shape`, dense) = the input elements at base + sum_d i[d] · strides[d].
void strided_copy(float* dst, const float* src, int64_t base, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& in_strides) {
  std::vector<int64_t> dims, strides;
  int64_t total = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    total *= shape[d];
    if (shape[d] == 1) continue;
    if (!dims.empty() && strides.back() == in_strides[d] * shape[d]) {  // continues the previous axis
      dims.back() *= shape[d], strides.back() = in_strides[d];
      continue;
    }
    dims.push_back(shape[d]), strides.push_back(in_strides[d]);
  }
  if (dims.empty()) dims = {1}, strides = {1};
  const int64_t inner = dims.back(), step = strides.back();
  const int64_t rows = inner ? total / inner : 0;
  const auto outer_rank = static_cast<int64_t>(dims.size()) - 1;
  int64_t unit = -1;  // an outer axis that is contiguous in the input
  for (int64_t d = 0; d < outer_rank; ++d)
    if (strides[d] == 1) unit = d;
  if (step != 1 && unit >= 0 && total > 0) {
    tiled_transpose_copy(dst, src, base, dims, strides, unit);
    return;
  }
#pragma omp parallel for if (total > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t offset = base, rest = r;
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
}

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
  std::vector<int64_t> shape(rank), strides(rank);
  for (int64_t d = 0; d < rank; ++d) shape[d] = x.shape[perm[d]], strides[d] = in_strides[perm[d]];
  OnnxValue out = onnx_ref::make_output(x.type, shape);
  strided_copy(out.floats.data(), x.floats.data(), 0, shape, strides);
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// Slice(data, starts, ends, axes?, steps?) on floats: numpy slicing with clamping, negative steps.
bool slice(const onnx_ref::OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (!x.is_float() || !c.has(1) || !c.has(2)) return false;
  const std::vector<int64_t> starts = onnx_ref::as_integers(c.in(1)), ends = onnx_ref::as_integers(c.in(2));
  std::vector<int64_t> axes(starts.size()), steps(starts.size(), 1);
  for (std::size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  if (c.has(3)) axes = onnx_ref::as_integers(c.in(3));
  if (c.has(4)) steps = onnx_ref::as_integers(c.in(4));
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) return false;
  const std::vector<int64_t> in_strides = onnx_ref::strides_of(x.shape);
  std::vector<int64_t> shape = x.shape, strides = in_strides;
  int64_t base = 0;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = axes[i] < 0 ? axes[i] + rank : axes[i], st = steps[i];
    if (axis < 0 || axis >= rank || st == 0) return false;  // the reference names the problem
    const int64_t dim = x.shape[axis];
    int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (st > 0) {
      b = std::clamp(b, int64_t{0}, dim), e = std::clamp(e, int64_t{0}, dim);
      shape[axis] = e > b ? (e - b + st - 1) / st : 0;
    } else {
      b = std::clamp(b, int64_t{-1}, dim - 1), e = std::clamp(e, int64_t{-1}, dim - 1);
      shape[axis] = b > e ? (b - e - st - 1) / -st : 0;
    }
    if (shape[axis] > 0) base += b * in_strides[axis];
    strides[axis] = st * in_strides[axis];
  }
  OnnxValue out = onnx_ref::make_output(x.type, shape);
  if (out.numel() > 0) strided_copy(out.floats.data(), x.floats.data(), base, shape, strides);
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// Split(x, split?) on floats: each output is a strided copy of its range of the axis (an output
// whose name is empty is skipped: runtime_fuse.cpp's partial qkv fold leaves only q to copy).
bool split(const onnx_ref::OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = c.attr_int("axis", 0);
  if (axis < 0) axis += rank;
  if (!x.is_float() || axis < 0 || axis >= rank) return false;
  std::vector<int64_t> sizes = c.has(1) ? onnx_ref::as_integers(c.in(1)) : c.attr_ints("split");
  const auto parts = static_cast<int64_t>(c.output_count());
  if (sizes.empty()) {
    const int64_t each = parts > 0 ? (x.shape[axis] + parts - 1) / parts : 0;
    for (int64_t p = 0; p < parts; ++p) sizes.push_back(std::min(each, x.shape[axis] - p * each));
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s < 0 ? x.shape[axis] + 1 : s;  // a negative size: let the reference refuse
  if (total != x.shape[axis] || static_cast<int64_t>(sizes.size()) != parts) return false;
  const std::vector<int64_t> strides = onnx_ref::strides_of(x.shape);
  std::vector<OnnxValue> out;
  int64_t start = 0;
  for (int64_t p = 0; p < parts; ++p) {
    std::vector<int64_t> shape = x.shape;
    shape[axis] = sizes[p];
    if (c.node.outputs[p].empty()) {  // a part nobody reads (the fusion pass took its readers): not copied
      out.push_back(OnnxValue{x.type, shape, {}, {}});
    } else {
      out.push_back(onnx_ref::make_output(x.type, shape));
      if (out.back().numel() > 0) strided_copy(out.back().floats.data(), x.floats.data(), start * strides[axis], shape, strides);
    }
    start += sizes[p];
  }
  outputs = std::move(out);
  return true;
}

// Expand(x, shape) on floats: a strided copy whose broadcast axes have input stride 0.
bool expand(const onnx_ref::OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  if (!x.is_float() || !c.has(1) || c.in(1).is_float()) return false;
  const std::vector<int64_t> target = onnx_ref::as_integers(c.in(1));
  const std::size_t rank = std::max(x.shape.size(), target.size());
  std::vector<int64_t> shape(rank), strides(rank, 0);
  const std::vector<int64_t> in_strides = onnx_ref::strides_of(x.shape);
  for (std::size_t i = 0; i < rank; ++i) {  // i counts axes from the last
    const std::size_t d = rank - 1 - i;
    const int64_t a = i < x.shape.size() ? x.shape[x.shape.size() - 1 - i] : 1;
    const int64_t b = i < target.size() ? target[target.size() - 1 - i] : 1;
    if (a != b && a != 1 && b != 1) return false;  // the reference names the mismatch
    shape[d] = a == 1 ? b : a;
    if (a != 1) strides[d] = in_strides[x.shape.size() - 1 - i];
  }
  OnnxValue out = onnx_ref::make_output(x.type, shape);
  if (out.numel() > 0) strided_copy(out.floats.data(), x.floats.data(), 0, shape, strides);
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// Pad(data, pads, constant_value?, axes?) in constant mode with pads >= 0, on floats: the output is
// filled, then each input row (last axis) is copied to its place.
bool pad(const onnx_ref::OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (!x.is_float() || rank == 0 || c.attr_string("mode", "constant") != "constant") return false;
  const std::vector<int64_t> given = c.has(1) ? onnx_ref::as_integers(c.in(1)) : c.attr_ints("pads");
  std::vector<int64_t> axes;
  if (c.has(3)) {
    for (int64_t a : onnx_ref::as_integers(c.in(3))) axes.push_back(a < 0 ? a + rank : a);
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const auto n_axes = static_cast<int64_t>(axes.size());
  if (static_cast<int64_t>(given.size()) != 2 * n_axes) return false;
  std::vector<int64_t> begin(rank, 0), shape = x.shape;
  for (int64_t i = 0; i < n_axes; ++i) {
    if (axes[i] < 0 || axes[i] >= rank || given[i] < 0 || given[i + n_axes] < 0) return false;
    begin[axes[i]] = given[i];
    shape[axes[i]] += given[i] + given[i + n_axes];
  }
  const float fill = c.has(2) && c.in(2).numel() > 0 ? static_cast<float>(onnx_ref::element(c.in(2), 0))
                                                     : c.attr_float("value", 0.0f);
  OnnxValue out = onnx_ref::make_value(x.type, shape);
  if (fill != 0.0f) std::fill(out.floats.begin(), out.floats.end(), fill);
  const std::vector<int64_t> out_strides = onnx_ref::strides_of(shape);
  const int64_t inner = x.shape.back(), rows = inner ? x.numel() / inner : 0;
  const float* src = x.floats.data();
  float* dst = out.floats.data();
#pragma omp parallel for if (x.numel() > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t offset = begin[rank - 1], rest = r;
    for (int64_t d = rank - 2; d >= 0; --d) {
      offset += (rest % x.shape[d] + begin[d]) * out_strides[d];
      rest /= x.shape[d];
    }
    std::memcpy(dst + offset, src + r * inner, static_cast<std::size_t>(inner) * sizeof(float));
  }
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

}  // namespace

void add_fast_movement_ops(FastTable& t) {
  t["Transpose"] = transpose;
  t["Slice"] = slice;
  t["Split"] = split;
  t["Pad"] = pad;
  t["Expand"] = expand;
}

}  // namespace microsr::onnx_fast
