#include "timed_backend.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <type_traits>

#include "microsr/error.h"

namespace microsr {

namespace {

// "4×64×400×300"
std::string dims(const Tensor& t) {
  std::string s;
  for (int i = 0; i < t.rank(); ++i) s += (i ? "×" : "") + std::to_string(t.dim(i));
  return s.empty() ? "scalar" : s;
}

// "4×64×400×300 → 32, k3" and 2 · N·H·W·Cin·Cout·k² for y = conv(x, w[Cout][Cin][k][k]).
std::string conv_shape(const Tensor& x, const Tensor& w) {
  return dims(x) + " → " + std::to_string(w.dim(0)) + ", k" + std::to_string(w.dim(2));
}
double conv_flops(const Tensor& x, const Tensor& w) {
  return 2.0 * double(x.dim(0)) * double(x.dim(2)) * double(x.dim(3)) * double(w.dim(1)) * double(w.dim(0)) *
         double(w.dim(2)) * double(w.dim(3));
}

}  // namespace

template <typename Fn>
auto TimedBackend::timed(const char* op, const std::string& shape, double flops, Fn&& fn) {
  if (!timing_) return fn();
  synchronize_device(inner_);  // what was queued before is not this op's
  const auto start = std::chrono::steady_clock::now();
  const auto record = [&] {
    synchronize_device(inner_);
    LayerTime& t = times_[{op, shape}];
    ++t.calls;
    t.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    t.flops += flops;
  };
  if constexpr (std::is_void_v<std::invoke_result_t<Fn>>) {
    fn();
    record();
  } else {
    auto result = fn();
    // A fused op the inner backend does not have returns nothing: the caller runs the parts,
    // which are timed on their own.
    if constexpr (std::is_same_v<decltype(result), Tensor>)
      if (!result.defined()) return result;
    record();
    return result;
  }
}

std::vector<LayerTime> TimedBackend::table() const {
  std::vector<LayerTime> rows;
  for (const auto& [key, t] : times_) {
    rows.push_back(t);
    rows.back().op = key.first, rows.back().shape = key.second;
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const LayerTime& a, const LayerTime& b) { return a.seconds > b.seconds; });
  return rows;
}

void TimedBackend::write_csv(const std::string& path, int passes) const {
  require(passes >= 1, "write_csv: passes must be at least 1");
  std::vector<LayerTime> rows = table();
  for (LayerTime& r : rows) r.calls /= passes, r.seconds /= passes, r.flops /= passes;
  double total = 0;
  for (const LayerTime& r : rows) total += r.seconds;
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error("cannot write " + path);
  std::fprintf(f, "op,shape,calls,seconds,share,gflop,tflop_per_s\n");
  for (const LayerTime& r : rows)
    std::fprintf(f, "%s,\"%s\",%lld,%.6f,%.4f,%.3f,%.2f\n", r.op.c_str(), r.shape.c_str(), (long long)r.calls,
                 r.seconds, total > 0 ? r.seconds / total : 0.0, r.flops / 1e9,
                 r.seconds > 0 ? r.flops / r.seconds / 1e12 : 0.0);
  const bool failed = std::ferror(f) != 0;
  if (std::fclose(f) != 0 || failed) throw Error("cannot write " + path);
}

