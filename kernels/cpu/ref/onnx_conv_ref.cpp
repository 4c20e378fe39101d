// ONNX convolution and pooling over 1-D or 2-D spatial axes: Conv, ConvTranspose, MaxPool.
// A 1-D op runs as 2-D with height 1. Layouts are ONNX's: x [N][C][H][W], Conv weights
// [Cout][Cin/group][kh][kw], ConvTranspose weights [Cin][Cout/group][kh][kw].
#include <cmath>
#include <limits>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {
namespace {

// The spatial geometry of one op, always as 2-D.
struct Window {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// Reads kernel_shape (or the weight's), strides, dilations, pads and auto_pad for `spatial` axes
// of sizes `in_h`, `in_w`.
Window read_window(const OpContext& c, int64_t spatial, std::vector<int64_t> kernel, int64_t in_h, int64_t in_w,
                   bool transposed) {
  require(spatial == 1 || spatial == 2, "only 1-D and 2-D spatial axes are supported, found " + std::to_string(spatial));
  kernel = c.attr_ints("kernel_shape", kernel);
  std::vector<int64_t> strides = c.attr_ints("strides", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dil = c.attr_ints("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = c.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  require(static_cast<int64_t>(kernel.size()) == spatial && static_cast<int64_t>(strides.size()) == spatial &&
              static_cast<int64_t>(dil.size()) == spatial && static_cast<int64_t>(pads.size()) == 2 * spatial,
          "kernel_shape, strides, dilations or pads do not match " + std::to_string(spatial) + " spatial axes");
  if (spatial == 1) {  // as 2-D: height 1
    kernel.insert(kernel.begin(), 1), strides.insert(strides.begin(), 1), dil.insert(dil.begin(), 1);
    pads = {0, pads[0], 0, pads[1]};
  }
  Window w{kernel[0], kernel[1], strides[0], strides[1], dil[0], dil[1], pads[0], pads[1], pads[2], pads[3]};
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    w.pad_top = w.pad_left = w.pad_bottom = w.pad_right = 0;
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    require(!transposed, "auto_pad SAME is not supported for ConvTranspose");
    auto same = [&](int64_t in, int64_t k, int64_t s, int64_t d, int64_t& begin, int64_t& end) {
      const int64_t out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + (k - 1) * d + 1 - in);
      begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    };
    same(in_h, w.kh, w.sh, w.dh, w.pad_top, w.pad_bottom);
    same(in_w, w.kw, w.sw, w.dw, w.pad_left, w.pad_right);
  } else {
    require(auto_pad == "NOTSET", "auto_pad '" + auto_pad + "' is not supported");
  }
  return w;
}

// x as [N][C][H][W] (height 1 for 1-D).
std::vector<int64_t> as_4d(const OnnxValue& x, const char* op) {
  require(x.is_float() && (x.shape.size() == 3 || x.shape.size() == 4),
          std::string(op) + " takes float [N, C, W] or [N, C, H, W], found " + x.describe());
  if (x.shape.size() == 3) return {x.shape[0], x.shape[1], 1, x.shape[2]};
  return x.shape;
}

std::vector<int64_t> output_shape(const OnnxValue& x, int64_t n, int64_t c, int64_t h, int64_t w) {
  if (x.shape.size() == 3) return {n, c, w};
  return {n, c, h, w};
}

// Conv(X, W, B?) with groups, strides, dilations, pads.
std::vector<OnnxValue> conv(const OpContext& c) {
  const OnnxValue &x = c.in(0), &weight = c.in(1);
  const std::vector<int64_t> xs = as_4d(x, "Conv"), ws = as_4d(weight, "Conv weight");
  const int64_t n = xs[0], cin = xs[1], h = xs[2], wd = xs[3], cout = ws[0];
  const int64_t groups = c.attr_int("group", 1);
  require(groups > 0 && cin % groups == 0 && cout % groups == 0 && ws[1] == cin / groups,
          "Conv: weight " + weight.describe() + " does not fit input " + x.describe() + " with group " + std::to_string(groups));
  const auto spatial = static_cast<int64_t>(x.shape.size()) - 2;
  const std::vector<int64_t> kernel(weight.shape.begin() + 2, weight.shape.end());
  const Window win = read_window(c, spatial, kernel, h, wd, false);
  require(win.kh == ws[2] && win.kw == ws[3], "Conv: kernel_shape does not match weight " + weight.describe());
  const int64_t oh = (h + win.pad_top + win.pad_bottom - (win.kh - 1) * win.dh - 1) / win.sh + 1;
  const int64_t ow = (wd + win.pad_left + win.pad_right - (win.kw - 1) * win.dw - 1) / win.sw + 1;
  require(oh > 0 && ow > 0, "Conv: the window is larger than the padded input " + x.describe());
  OnnxValue out = make_value(x.type, output_shape(x, n, cout, oh, ow));
  const int64_t cin_g = cin / groups, cout_g = cout / groups;
  const float* bias = c.has(2) ? c.in(2).floats.data() : nullptr;
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < cout; ++oc) {
      const int64_t g = oc / cout_g;
      float* y = out.floats.data() + (b * cout + oc) * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          float sum = bias ? bias[oc] : 0.0f;
          for (int64_t ic = 0; ic < cin_g; ++ic) {
            const float* xp = x.floats.data() + (b * cin + g * cin_g + ic) * h * wd;
            const float* wp = weight.floats.data() + (oc * cin_g + ic) * win.kh * win.kw;
            for (int64_t ky = 0; ky < win.kh; ++ky) {
              const int64_t iy = oy * win.sh - win.pad_top + ky * win.dh;
              if (iy < 0 || iy >= h) continue;
              for (int64_t kx = 0; kx < win.kw; ++kx) {
                const int64_t ix = ox * win.sw - win.pad_left + kx * win.dw;
                if (ix >= 0 && ix < wd) sum += xp[iy * wd + ix] * wp[ky * win.kw + kx];
              }
            }
          }
          y[oy * ow + ox] = sum;
        }
    }
  return outputs_of(std::move(out));
}

