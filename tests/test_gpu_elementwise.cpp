// CUDA elementwise kernels against the CPU reference loops (kernels/cpu/ref), on odd shapes.
// Skips with "no CUDA device" where there is none (CTest label gpu: tests named Gpu*).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "microsr/backend.h"

#ifdef MICROSR_WITH_CUDA
#include <cuda_runtime.h>

#include "cuda/elementwise.h"

namespace {

std::vector<float> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

// A device copy of `host` that frees itself.
struct DeviceBuffer {
  float* ptr = nullptr;
  std::size_t n = 0;
  explicit DeviceBuffer(std::size_t count) : n(count) { EXPECT_EQ(cudaMalloc(&ptr, n * 4), cudaSuccess); }
  explicit DeviceBuffer(const std::vector<float>& host) : DeviceBuffer(host.size()) {
    EXPECT_EQ(cudaMemcpy(ptr, host.data(), n * 4, cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  std::vector<float> download() const {
    std::vector<float> h(n);
    EXPECT_EQ(cudaMemcpy(h.data(), ptr, n * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
  }
};

#define SKIP_WITHOUT_GPU()                                \
  do {                                                    \
    std::string why;                                      \
    if (!microsr::cuda_available(&why)) GTEST_SKIP() << why; \
  } while (0)

TEST(GpuElementwise, MatchesCpuReference) {
  SKIP_WITHOUT_GPU();
  using namespace microsr;
  const int c = 5, h = 12, w = 20;  // h, w divisible by r = 2 and 4
  const std::size_t n = std::size_t(c) * h * w;
  const auto a = random_vector(n, 1), b = random_vector(n, 2);
  DeviceBuffer da(a), db(b);

  DeviceBuffer dy(n);
  ASSERT_EQ(cuda::scaled_add(dy.ptr, da.ptr, 0.2f, db.ptr, n, nullptr), cudaSuccess);
  std::vector<float> ref(n);
  kernels::scaled_add_ref(ref.data(), a.data(), 0.2f, b.data(), n);
  // nvcc contracts a·s + b into one fma, the CPU rounds twice: allow a few ulp.
  const auto got = dy.download();
  for (std::size_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], ref[i], 1e-6f * (1 + std::abs(ref[i]))) << i;

  ASSERT_EQ(cuda::leaky_relu(dy.ptr, da.ptr, 0.2f, n, nullptr), cudaSuccess);
  kernels::leaky_relu_ref(ref.data(), a.data(), 0.2f, n);
  EXPECT_EQ(dy.download(), ref);

  DeviceBuffer dup(n * 4);
  ASSERT_EQ(cuda::upsample_nearest2x(dup.ptr, da.ptr, c, h, w, nullptr), cudaSuccess);
  std::vector<float> up(n * 4);
  kernels::upsample_nearest2x_ref(up.data(), a.data(), c, h, w);
  EXPECT_EQ(dup.download(), up);

  for (int r : {2, 4}) {
    ASSERT_EQ(cuda::pixel_unshuffle(dy.ptr, da.ptr, c, h, w, r, nullptr), cudaSuccess);
    kernels::pixel_unshuffle_ref(ref.data(), a.data(), c, h, w, r);
    EXPECT_EQ(dy.download(), ref) << "r = " << r;
  }
}

}  // namespace
#else
TEST(GpuElementwise, MatchesCpuReference) { GTEST_SKIP() << "built without the CUDA backend"; }
#endif
