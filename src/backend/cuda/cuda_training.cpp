// The CUDA backend's training operations: the convolution's gradients through cuDNN
// (cudnn_backward.cpp), everything else through kernels/cuda (elementwise, resample, reduce,
// optim). Training runs in fp32; fp16 tensors are refused by the convolution gradients.
#include <cmath>

#include "cpu/cpu_kernels.h"
#include "cuda/elementwise.h"
#include "cuda/optim.h"
#include "cuda/reduce.h"
#include "cuda/resample.h"
#include "cuda_backend.h"

namespace microsr {

namespace {
void expect_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  require(a.shape() == b.shape(), std::string(what) + ": shapes differ, " + a.describe() + " vs " + b.describe());
}

// Both check the device too: a host pointer handed to a kernel is an illegal address, reported
// asynchronously at some later call.
void expect_dense_f32(const Tensor& t, Device device, const char* what) {
  require(t.defined() && t.dtype() == DType::f32 && t.is_contiguous() && t.device() == device,
          std::string(what) + ": expected a dense f32 tensor on " + device.str() + ", found " + t.describe());
}

cuda::View device_view(const Tensor& t, Device device, const char* what) {
  require(t.defined() && t.device() == device,
          std::string(what) + ": expected a tensor on " + device.str() + ", found " + t.describe());
  return view_of(t, what);
}
}  // namespace

void CudaBackend::conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, bool accumulate) {
  activate();
  const cuda::View dxv = device_view(dx, device(), "conv2d_backward_data dx"),
                   dyv = device_view(dy, device(), "conv2d_backward_data dy");
  require(w.rank() == 4 && w.dim(0) == dy.dim(1) && w.dim(1) == dx.dim(1) && w.dim(2) == w.dim(3) &&
              w.dim(2) % 2 == 1 && dx.dim(0) == dy.dim(0) && dx.dim(2) == dy.dim(2) && dx.dim(3) == dy.dim(3),
          "conv2d_backward_data: dx " + dx.describe() + ", dy " + dy.describe() + " and w " + w.describe() +
              " do not fit together");
  expect_dense_f32(w, device(), "conv2d_backward_data weight");
  backward_->data(dxv, dyv, w.data<float>(), int(w.dim(2)), accumulate);
  launched(cudaSuccess, [&] { return "conv2d_backward_data " + dy.describe() + " -> " + dx.describe(); });
}

void CudaBackend::conv2d_backward_weight(Tensor& dw, Tensor& db, const Tensor& x, const Tensor& dy) {
  activate();
  const cuda::View xv = device_view(x, device(), "conv2d_backward_weight x"),
                   dyv = device_view(dy, device(), "conv2d_backward_weight dy");
  require(dw.rank() == 4 && dw.dim(0) == dy.dim(1) && dw.dim(1) == x.dim(1) && dw.dim(2) == dw.dim(3) &&
              dw.dim(2) % 2 == 1 && x.dim(0) == dy.dim(0) && x.dim(2) == dy.dim(2) && x.dim(3) == dy.dim(3),
          "conv2d_backward_weight: dw " + dw.describe() + ", x " + x.describe() + " and dy " + dy.describe() +
              " do not fit together");
  expect_dense_f32(dw, device(), "conv2d_backward_weight dw");
  backward_->weight(dw.data<float>(), xv, dyv, int(dw.dim(2)));
  const auto what = [&] { return "conv2d_backward_weight x " + x.describe() + ", dy " + dy.describe(); };
  launched(cudaSuccess, what);
  if (db.defined()) {
    expect_dense_f32(db, device(), "conv2d_backward_weight db");
    require(db.numel() == dy.dim(1), "conv2d_backward_weight: db " + db.describe() + " does not fit " + dy.describe());
    launched(cuda::channel_sum_accumulate(db.data<float>(), dyv, stream_), what);
  }
}

void CudaBackend::leaky_relu_backward(Tensor& dz, const Tensor& dy, const Tensor& y, float slope) {
  activate();
  expect_same_shape(dz, dy, "leaky_relu_backward");
  expect_same_shape(dz, y, "leaky_relu_backward");
  launched(cuda::leaky_relu_backward_view(any_view(dz, "leaky_relu_backward"), any_view(dy, "leaky_relu_backward"),
                                          any_view(y, "leaky_relu_backward"), slope, stream_),
           [&] { return "leaky_relu_backward " + dy.describe(); });
}

void CudaBackend::upsample_nearest2x_backward(Tensor& dx, const Tensor& dy) {
  activate();
  require(dy.rank() == 4 && dx.shape() == Shape({dy.dim(0), dy.dim(1), dy.dim(2) / 2, dy.dim(3) / 2}) &&
              dy.dim(2) % 2 == 0 && dy.dim(3) % 2 == 0,
          "upsample_nearest2x_backward: dx " + dx.describe() + " is not half of dy " + dy.describe());
  launched(cuda::upsample_nearest2x_backward_view(device_view(dx, device(), "upsample backward"),
                                                  device_view(dy, device(), "upsample backward"), stream_),
           [&] { return "upsample_nearest2x_backward " + dy.describe(); });
}

