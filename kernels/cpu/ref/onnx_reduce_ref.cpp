// ONNX reductions and normalisations: ReduceMean/Max/Min/Sum/Prod, ArgMax, Softmax,
// LayerNormalization. Sums accumulate in double.
#include <cmath>
#include <limits>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {
namespace {

// x viewed as [outer][dim][inner] around one axis.
struct AxisView {
  int64_t outer = 1, dim = 1, inner = 1;
  AxisView(const std::vector<int64_t>& shape, int64_t axis) {
    for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
    dim = shape[axis];
    for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  }
};

enum class Reduction { mean, max, min, sum, prod };

// Reduce*(data, axes?): axes from input 1 (ReduceSum from opset 13, all from opset 18) or the
// attribute; none given reduces every axis unless noop_with_empty_axes.
OpKernel reduce(Reduction kind) {
  return [kind](const OpContext& c) {
    const OnnxValue& x = c.in(0);
    const auto rank = static_cast<int64_t>(x.shape.size());
    const std::vector<int64_t> axes = c.has(1) ? as_integers(c.in(1)) : c.attr_ints("axes");
    const bool keep = c.attr_int("keepdims", 1) != 0;
    if (axes.empty() && c.attr_int("noop_with_empty_axes", 0) != 0) return outputs_of(x);
    std::vector<bool> reduced(rank, axes.empty());
    for (int64_t a : axes) reduced[normalize_axis(a, rank, "reduction axis")] = true;
    std::vector<int64_t> kept_shape(rank), out_shape;  // kept_shape: reduced axes as 1
    for (int64_t d = 0; d < rank; ++d) {
      kept_shape[d] = reduced[d] ? 1 : x.shape[d];
      if (!reduced[d] || keep) out_shape.push_back(kept_shape[d]);
    }
    int64_t out_n = 1;
    for (int64_t d : kept_shape) out_n *= d;
    const double init = kind == Reduction::max ? -std::numeric_limits<double>::infinity()
                        : kind == Reduction::min ? std::numeric_limits<double>::infinity()
                        : kind == Reduction::prod ? 1.0
                                                  : 0.0;
    std::vector<double> acc(out_n, init);
    const std::vector<int64_t> in_strides = strides_of(x.shape), out_strides = strides_of(kept_shape);
    const int64_t n = x.numel();
    for (int64_t e = 0; e < n; ++e) {
      int64_t o = 0;
      for (int64_t d = 0; d < rank; ++d)
        if (!reduced[d]) o += (e / in_strides[d] % x.shape[d]) * out_strides[d];
      const double v = element(x, e);
      double& a = acc[o];
      switch (kind) {
        case Reduction::max: a = std::max(a, v); break;
        case Reduction::min: a = std::min(a, v); break;
        case Reduction::prod: a *= v; break;
        default: a += v;
      }
    }
    if (kind == Reduction::mean && out_n > 0) {
      const double count = static_cast<double>(n) / static_cast<double>(out_n);
      for (double& a : acc) a /= count;
    }
    OnnxValue out = make_value(x.type, out_shape);
    for (int64_t i = 0; i < out_n; ++i) {
      if (out.is_float())
        out.floats[i] = static_cast<float>(acc[i]);
      else
        out.integers[i] = static_cast<int64_t>(acc[i]);
    }
    return outputs_of(std::move(out));
  };
}

// ArgMax(data, axis, keepdims, select_last_index) -> int64.
std::vector<OnnxValue> argmax(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  const int64_t axis = normalize_axis(c.attr_int("axis", 0), rank, "ArgMax axis");
  const bool last = c.attr_int("select_last_index", 0) != 0;
  const AxisView v(x.shape, axis);
  std::vector<int64_t> shape = x.shape;
  if (c.attr_int("keepdims", 1) != 0)
    shape[axis] = 1;
  else
    shape.erase(shape.begin() + axis);
  OnnxValue out = make_value(static_cast<int32_t>(OnnxType::int64), shape);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < v.dim; ++k) {
        const double a = element(x, (o * v.dim + k) * v.inner + i), b = element(x, (o * v.dim + best) * v.inner + i);
        if (a > b || (last && a == b)) best = k;
      }
      out.integers[o * v.inner + i] = best;
    }
  return outputs_of(std::move(out));
}

