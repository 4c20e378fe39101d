// CpuOptions belong to one CPU backend instance: thread counts and convolution variants of two
// backends do not leak into each other or into OpenMP's process-wide default.
#include <gtest/gtest.h>
#include <omp.h>

#include <string>

#include "cpu/threads.h"
#include "microsr/backend.h"
#include "test_helpers.h"

namespace microsr {
namespace {

TEST(CpuOptions, ThreadCountsArePerInstanceAndLeaveOpenMPsDefault) {
  const int default_threads = omp_get_max_threads();
  CpuOptions one, two;
  one.threads = 1;
  two.threads = 3;
  auto a = make_cpu_backend(one);
  auto b = make_cpu_backend(two);
  EXPECT_EQ(omp_get_max_threads(), default_threads);
  EXPECT_NE(a->name().find("(1 threads"), std::string::npos) << a->name();
  EXPECT_NE(b->name().find("(3 threads"), std::string::npos) << b->name();
  // An operation runs under the instance's count and leaves no count behind.
  Tensor t = a->empty({1, 1, 4, 4});
  a->fill(t, 1.0f);
  EXPECT_EQ(kernels::team_size(), default_threads);
  EXPECT_EQ(omp_get_max_threads(), default_threads);
}

TEST(CpuOptions, ThreadCountScopesNestAndRestore) {
  const int default_threads = omp_get_max_threads();
  {
    const kernels::ThreadCount outer(2);
    EXPECT_EQ(kernels::team_size(), 2);
    {
      const kernels::ThreadCount inner(1);
      EXPECT_EQ(kernels::team_size(), 1);
    }
    EXPECT_EQ(kernels::team_size(), 2);
  }
  EXPECT_EQ(kernels::team_size(), default_threads);
}

TEST(CpuOptions, ConvVariantIsPerInstance) {
  CpuOptions v1;
  v1.conv = "conv_v1_direct";
  auto named = make_cpu_backend(v1);
  auto packed = make_cpu_backend();
  EXPECT_NE(named->name().find("conv conv_v1_direct"), std::string::npos) << named->name();
  EXPECT_NE(packed->name().find("conv packed"), std::string::npos) << packed->name();
}

TEST(CpuOptions, UnknownConvVariantThrowsNamingTheKnownOnes) {
  CpuOptions bad;
  bad.conv = "conv_v999";
  microsr::testing::expect_error([&] { make_cpu_backend(bad); }, "conv_v1_direct");
}

}  // namespace
}  // namespace microsr
