// ONNX ops that move elements: Concat, Split, Slice, Gather, Transpose, Expand, Tile, Pad.
// Each computes, for every output element, the index of the input element it copies.
#include <algorithm>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {
namespace {

// Concat(inputs..., axis): shapes equal except along `axis`.
std::vector<OnnxValue> concat(const OpContext& c) {
  const OnnxValue& first = c.in(0);
  const auto rank = static_cast<int64_t>(first.shape.size());
  const int64_t axis = normalize_axis(c.attr_int("axis", 0), rank, "Concat axis");
  std::vector<int64_t> shape = first.shape;
  shape[axis] = 0;
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    const OnnxValue& x = c.in(i);
    require(x.shape.size() == first.shape.size() && x.is_float() == first.is_float(),
            "Concat: input " + std::to_string(i) + " " + x.describe() + " does not match " + first.describe());
    for (int64_t d = 0; d < rank; ++d)
      require(d == axis || x.shape[d] == first.shape[d],
              "Concat: input " + std::to_string(i) + " " + x.describe() + " differs from " + first.describe() +
                  " outside axis " + std::to_string(axis));
    shape[axis] += x.shape[axis];
  }
  OnnxValue out = make_value(first.type, shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= shape[d];
  // out viewed as [outer][shape[axis] * inner]; input i fills a column band of it.
  int64_t band_start = 0;
  const int64_t row = shape[axis] * inner;
  for (const OnnxValue* x : c.inputs) {
    const int64_t band = x->shape[axis] * inner;
    for (int64_t o = 0; o < outer; ++o) {
      if (out.is_float())
        std::copy_n(x->floats.begin() + o * band, band, out.floats.begin() + o * row + band_start);
      else
        std::copy_n(x->integers.begin() + o * band, band, out.integers.begin() + o * row + band_start);
    }
    band_start += band;
  }
  return outputs_of(std::move(out));
}

// Elements [start, start + count) along `axis` of x.
OnnxValue take_range(const OnnxValue& x, int64_t axis, int64_t start, int64_t count) {
  std::vector<int64_t> shape = x.shape;
  shape[axis] = count;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
  for (std::size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  std::vector<int64_t> index;
  index.reserve(outer * count * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < count; ++k)
      for (int64_t i = 0; i < inner; ++i) index.push_back((o * x.shape[axis] + start + k) * inner + i);
  return gather_elements(x, shape, index);
}

// Split(x, split?): sizes from the `split` input (opset 13+) or attribute, else equal parts
// (the last one smaller, as opset 18's num_outputs says).
std::vector<OnnxValue> split(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const int64_t axis = normalize_axis(c.attr_int("axis", 0), static_cast<int64_t>(x.shape.size()), "Split axis");
  std::vector<int64_t> sizes = c.has(1) ? as_integers(c.in(1)) : c.attr_ints("split");
  const auto parts = static_cast<int64_t>(c.output_count());
  if (sizes.empty()) {
    const int64_t each = (x.shape[axis] + parts - 1) / parts;
    for (int64_t p = 0; p < parts; ++p) sizes.push_back(std::min(each, x.shape[axis] - p * each));
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  require(total == x.shape[axis] && static_cast<int64_t>(sizes.size()) == parts,
          "Split: sizes " + shape_text(sizes) + " do not split axis " + std::to_string(axis) + " of " + x.describe() +
              " into " + std::to_string(parts) + " outputs");
  std::vector<OnnxValue> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(take_range(x, axis, start, s));
    start += s;
  }
  return out;
}

// Slice(data, starts, ends, axes?, steps?): numpy slicing with clamping, negative steps allowed.
std::vector<OnnxValue> slice(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  const std::vector<int64_t> starts = as_integers(c.in(1)), ends = as_integers(c.in(2));
  std::vector<int64_t> axes(starts.size()), steps(starts.size(), 1);
  for (std::size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  if (c.has(3)) axes = as_integers(c.in(3));
  if (c.has(4)) steps = as_integers(c.in(4));
  require(ends.size() == starts.size() && axes.size() == starts.size() && steps.size() == starts.size(),
          "Slice: starts, ends, axes and steps differ in length");
  std::vector<int64_t> first(rank, 0), step(rank, 1), shape = x.shape;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = normalize_axis(axes[i], rank, "Slice axis"), dim = x.shape[axis], st = steps[i];
    require(st != 0, "Slice: step 0");
    int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (st > 0) {
      b = std::clamp(b, int64_t{0}, dim);
      e = std::clamp(e, int64_t{0}, dim);
      shape[axis] = e > b ? (e - b + st - 1) / st : 0;
    } else {
      b = std::clamp(b, int64_t{-1}, dim - 1);
      e = std::clamp(e, int64_t{-1}, dim - 1);
      shape[axis] = b > e ? (b - e - st - 1) / -st : 0;
    }
    first[axis] = b;
    step[axis] = st;
  }
  const std::vector<int64_t> in_strides = strides_of(x.shape), out_strides = strides_of(shape);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<int64_t> index(n);
  for (int64_t e = 0; e < n; ++e) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d) src += (first[d] + (e / out_strides[d] % shape[d]) * step[d]) * in_strides[d];
    index[e] = src;
  }
  return outputs_of(gather_elements(x, shape, index));
}

