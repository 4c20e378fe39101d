// ONNX Resize: nearest, linear and cubic, applied one axis after another (the N-D interpolations
// ONNX defines are products of 1-D weights, so this is the same up to float rounding).
// Output size and scale per axis come from `sizes` or `scales` given at run time.
#include <cmath>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {
namespace {

struct Tap {
  int64_t index;
  float weight;
};

struct ResizeMode {
  std::string mode, coordinates, nearest;
  float cubic_a = -0.75f;
  bool exclude_outside = false;
};

// The input coordinate that output index x maps to along an axis of `in` -> `out` elements at `scale`.
double source_coordinate(const ResizeMode& m, int64_t x, int64_t in, int64_t out, double scale) {
  const std::string& ct = m.coordinates;
  if (ct == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (ct == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (ct == "align_corners") return out == 1 ? 0.0 : static_cast<double>(x) * (in - 1) / (out - 1);
  if (ct == "asymmetric") return x / scale;
  if (ct == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  throw Error("Resize: coordinate_transformation_mode '" + ct + "' is not supported");
}

// The input elements (and weights) that make output index x.
std::vector<Tap> taps(const ResizeMode& m, int64_t x, int64_t in, int64_t out, double scale) {
  const double src = source_coordinate(m, x, in, out, scale);
  auto clamp = [in](int64_t i) { return std::min(std::max(i, int64_t{0}), in - 1); };
  if (m.mode == "nearest") {
    double r;
    const double frac = src - std::floor(src);
    if (m.nearest == "floor") r = std::floor(src);
    else if (m.nearest == "ceil") r = std::ceil(src);
    else if (m.nearest == "round_prefer_ceil") r = frac == 0.5 ? std::ceil(src) : std::round(src);
    else if (m.nearest == "round_prefer_floor") r = frac == 0.5 ? std::floor(src) : std::round(src);
    else throw Error("Resize: nearest_mode '" + m.nearest + "' is not supported");
    return {{clamp(static_cast<int64_t>(r)), 1.0f}};
  }
  if (m.mode == "linear") {
    const double s = std::min(std::max(src, 0.0), static_cast<double>(in - 1));
    const auto x0 = static_cast<int64_t>(std::floor(s));
    const auto w1 = static_cast<float>(s - x0);
    return {{x0, 1.0f - w1}, {clamp(x0 + 1), w1}};
  }
  if (m.mode == "cubic") {
    const auto x0 = static_cast<int64_t>(std::floor(src));
    const double t = src - x0, a = m.cubic_a;
    // Keys' cubic convolution kernel at distances 1+t, t, 1-t, 2-t.
    auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };
    auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };
    const double w[4] = {far(1 + t), near(t), near(1 - t), far(2 - t)};
    std::vector<Tap> out_taps;
    double total = 0.0;
    for (int k = 0; k < 4; ++k) {
      const int64_t i = x0 - 1 + k;
      const bool outside = i < 0 || i >= in;
      const double weight = m.exclude_outside && outside ? 0.0 : w[k];
      total += weight;
      out_taps.push_back({clamp(i), static_cast<float>(weight)});
    }
    if (m.exclude_outside && total != 0.0)
      for (Tap& tap : out_taps) tap.weight = static_cast<float>(tap.weight / total);
    return out_taps;
  }
  throw Error("Resize: mode '" + m.mode + "' is not supported");
}

// Resizes `x` along `axis` to `out` elements.
OnnxValue resize_axis(const OnnxValue& x, const ResizeMode& m, int64_t axis, int64_t out, double scale) {
  const int64_t in = x.shape[axis];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
  for (std::size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  std::vector<int64_t> shape = x.shape;
  shape[axis] = out;
  OnnxValue y = make_value(x.type, shape);
  std::vector<std::vector<Tap>> all(out);
  for (int64_t o = 0; o < out; ++o) all[o] = taps(m, o, in, out, scale);
#pragma omp parallel for collapse(2) if (outer * out * inner > 65536)
  for (int64_t p = 0; p < outer; ++p)
    for (int64_t o = 0; o < out; ++o) {
      float* dst = y.floats.data() + (p * out + o) * inner;
      for (const Tap& tap : all[o]) {
        const float* src = x.floats.data() + (p * in + tap.index) * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += tap.weight * src[i];
      }
    }
  return y;
}

// Resize(X, roi?, scales?, sizes?).
std::vector<OnnxValue> resize(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  require(x.is_float(), "Resize takes floats, found " + x.describe());
  ResizeMode m;
  m.mode = c.attr_string("mode", "nearest");
  m.coordinates = c.attr_string("coordinate_transformation_mode", "half_pixel");
  m.nearest = c.attr_string("nearest_mode", "round_prefer_floor");
  m.cubic_a = c.attr_float("cubic_coeff_a", -0.75f);
  m.exclude_outside = c.attr_int("exclude_outside", 0) != 0;
  require(c.attr_int("antialias", 0) == 0, "Resize: antialias is not supported");
  require(c.attr_string("keep_aspect_ratio_policy", "stretch") == "stretch",
          "Resize: keep_aspect_ratio_policy other than stretch is not supported");
  const auto rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> axes = c.attr_ints("axes");
  if (axes.empty())
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  for (int64_t& a : axes) a = normalize_axis(a, rank, "Resize axis");
  std::vector<int64_t> out_size = x.shape;
  std::vector<double> scale(rank, 1.0);
  const bool has_sizes = c.has(3) && c.in(3).numel() > 0, has_scales = c.has(2) && c.in(2).numel() > 0;
  require(has_sizes != has_scales, "Resize: give exactly one of scales and sizes");
  const std::vector<int64_t> sizes = has_sizes ? as_integers(c.in(3)) : std::vector<int64_t>{};
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const int64_t a = axes[i];
    if (has_sizes) {
      require(sizes.size() == axes.size(), "Resize: sizes " + shape_text(sizes) + " for " + x.describe());
      out_size[a] = sizes[i];
      scale[a] = static_cast<double>(static_cast<float>(sizes[i]) / static_cast<float>(x.shape[a]));
    } else {
      const OnnxValue& s = c.in(2);
      require(s.numel() == static_cast<int64_t>(axes.size()), "Resize: scales " + s.describe() + " for " + x.describe());
      scale[a] = s.floats[i];
      out_size[a] = static_cast<int64_t>(std::floor(static_cast<float>(x.shape[a]) * s.floats[i]));  // in float, as ORT
    }
  }
  OnnxValue y = x;
  for (int64_t a = 0; a < rank; ++a)
    if (out_size[a] != x.shape[a] || scale[a] != 1.0) y = resize_axis(y, m, a, out_size[a], scale[a]);
  return outputs_of(std::move(y));
}

}  // namespace

void add_resize_ops(KernelTable& t) { t["Resize"] = resize; }

}  // namespace microsr::onnx_ref
