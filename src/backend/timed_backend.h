// A Backend that runs another and times each of its operations by kind and shape: where a forward
// pass or a training step spends its time, layer by layer, without a profiler (`microsr bench
// --layer-times FILE.csv`; tools/gpu_check.sh's profile step, beside Nsight Compute).
//
// While timing is on, the device is drained before and after every operation
// (synchronize_device on the inner backend) and the host clock reads the span between, so each
// operation's figure includes one launch and one wait: a few microseconds on a GPU, small beside a
// convolution at image sizes, not small at 32×32 training patches (read those as shares). While
// off, calls pass straight through (nothing waits). CUDA graphs are not used through it (it keeps
// Backend's plain run_replayable): a replay would hide the operations.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "microsr/backend.h"

namespace microsr {

struct LayerTime {
  std::string op;     // "conv", "conv_backward_data", "scaled_add", "fused_dense_block", ...
  std::string shape;  // "N×Cin×H×W → Cout, k3" for convolutions; the output's shape otherwise
  int64_t calls = 0;
  double seconds = 0;
  double flops = 0;  // 2 · multiply-adds, convolutions only (0 where the shapes do not say)
};

class TimedBackend : public Backend {
 public:
  explicit TimedBackend(Backend& inner) : inner_(inner) {}

  void set_timing(bool on) { timing_ = on; }
  void reset() { times_.clear(); }
  // Every (op, shape) seen while timing, the most time first.
  std::vector<LayerTime> table() const;
  // table() as CSV, per pass when `passes` passes were timed: op, shape, calls, seconds, share,
  // gflop, tflop_per_s.
  void write_csv(const std::string& path, int passes = 1) const;

  Device device() const override { return inner_.device(); }
  std::string name() const override { return inner_.name() + " (timed per op)"; }
  Tensor empty(const Shape& shape, DType dtype = DType::f32) override { return inner_.empty(shape, dtype); }
  Tensor to_device(const Tensor& host) override;
  Tensor to_host(const Tensor& t) override;
  std::unique_ptr<PreparedConv> prepare_conv(const Tensor& w, const Tensor& b) override;
  void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& opt) override;
  void scaled_add(Tensor& y, const Tensor& a, float s, const Tensor& b) override;
  void upsample_nearest2x(Tensor& y, const Tensor& x) override;
  void pixel_unshuffle(Tensor& y, const Tensor& x, int r) override;
  void copy_channels(Tensor& y, int64_t c0, const Tensor& x) override;
  Tensor fused_dense_block(const Tensor& x, const PreparedConv* const convs[5], float slope, float residual_scale,
                           const Tensor* skip) override;
  Tensor fused_upsample2x_conv(const Tensor& x, const ConvOptions& opt, const ConvOptions* then) override;

  void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, bool accumulate) override;
  void conv2d_backward_weight(Tensor& dw, Tensor& db, const Tensor& x, const Tensor& dy) override;
  void leaky_relu_backward(Tensor& dz, const Tensor& dy, const Tensor& y, float slope) override;
  void upsample_nearest2x_backward(Tensor& dx, const Tensor& dy) override;
  void pixel_shuffle(Tensor& y, const Tensor& x, int r) override;
  double l1_loss(Tensor* dpred, const Tensor& pred, const Tensor& target) override;
  double sum_squares(const Tensor& t) override;
  void fill(Tensor& t, float value) override;
  void scale(Tensor& t, float s) override;
  void adam_step(Tensor& param, Tensor& m, Tensor& v, const Tensor& grad, const AdamStep& step) override;
  void ema_update(Tensor& ema, const Tensor& param, double decay) override;

  int64_t memory_for_tiles() const override { return inner_.memory_for_tiles(); }
  int bytes_per_activation() const override { return inner_.bytes_per_activation(); }

 private:
  // Runs fn, timed under (op, shape) when timing is on.
  template <typename Fn>
  auto timed(const char* op, const std::string& shape, double flops, Fn&& fn);

  Backend& inner_;
  bool timing_ = false;
  // (op, shape) → calls, seconds and FLOPs summed (table() fills in op and shape from the key).
  std::map<std::pair<std::string, std::string>, LayerTime> times_;
};

}  // namespace microsr