// Gather(data, indices, axis): out[a.., i.., b..] = data[a.., indices[i..], b..].
std::vector<OnnxValue> gather(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const OnnxValue& idx = c.in(1);
  const auto rank = static_cast<int64_t>(x.shape.size());
  const int64_t axis = normalize_axis(c.attr_int("axis", 0), rank, "Gather axis");
  const std::vector<int64_t> indices = as_integers(idx);
  std::vector<int64_t> shape(x.shape.begin(), x.shape.begin() + axis);
  shape.insert(shape.end(), idx.shape.begin(), idx.shape.end());
  shape.insert(shape.end(), x.shape.begin() + axis + 1, x.shape.end());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.shape[d];
  const int64_t dim = x.shape[axis];
  std::vector<int64_t> index;
  index.reserve(outer * indices.size() * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : indices) {
      require(k >= -dim && k < dim, "Gather: index " + std::to_string(k) + " outside axis " + std::to_string(axis) +
                                        " of " + x.describe());
      const int64_t row = k < 0 ? k + dim : k;
      for (int64_t i = 0; i < inner; ++i) index.push_back((o * dim + row) * inner + i);
    }
  return outputs_of(gather_elements(x, shape, index));
}

// Transpose(data, perm): output axis d is input axis perm[d] (reversed axes by default).
std::vector<OnnxValue> transpose(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> perm = c.attr_ints("perm");
  if (perm.empty())
    for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
  require(static_cast<int64_t>(perm.size()) == rank, "Transpose: perm " + shape_text(perm) + " for " + x.describe());
  std::vector<int64_t> shape(rank), stride(rank);
  const std::vector<int64_t> in_strides = strides_of(x.shape);
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t p = normalize_axis(perm[d], rank, "Transpose perm");
    shape[d] = x.shape[p];
    stride[d] = in_strides[p];
  }
  // Walk the output in order with an odometer over the permuted input strides.
  std::vector<int64_t> index(x.numel()), counter(rank, 0);
  int64_t src = 0;
  for (int64_t e = 0; e < x.numel(); ++e) {
    index[e] = src;
    for (int64_t d = rank - 1; d >= 0; --d) {
      src += stride[d];
      if (++counter[d] < shape[d]) break;
      src -= stride[d] * counter[d];
      counter[d] = 0;
    }
  }
  return outputs_of(gather_elements(x, shape, index));
}

// Expand(data, shape): broadcast to the shape (numpy rules, either side may be 1).
std::vector<OnnxValue> expand(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const std::vector<int64_t> shape = broadcast_shapes(x.shape, as_integers(c.in(1)));
  return outputs_of(gather_elements(x, shape, broadcast_index(x.shape, shape)));
}