void CudaBackend::pixel_shuffle(Tensor& y, const Tensor& x, int r) {
  activate();
  require(r >= 1 && x.rank() == 4 && x.dim(1) % (r * r) == 0 &&
              y.shape() == Shape({x.dim(0), x.dim(1) / (r * r), x.dim(2) * r, x.dim(3) * r}),
          "pixel_shuffle by " + std::to_string(r) + ": output " + y.describe() + " does not fit " + x.describe());
  launched(cuda::pixel_shuffle_view(device_view(y, device(), "pixel_shuffle output"),
                                    device_view(x, device(), "pixel_shuffle input"), r, stream_),
           [&] { return "pixel_shuffle " + x.describe() + " -> " + y.describe(); });
}

double CudaBackend::reduce(const char* what, const std::function<cudaError_t(double*, double*)>& launch) {
  // One buffer: [0] the result, [1 …] the per-block partial sums.
  DeviceScratch scratch(allocator_.get(), (cuda::kMaxPartials + 1) * sizeof(double), what);
  double* result = static_cast<double*>(scratch.ptr);
  launched(launch(result, result + 1), [&] { return std::string(what); });
  double host = 0;
  MICROSR_CUDA_CHECK(cudaMemcpyAsync(&host, result, sizeof host, cudaMemcpyDeviceToHost, stream_), what);
  synchronize(what);
  return host;
}

double CudaBackend::l1_loss(Tensor* dpred, const Tensor& pred, const Tensor& target) {
  activate();
  expect_same_shape(pred, target, "l1_loss");
  if (dpred) expect_same_shape(*dpred, pred, "l1_loss gradient");
  const int64_t count = pred.numel();
  require(count > 0, "l1_loss of an empty tensor " + pred.describe());
  const cuda::View pv = any_view(pred, "l1_loss"), tv = any_view(target, "l1_loss");
  const cuda::View gv = dpred ? any_view(*dpred, "l1_loss gradient") : cuda::View{};
  const float grad_scale = float(1.0 / double(count));
  const double sum = reduce("l1_loss", [&](double* result, double* partials) {
    return cuda::l1_view(result, partials, gv, pv, tv, grad_scale, stream_);
  });
  return sum / double(count);
}

double CudaBackend::sum_squares(const Tensor& t) {
  activate();
  const cuda::View v = any_view(t, "sum_squares");
  return reduce("sum_squares",
                [&](double* result, double* partials) { return cuda::sum_squares_view(result, partials, v, stream_); });
}

void CudaBackend::fill(Tensor& t, float value) {
  activate();
  launched(cuda::fill_view(any_view(t, "fill"), value, stream_), [&] { return "fill " + t.describe(); });
}

void CudaBackend::scale(Tensor& t, float s) {
  activate();
  launched(cuda::scale_view(any_view(t, "scale"), s, stream_), [&] { return "scale " + t.describe(); });
}

void CudaBackend::adam_step(Tensor& param, Tensor& m, Tensor& v, const Tensor& grad, const AdamStep& step) {
  activate();
  const Tensor* buffers[] = {&param, &m, &v, &grad};
  for (const Tensor* t : buffers) {
    expect_dense_f32(*t, device(), "adam_step");
    require(t->numel() == param.numel(),
            "adam_step: " + t->describe() + " does not match the parameters " + param.describe());
  }
  require(step.t >= 1, "adam_step: the step number t starts at 1, got " + std::to_string(step.t));
  require(step.beta1 >= 0 && step.beta1 < 1 && step.beta2 >= 0 && step.beta2 < 1,
          "adam_step: betas must lie in [0, 1), got " + std::to_string(step.beta1) + ", " + std::to_string(step.beta2));
  // The same scalars as the CPU (torch's order, hyperparameters read as the decimals written).
  const kernels::AdamScalars k = kernels::adam_scalars(step);
  const cuda::AdamScalars a{k.step_size,       k.correction2_sqrt, k.beta1, k.beta2,
                            k.one_minus_beta1, k.one_minus_beta2,  k.eps,   k.decay,
                            k.coupled_wd};
  launched(cuda::adam_step(param.data<float>(), m.data<float>(), v.data<float>(), grad.data<float>(), param.numel(), a,
                           stream_),
           [&] { return "adam_step " + param.describe(); });
}

void CudaBackend::ema_update(Tensor& ema, const Tensor& param, double decay) {
  activate();
  expect_dense_f32(ema, device(), "ema_update");
  expect_dense_f32(param, device(), "ema_update");
  require(ema.numel() == param.numel(), "ema_update: " + ema.describe() + " vs " + param.describe());
  // As the CPU: 1 − decay formed in double, then rounded.
  const float keep = static_cast<float>(decay), take = static_cast<float>(1.0 - decay);
  launched(cuda::ema_update(ema.data<float>(), param.data<float>(), keep, take, param.numel(), stream_),
           [&] { return "ema_update " + param.describe(); });
}

}  // namespace microsr