// Softmax along `axis` (opset 13+); before opset 13, over the axes from `axis` on, flattened.
std::vector<OnnxValue> softmax(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  require(x.is_float(), "Softmax takes floats, found " + x.describe());
  const auto rank = static_cast<int64_t>(x.shape.size());
  const int64_t axis = normalize_axis(c.attr_int("axis", c.opset >= 13 ? -1 : 1), rank, "Softmax axis");
  AxisView v(x.shape, axis);
  if (c.opset < 13) v = AxisView({v.outer, v.dim * v.inner, 1}, 1);
  OnnxValue out = make_value(x.type, x.shape);
#pragma omp parallel for if (v.outer * v.inner > 256)
  for (int64_t oi = 0; oi < v.outer * v.inner; ++oi) {
    const int64_t o = oi / v.inner, i = oi % v.inner;
    const float* in = x.floats.data() + o * v.dim * v.inner + i;
    float* y = out.floats.data() + o * v.dim * v.inner + i;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t k = 0; k < v.dim; ++k) m = std::max(m, in[k * v.inner]);
    double sum = 0.0;
    for (int64_t k = 0; k < v.dim; ++k) {
      y[k * v.inner] = std::exp(in[k * v.inner] - m);
      sum += y[k * v.inner];
    }
    const auto scale = static_cast<float>(1.0 / sum);
    for (int64_t k = 0; k < v.dim; ++k) y[k * v.inner] *= scale;
  }
  return outputs_of(std::move(out));
}

// LayerNormalization(X, Scale, B?): over the axes from `axis` on,
// y = (x - mean) / sqrt(var + epsilon) * scale + bias; optional outputs Mean and InvStdDev.
std::vector<OnnxValue> layer_norm(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const OnnxValue& scale = c.in(1);
  const auto rank = static_cast<int64_t>(x.shape.size());
  const int64_t axis = normalize_axis(c.attr_int("axis", -1), rank, "LayerNormalization axis");
  const double eps = c.attr_float("epsilon", 1e-5f);
  int64_t rows = 1, width = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.shape[d];
  for (int64_t d = axis; d < rank; ++d) width *= x.shape[d];
  const std::vector<int64_t> norm_shape(x.shape.begin() + axis, x.shape.end());
  const std::vector<int64_t> scale_index = broadcast_index(scale.shape, norm_shape);
  std::vector<int64_t> bias_index;
  if (c.has(2)) bias_index = broadcast_index(c.in(2).shape, norm_shape);
  std::vector<int64_t> stat_shape = x.shape;
  for (int64_t d = axis; d < rank; ++d) stat_shape[d] = 1;
  OnnxValue out = make_value(x.type, x.shape), mean_out = make_value(x.type, stat_shape),
            inv_out = make_value(x.type, stat_shape);
#pragma omp parallel for if (rows > 16)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.floats.data() + r * width;
    double mean = 0.0, var = 0.0;
    for (int64_t k = 0; k < width; ++k) mean += in[k];
    mean /= static_cast<double>(width);
    for (int64_t k = 0; k < width; ++k) var += (in[k] - mean) * (in[k] - mean);
    var /= static_cast<double>(width);
    const double inv = 1.0 / std::sqrt(var + eps);
    float* y = out.floats.data() + r * width;
    for (int64_t k = 0; k < width; ++k) {
      double v = (in[k] - mean) * inv * scale.floats[scale_index[k]];
      if (c.has(2)) v += c.in(2).floats[bias_index[k]];
      y[k] = static_cast<float>(v);
    }
    mean_out.floats[r] = static_cast<float>(mean);
    inv_out.floats[r] = static_cast<float>(inv);
  }
  return outputs_of(std::move(out), std::move(mean_out), std::move(inv_out));
}

}  // namespace

void add_reduce_ops(KernelTable& t) {
  t["ReduceMean"] = reduce(Reduction::mean);
  t["ReduceMax"] = reduce(Reduction::max);
  t["ReduceMin"] = reduce(Reduction::min);
  t["ReduceSum"] = reduce(Reduction::sum);
  t["ReduceProd"] = reduce(Reduction::prod);
  t["ArgMax"] = argmax;
  t["Softmax"] = softmax;
  t["LayerNormalization"] = layer_norm;
}

}  // namespace microsr::onnx_ref
