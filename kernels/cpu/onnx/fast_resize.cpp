// Fast Resize on floats (fast_ops.h): linear or nearest over the last two axes (an NCHW image's
// H and W; the axes before them must keep their size), any scales or sizes, the coordinate modes
// half_pixel, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn.
//
// Separable, with tables computed once per call: for each output column the two source columns and
// their weights, the same for the rows. Linear: each output row blends two source rows, each first
// resized along W (lerp_gather); a task of consecutive output rows keeps the last two resized source
// rows, so an upscale resizes each source row once per task. Nearest: a gather through both tables.
// Tasks are (plane, block of output rows), in parallel. Cubic, antialias, other aspect policies and
// resizes of the leading axes go to the reference (which applies H then W: same values up to float
// rounding of the order).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/fast_ops.h"
#include "cpu/onnx/row_math.h"

namespace microsr::onnx_fast {
namespace {

using onnx_ref::OpContext;

// For each output index along one axis: source indices i0, i1 and weights w0, w1.
struct AxisTable {
  std::vector<int32_t> i0, i1;
  std::vector<float> w0, w1;
  bool identity = false;  // the reference leaves this axis alone
};

struct Mode {
  bool linear = true;
  std::string coordinates, nearest;
};

bool known_modes(const Mode& m) {
  static const char* const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                       "tf_half_pixel_for_nn"};
  static const char* const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  return std::find(std::begin(coords), std::end(coords), m.coordinates) != std::end(coords) &&
         (m.linear || std::find(std::begin(nearest), std::end(nearest), m.nearest) != std::end(nearest));
}

// The source coordinate of output index x (ONNX's coordinate_transformation_mode), in double.
double source_of(const std::string& ct, int64_t x, int64_t in, int64_t out, double scale) {
  if (ct == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (ct == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (ct == "align_corners") return out == 1 ? 0.0 : static_cast<double>(x) * (in - 1) / (out - 1);
  if (ct == "asymmetric") return x / scale;
  return (x + 0.5) / scale;  // tf_half_pixel_for_nn
}

AxisTable table_of(const Mode& m, int64_t in, int64_t out, double scale, bool identity) {
  AxisTable t;
  t.identity = identity;
  t.i0.resize(out), t.i1.resize(out), t.w0.resize(out), t.w1.resize(out);
  for (int64_t x = 0; x < out; ++x) {
    if (identity) {
      t.i0[x] = t.i1[x] = static_cast<int32_t>(x), t.w0[x] = 1.0f, t.w1[x] = 0.0f;
      continue;
    }
    const double src = source_of(m.coordinates, x, in, out, scale);
    if (m.linear) {  // clamped into the input; the right neighbour clamped again at the last element
      const double s = std::min(std::max(src, 0.0), static_cast<double>(in - 1));
      const auto x0 = static_cast<int64_t>(std::floor(s));
      const auto w1 = static_cast<float>(s - x0);
      t.i0[x] = static_cast<int32_t>(x0), t.i1[x] = static_cast<int32_t>(std::min(x0 + 1, in - 1));
      t.w0[x] = 1.0f - w1, t.w1[x] = w1;
    } else {
      const double frac = src - std::floor(src);
      double r;
      if (m.nearest == "floor") r = std::floor(src);
      else if (m.nearest == "ceil") r = std::ceil(src);
      else if (m.nearest == "round_prefer_ceil") r = frac == 0.5 ? std::ceil(src) : std::round(src);
      else r = frac == 0.5 ? std::floor(src) : std::round(src);
      const int64_t i = std::min(std::max(static_cast<int64_t>(r), int64_t{0}), in - 1);
      t.i0[x] = t.i1[x] = static_cast<int32_t>(i), t.w0[x] = 1.0f, t.w1[x] = 0.0f;
    }
  }
  return t;
}

bool resize(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (!x.is_float() || rank < 2 || x.numel() == 0 || static_cast<int64_t>(x.floats.size()) != x.numel()) return false;
  Mode m;
  const std::string mode = c.attr_string("mode", "nearest");
  if (mode != "linear" && mode != "nearest") return false;
  m.linear = mode == "linear";
  m.coordinates = c.attr_string("coordinate_transformation_mode", "half_pixel");
  m.nearest = c.attr_string("nearest_mode", "round_prefer_floor");
  if (!known_modes(m) || c.attr_int("antialias", 0) != 0 ||
      c.attr_string("keep_aspect_ratio_policy", "stretch") != "stretch")
    return false;
  // Output sizes and scales per axis, as the reference works them out.
  std::vector<int64_t> axes = c.attr_ints("axes");
  if (axes.empty())
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank) return false;
    if (a < 0) a += rank;
  }
  const bool has_sizes = c.has(3) && c.in(3).numel() > 0, has_scales = c.has(2) && c.in(2).numel() > 0;
  if (has_sizes == has_scales) return false;
  std::vector<int64_t> out_size = x.shape;
  std::vector<double> scale(rank, 1.0);
  const std::vector<int64_t> sizes = has_sizes ? onnx_ref::as_integers(c.in(3)) : std::vector<int64_t>{};
  if (has_sizes ? sizes.size() != axes.size() : c.in(2).numel() != static_cast<int64_t>(axes.size()) || !c.in(2).is_float())
    return false;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const int64_t a = axes[i];
    if (has_sizes) {
      out_size[a] = sizes[i];
      scale[a] = static_cast<double>(static_cast<float>(sizes[i]) / static_cast<float>(x.shape[a]));
    } else {
      scale[a] = c.in(2).floats[i];
      out_size[a] = static_cast<int64_t>(std::floor(static_cast<float>(x.shape[a]) * c.in(2).floats[i]));
    }
  }
  for (int64_t d = 0; d < rank - 2; ++d)
    if (out_size[d] != x.shape[d] || scale[d] != 1.0) return false;
  const int64_t h_in = x.shape[rank - 2], w_in = x.shape[rank - 1], h_out = out_size[rank - 2], w_out = out_size[rank - 1];
  if (h_out <= 0 || w_out <= 0 || h_in > INT32_MAX || w_in > INT32_MAX) return false;
  auto same = [&](int64_t d) { return out_size[d] == x.shape[d] && scale[d] == 1.0; };
  const AxisTable ty = table_of(m, h_in, h_out, scale[rank - 2], same(rank - 2));
  const AxisTable tx = table_of(m, w_in, w_out, scale[rank - 1], same(rank - 1));