Tensor TimedBackend::to_device(const Tensor& host) {
  return timed("to_device", dims(host), 0, [&] { return inner_.to_device(host); });
}
Tensor TimedBackend::to_host(const Tensor& t) {
  return timed("to_host", dims(t), 0, [&] { return inner_.to_host(t); });
}
std::unique_ptr<PreparedConv> TimedBackend::prepare_conv(const Tensor& w, const Tensor& b) {
  return timed("prepare_conv", dims(w), 0, [&] { return inner_.prepare_conv(w, b); });
}
void TimedBackend::conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& opt) {
  timed("conv", conv_shape(x, w), conv_flops(x, w), [&] { inner_.conv2d(y, x, w, b, opt); });
}
void TimedBackend::scaled_add(Tensor& y, const Tensor& a, float s, const Tensor& b) {
  timed("scaled_add", dims(y), 0, [&] { inner_.scaled_add(y, a, s, b); });
}
void TimedBackend::upsample_nearest2x(Tensor& y, const Tensor& x) {
  timed("upsample_nearest2x", dims(y), 0, [&] { inner_.upsample_nearest2x(y, x); });
}
void TimedBackend::pixel_unshuffle(Tensor& y, const Tensor& x, int r) {
  timed("pixel_unshuffle", dims(y), 0, [&] { inner_.pixel_unshuffle(y, x, r); });
}
void TimedBackend::copy_channels(Tensor& y, int64_t c0, const Tensor& x) {
  timed("copy_channels", dims(x), 0, [&] { inner_.copy_channels(y, c0, x); });
}
Tensor TimedBackend::fused_dense_block(const Tensor& x, const PreparedConv* const convs[5], float slope,
                                       float residual_scale, const Tensor* skip) {
  return timed("fused_dense_block", dims(x), 0,
               [&] { return inner_.fused_dense_block(x, convs, slope, residual_scale, skip); });
}
Tensor TimedBackend::fused_upsample2x_conv(const Tensor& x, const ConvOptions& opt, const ConvOptions* then) {
  return timed(then ? "fused_upsample2x_conv_pair" : "fused_upsample2x_conv", dims(x), 0,
               [&] { return inner_.fused_upsample2x_conv(x, opt, then); });
}

void TimedBackend::conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, bool accumulate) {
  timed("conv_backward_data", conv_shape(dx, w), conv_flops(dx, w),
        [&] { inner_.conv2d_backward_data(dx, dy, w, accumulate); });
}
void TimedBackend::conv2d_backward_weight(Tensor& dw, Tensor& db, const Tensor& x, const Tensor& dy) {
  timed("conv_backward_weight", conv_shape(x, dw), conv_flops(x, dw),
        [&] { inner_.conv2d_backward_weight(dw, db, x, dy); });
}
void TimedBackend::leaky_relu_backward(Tensor& dz, const Tensor& dy, const Tensor& y, float slope) {
  timed("leaky_relu_backward", dims(dz), 0, [&] { inner_.leaky_relu_backward(dz, dy, y, slope); });
}
void TimedBackend::upsample_nearest2x_backward(Tensor& dx, const Tensor& dy) {
  timed("upsample_nearest2x_backward", dims(dx), 0, [&] { inner_.upsample_nearest2x_backward(dx, dy); });
}
void TimedBackend::pixel_shuffle(Tensor& y, const Tensor& x, int r) {
  timed("pixel_shuffle", dims(y), 0, [&] { inner_.pixel_shuffle(y, x, r); });
}
double TimedBackend::l1_loss(Tensor* dpred, const Tensor& pred, const Tensor& target) {
  return timed("l1_loss", dims(pred), 0, [&] { return inner_.l1_loss(dpred, pred, target); });
}
double TimedBackend::sum_squares(const Tensor& t) {
  return timed("sum_squares", dims(t), 0, [&] { return inner_.sum_squares(t); });
}
void TimedBackend::fill(Tensor& t, float value) {
  timed("fill", dims(t), 0, [&] { inner_.fill(t, value); });
}
void TimedBackend::scale(Tensor& t, float s) {
  timed("scale", dims(t), 0, [&] { inner_.scale(t, s); });
}
void TimedBackend::adam_step(Tensor& param, Tensor& m, Tensor& v, const Tensor& grad, const AdamStep& step) {
  timed("adam_step", dims(param), 0, [&] { inner_.adam_step(param, m, v, grad, step); });
}
void TimedBackend::ema_update(Tensor& ema, const Tensor& param, double decay) {
  timed("ema_update", dims(param), 0, [&] { inner_.ema_update(ema, param, decay); });
}

}  // namespace microsr