// ConvTranspose(X, W, B?): input pixel (iy, ix) adds W · x at output (iy·s - pad + ky·d, ...).
std::vector<OnnxValue> conv_transpose(const OpContext& c) {
  const OnnxValue &x = c.in(0), &weight = c.in(1);
  const std::vector<int64_t> xs = as_4d(x, "ConvTranspose"), ws = as_4d(weight, "ConvTranspose weight");
  const int64_t n = xs[0], cin = xs[1], h = xs[2], wd = xs[3];
  const int64_t groups = c.attr_int("group", 1);
  require(groups > 0 && ws[0] == cin && cin % groups == 0,
          "ConvTranspose: weight " + weight.describe() + " does not fit input " + x.describe());
  require(!c.has_attr("output_shape"), "ConvTranspose: the output_shape attribute is not supported (give pads)");
  const int64_t cout_g = ws[1], cout = cout_g * groups, cin_g = cin / groups;
  const auto spatial = static_cast<int64_t>(x.shape.size()) - 2;
  const std::vector<int64_t> kernel(weight.shape.begin() + 2, weight.shape.end());
  const Window win = read_window(c, spatial, kernel, h, wd, true);
  std::vector<int64_t> extra = c.attr_ints("output_padding", std::vector<int64_t>(spatial, 0));
  if (spatial == 1) extra.insert(extra.begin(), 0);
  const int64_t oh = win.sh * (h - 1) + extra[0] + (win.kh - 1) * win.dh + 1 - win.pad_top - win.pad_bottom;
  const int64_t ow = win.sw * (wd - 1) + extra[1] + (win.kw - 1) * win.dw + 1 - win.pad_left - win.pad_right;
  require(oh > 0 && ow > 0, "ConvTranspose: empty output for " + x.describe());
  OnnxValue out = make_value(x.type, output_shape(x, n, cout, oh, ow));
  const float* bias = c.has(2) ? c.in(2).floats.data() : nullptr;
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < cout; ++oc) {  // each thread owns one output plane
      const int64_t g = oc / cout_g, ocg = oc % cout_g;
      float* y = out.floats.data() + (b * cout + oc) * oh * ow;
      for (int64_t i = 0; i < oh * ow; ++i) y[i] = bias ? bias[oc] : 0.0f;
      for (int64_t ic = 0; ic < cin_g; ++ic) {
        const int64_t ci = g * cin_g + ic;
        const float* xp = x.floats.data() + (b * cin + ci) * h * wd;
        const float* wp = weight.floats.data() + (ci * cout_g + ocg) * win.kh * win.kw;
        for (int64_t iy = 0; iy < h; ++iy)
          for (int64_t ix = 0; ix < wd; ++ix)
            for (int64_t ky = 0; ky < win.kh; ++ky) {
              const int64_t oy = iy * win.sh - win.pad_top + ky * win.dh;
              if (oy < 0 || oy >= oh) continue;
              for (int64_t kx = 0; kx < win.kw; ++kx) {
                const int64_t ox = ix * win.sw - win.pad_left + kx * win.dw;
                if (ox >= 0 && ox < ow) y[oy * ow + ox] += xp[iy * wd + ix] * wp[ky * win.kw + kx];
              }
            }
      }
    }
  return outputs_of(std::move(out));
}

// MaxPool(X): the maximum of each window; padding never wins. ceil_mode rounds the output size up
// (a window must still start inside the input or its left padding).
std::vector<OnnxValue> max_pool(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  require(c.output_count() == 1, "MaxPool: the Indices output is not supported");
  const std::vector<int64_t> xs = as_4d(x, "MaxPool");
  const int64_t n = xs[0], ch = xs[1], h = xs[2], wd = xs[3];
  const auto spatial = static_cast<int64_t>(x.shape.size()) - 2;
  require(c.has_attr("kernel_shape"), "MaxPool: kernel_shape is required");
  const Window win = read_window(c, spatial, {}, h, wd, false);
  const bool ceil_mode = c.attr_int("ceil_mode", 0) != 0;
  auto out_size = [ceil_mode](int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
    const int64_t span = in + pb + pe - ((k - 1) * d + 1);
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pb) --out;
    return out;
  };
  const int64_t oh = out_size(h, win.kh, win.sh, win.dh, win.pad_top, win.pad_bottom);
  const int64_t ow = out_size(wd, win.kw, win.sw, win.dw, win.pad_left, win.pad_right);
  OnnxValue out = make_value(x.type, output_shape(x, n, ch, oh, ow));
#pragma omp parallel for
  for (int64_t p = 0; p < n * ch; ++p) {
    const float* xp = x.floats.data() + p * h * wd;
    float* y = out.floats.data() + p * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t ky = 0; ky < win.kh; ++ky) {
          const int64_t iy = oy * win.sh - win.pad_top + ky * win.dh;
          if (iy < 0 || iy >= h) continue;
          for (int64_t kx = 0; kx < win.kw; ++kx) {
            const int64_t ix = ox * win.sw - win.pad_left + kx * win.dw;
            if (ix >= 0 && ix < wd) m = std::max(m, xp[iy * wd + ix]);
          }
        }
        y[oy * ow + ox] = m;
      }
  }
  return outputs_of(std::move(out));
}

}  // namespace

void add_conv_ops(KernelTable& t) {
  t["Conv"] = conv;
  t["ConvTranspose"] = conv_transpose;
  t["MaxPool"] = max_pool;
}

}  // namespace microsr::onnx_ref
