// Fast 2-D Conv and ConvTranspose with stride = kernel (fast_ops.h). Conv: im2col + the packed GEMM of gemm.h; a 1×1 convolution with stride 1
// and no padding reads the input directly. Groups, auto_pad and 1-D convolutions go to the reference.
//
//   out[b][oc][p] = bias[oc] + sum_q W[oc][q] · col[q][p],  q = (ic, ky, kx), p = (oy, ox)
//   col[q][p] = x[b][ic][oy·sh - pad_top + ky·dh][ox·sw - pad_left + kx·dw]  (0 outside)
#include <vector>

#include "cpu/onnx/fast_ops.h"
#include "cpu/onnx/gemm.h"

namespace microsr::onnx_fast {
namespace {

bool conv(const onnx_ref::OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &x = c.in(0), &w = c.in(1);
  if (!x.is_float() || !w.is_float() || x.shape.size() != 4 || w.shape.size() != 4) return false;
  if (c.attr_int("group", 1) != 1 || c.attr_string("auto_pad", "NOTSET") != "NOTSET") return false;
  const int64_t n = x.shape[0], cin = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t cout = w.shape[0], kh = w.shape[2], kw = w.shape[3];
  if (w.shape[1] != cin || c.attr_ints("kernel_shape", {kh, kw}) != std::vector<int64_t>{kh, kw}) return false;
  const std::vector<int64_t> s = c.attr_ints("strides", {1, 1}), d = c.attr_ints("dilations", {1, 1});
  const std::vector<int64_t> pads = c.attr_ints("pads", {0, 0, 0, 0});
  if (s.size() != 2 || d.size() != 2 || pads.size() != 4) return false;
  const int64_t oh = (h + pads[0] + pads[2] - (kh - 1) * d[0] - 1) / s[0] + 1;
  const int64_t ow = (wd + pads[1] + pads[3] - (kw - 1) * d[1] - 1) / s[1] + 1;
  if (oh <= 0 || ow <= 0) return false;
  const float* bias = nullptr;
  if (c.has(2)) {
    if (!c.in(2).is_float() || c.in(2).numel() != cout) return false;
    bias = c.in(2).floats.data();
  }
  OnnxValue out = onnx_ref::make_output(x.type, {n, cout, oh, ow});
  const int64_t q_count = cin * kh * kw, p_count = oh * ow;
  const bool direct = kh == 1 && kw == 1 && s[0] == 1 && s[1] == 1 && pads == std::vector<int64_t>{0, 0, 0, 0};
  std::vector<float> col(direct ? 0 : static_cast<std::size_t>(q_count * p_count));
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = x.floats.data() + b * cin * h * wd;
    if (!direct) {
#pragma omp parallel for if (q_count * p_count > 65536)
      for (int64_t q = 0; q < q_count; ++q) {
        const int64_t ic = q / (kh * kw), ky = q / kw % kh, kx = q % kw;
        float* row = col.data() + q * p_count;
        for (int64_t oy = 0; oy < oh; ++oy) {
          const int64_t iy = oy * s[0] - pads[0] + ky * d[0];
          for (int64_t ox = 0; ox < ow; ++ox) {
            const int64_t ix = ox * s[1] - pads[1] + kx * d[1];
            row[oy * ow + ox] = iy >= 0 && iy < h && ix >= 0 && ix < wd ? xb[(ic * h + iy) * wd + ix] : 0.0f;
          }
        }
      }
    }
    GemmArgs g;
    g.m = cout, g.n = p_count, g.k = q_count;
    g.a = w.floats.data(), g.a_row = q_count;
    g.b = direct ? xb : col.data(), g.b_row = p_count;
    g.c = out.floats.data() + b * cout * p_count, g.ldc = p_count;
    g.bias_row = bias;
    gemm_f32(g);
  }
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// ConvTranspose with stride equal to the kernel (SAM's 2×2 / 2 upscaling), group 1, no pads, no
// dilation: each input pixel owns its own kh × kw output block, so it is one GEMM and a scatter.
//   col[(oc, ky, kx)][p] = sum_ic W[ic][oc][ky][kx] · x[b][ic][p]
//   out[b][oc][iy·kh + ky][ix·kw + kx] = bias[oc] + col[(oc, ky, kx)][(iy, ix)]
bool conv_transpose(const onnx_ref::OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &x = c.in(0), &w = c.in(1);
  if (!x.is_float() || !w.is_float() || x.shape.size() != 4 || w.shape.size() != 4) return false;
  const int64_t n = x.shape[0], cin = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t cout = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  if (w.shape[0] != cin || c.attr_int("group", 1) != 1 || c.attr_string("auto_pad", "NOTSET") != "NOTSET") return false;
  if (c.attr_ints("strides", {1, 1}) != std::vector<int64_t>{kh, kw} || c.attr_ints("dilations", {1, 1}) != std::vector<int64_t>{1, 1} ||
      c.attr_ints("pads", {0, 0, 0, 0}) != std::vector<int64_t>{0, 0, 0, 0} ||
      c.attr_ints("output_padding", {0, 0}) != std::vector<int64_t>{0, 0} || c.has_attr("output_shape") ||
      c.attr_ints("kernel_shape", {kh, kw}) != std::vector<int64_t>{kh, kw})
    return false;
  const float* bias = nullptr;
  if (c.has(2)) {
    if (!c.in(2).is_float() || c.in(2).numel() != cout) return false;
    bias = c.in(2).floats.data();
  }
  const int64_t oh = h * kh, ow = wd * kw, pixels = h * wd, rows = cout * kh * kw;
  OnnxValue out = onnx_ref::make_output(x.type, {n, cout, oh, ow});
  std::vector<float> col(static_cast<std::size_t>(rows * pixels));
  for (int64_t b = 0; b < n; ++b) {
    GemmArgs g;
    g.m = rows, g.n = pixels, g.k = cin;
    g.a = w.floats.data(), g.a_row = 1, g.a_col = rows;  // A[(oc, ky, kx)][ic] = W[ic][(oc, ky, kx)]
    g.b = x.floats.data() + b * cin * pixels, g.b_row = pixels;
    g.c = col.data(), g.ldc = pixels;
    gemm_f32(g);
    float* y = out.floats.data() + b * cout * oh * ow;
    // Output row (oc, iy·kh + ky) interleaves the kw GEMM rows (oc, ky, kx): written in order,
    // read from kw streams.
#pragma omp parallel for if (rows * pixels > 65536)
    for (int64_t oc = 0; oc < cout; ++oc)
      for (int64_t ky = 0; ky < kh; ++ky) {
        const float* src = col.data() + (oc * kh + ky) * kw * pixels;
        const float add = bias ? bias[oc] : 0.0f;
        for (int64_t iy = 0; iy < h; ++iy) {
          float* row = y + (oc * oh + iy * kh + ky) * ow;
          const float* s = src + iy * wd;
          if (kw == 2) {
            for (int64_t ix = 0; ix < wd; ++ix) row[2 * ix] = s[ix] + add, row[2 * ix + 1] = s[pixels + ix] + add;
          } else {
            for (int64_t ix = 0; ix < wd; ++ix)
              for (int64_t kx = 0; kx < kw; ++kx) row[ix * kw + kx] = s[kx * pixels + ix] + add;
          }
        }
      }
  }
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

}  // namespace

void add_fast_conv_ops(FastTable& t) {
  t["Conv"] = conv;
  t["ConvTranspose"] = conv_transpose;
}

}  // namespace microsr::onnx_fast
