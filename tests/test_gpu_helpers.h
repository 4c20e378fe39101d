// Shared by the GPU tests (tests/test_gpu_*.cpp): the skip without a device, random tensors,
// and running one op on both backends.
//
// Every Gpu* test compares the CUDA backend with the CPU backend — the reference, itself tested
// against PyTorch — through the Backend interface, on odd shapes (13×7, 67 channels, batch 2,
// channel slices), printing the worst element on failure.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>

#include "microsr/backend.h"
#include "test_helpers.h"

// Skips the test, saying "no CUDA device" and why, when this build or machine has none.
#define SKIP_WITHOUT_CUDA_DEVICE()                                                     \
  do {                                                                                 \
    std::string why_;                                                                  \
    if (!::microsr::cuda_available(&why_)) GTEST_SKIP() << "no CUDA device: " << why_; \
  } while (0)

namespace microsr::gpu_testing {

// Uniform in [lo, hi), fixed seed.
inline Tensor random_tensor(const Shape& shape, unsigned seed, float lo = -1.f, float hi = 1.f) {
  Tensor t = Tensor::empty(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = u(rng);
  return t;
}

inline std::unique_ptr<Backend> cuda_backend(Precision precision = Precision::fp32,
                                             const std::string& conv = "legacy_find", bool graphs = true) {
  CudaOptions o;
  o.precision = precision;
  o.conv = conv;
  o.graphs = graphs;
  o.sync_each_op = true;  // a failure names the op that caused it
  return make_cuda_backend(0, o);
}

// max |a − b| and the RMS of a − b, over equal shapes.
struct Error2 {
  double max_abs = 0, rms = 0;
};
inline Error2 difference(const Tensor& a, const Tensor& b) {
  Error2 e;
  double sum = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::abs(double(a.f32()[i]) - double(b.f32()[i]));
    e.max_abs = std::max(e.max_abs, std::isnan(d) ? INFINITY : d);
    sum += d * d;
  }
  e.rms = a.numel() ? std::sqrt(sum / double(a.numel())) : 0;
  return e;
}

// PSNR in dB of `got` against `ref`, both clamped to [0, 1] first (as an image is written).
inline double psnr(const Tensor& got, const Tensor& ref) {
  double sum = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double d = std::clamp(double(got.f32()[i]), 0.0, 1.0) - std::clamp(double(ref.f32()[i]), 0.0, 1.0);
    sum += d * d;
  }
  const double mse = sum / double(got.numel());
  return mse > 0 ? 10 * std::log10(1.0 / mse) : 200.0;
}

}  // namespace microsr::gpu_testing