  OnnxValue out = onnx_ref::make_value(x.type, out_size);
  const int64_t planes = x.numel() / (h_in * w_in);
  constexpr int64_t kRows = 32;  // output rows per task
  const int64_t blocks = (h_out + kRows - 1) / kRows;
  const bool avx2 = kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx2);
  const auto lerp = avx2 ? avx2::lerp_gather : baseline::lerp_gather;
  const auto blend = avx2 ? avx2::blend_rows : baseline::blend_rows;
  const float* in = x.floats.data();
  float* y = out.floats.data();
#pragma omp parallel for schedule(static) if (out.numel() > 32768)
  for (int64_t t = 0; t < planes * blocks; ++t) {
    const int64_t p = t / blocks, r0 = t % blocks * kRows, r1 = std::min(h_out, r0 + kRows);
    const float* plane = in + p * h_in * w_in;
    float* dst = y + p * h_out * w_out;
    if (!m.linear) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* src = plane + ty.i0[r] * w_in;
        for (int64_t j = 0; j < w_out; ++j) dst[r * w_out + j] = src[tx.i0[j]];
      }
      continue;
    }
    // Two source rows resized along W, tagged with their source row index.
    std::vector<float> rows(2 * w_out);
    int64_t tag[2] = {-1, -1};
    auto fetch = [&](int64_t s, int64_t keep) -> const float* {
      for (int i = 0; i < 2; ++i)
        if (tag[i] == s) return rows.data() + i * w_out;
      const int slot = tag[0] == keep ? 1 : 0;
      float* row = rows.data() + slot * w_out;
      if (tx.identity)
        std::memcpy(row, plane + s * w_in, static_cast<std::size_t>(w_out) * sizeof(float));
      else
        lerp(row, plane + s * w_in, tx.i0.data(), tx.i1.data(), tx.w0.data(), tx.w1.data(), w_out);
      tag[slot] = s;
      return row;
    };
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t a = ty.i0[r], b = ty.i1[r];
      const float* ra = fetch(a, b);
      if (ty.w1[r] == 0.0f) {  // on a source row (or the identity): no second row
        for (int64_t j = 0; j < w_out; ++j) dst[r * w_out + j] = ra[j] * ty.w0[r];
        continue;
      }
      const float* rb = fetch(b, a);
      blend(dst + r * w_out, ra, ty.w0[r], rb, ty.w1[r], w_out);
    }
  }
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

}  // namespace

void add_fast_resize_ops(FastTable& t) { t["Resize"] = resize; }

}  // namespace microsr::onnx_fast