// Tile(data, repeats): axis d repeated repeats[d] times.
std::vector<OnnxValue> tile(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const std::vector<int64_t> repeats = as_integers(c.in(1));
  const auto rank = static_cast<int64_t>(x.shape.size());
  require(static_cast<int64_t>(repeats.size()) == rank, "Tile: repeats " + shape_text(repeats) + " for " + x.describe());
  std::vector<int64_t> shape(rank);
  for (int64_t d = 0; d < rank; ++d) shape[d] = x.shape[d] * repeats[d];
  const std::vector<int64_t> in_strides = strides_of(x.shape), out_strides = strides_of(shape);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<int64_t> index(n);
  for (int64_t e = 0; e < n; ++e) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d) src += (e / out_strides[d] % shape[d]) % x.shape[d] * in_strides[d];
    index[e] = src;
  }
  return outputs_of(gather_elements(x, shape, index));
}

// Pad(data, pads, constant_value?, axes?): pads = [begin per axis..., end per axis...]; modes
// constant, reflect, edge. Negative pads crop.
std::vector<OnnxValue> pad(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  const std::vector<int64_t> given = c.has(1) ? as_integers(c.in(1)) : c.attr_ints("pads");
  std::vector<int64_t> axes;
  if (c.has(3))
    for (int64_t a : as_integers(c.in(3))) axes.push_back(normalize_axis(a, rank, "Pad axis"));
  else
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  const auto n_axes = static_cast<int64_t>(axes.size());
  require(static_cast<int64_t>(given.size()) == 2 * n_axes, "Pad: pads " + shape_text(given) + " for " + x.describe());
  std::vector<int64_t> begin(rank, 0), shape = x.shape;
  for (int64_t i = 0; i < n_axes; ++i) {
    begin[axes[i]] = given[i];
    shape[axes[i]] += given[i] + given[i + n_axes];
    require(shape[axes[i]] >= 0, "Pad: pads " + shape_text(given) + " crop more than " + x.describe() + " has");
  }
  const std::string mode = c.attr_string("mode", "constant");
  require(mode == "constant" || mode == "reflect" || mode == "edge", "Pad: mode '" + mode + "' is not supported");
  const double fill = c.has(2) && c.in(2).numel() > 0 ? element(c.in(2), 0) : c.attr_float("value", 0.0f);
  OnnxValue out = make_value(x.type, shape);
  const std::vector<int64_t> in_strides = strides_of(x.shape), out_strides = strides_of(shape);
  for (int64_t e = 0; e < out.numel(); ++e) {
    int64_t src = 0;
    bool inside = true;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t i = e / out_strides[d] % shape[d] - begin[d];
      const int64_t dim = x.shape[d];
      if (i < 0 || i >= dim) {
        if (mode == "constant") {
          inside = false;
          break;
        }
        if (mode == "edge") i = std::clamp(i, int64_t{0}, dim - 1);
        if (mode == "reflect") {  // mirror without repeating the edge
          const int64_t period = std::max<int64_t>(2 * (dim - 1), 1);
          i = ((i % period) + period) % period;
          if (i >= dim) i = period - i;
        }
      }
      src += i * in_strides[d];
    }
    if (out.is_float())
      out.floats[e] = inside ? x.floats[src] : static_cast<float>(fill);
    else
      out.integers[e] = inside ? x.integers[src] : static_cast<int64_t>(fill);
  }
  return outputs_of(std::move(out));
}

}  // namespace

void add_movement_ops(KernelTable& t) {
  t["Concat"] = concat;
  t["Split"] = split;
  t["Slice"] = slice;
  t["Gather"] = gather;
  t["Transpose"] = transpose;
  t["Expand"] = expand;
  t["Tile"] = tile;
  t["Pad"] = pad;
}

}  // namespace microsr::onnx_ref
