// The AVX2 matrix product of the ONNX runtime against its plain-loop oracle, on odd shapes that
// exercise the 4×16 blocks and every ragged edge.
#include <gtest/gtest.h>

#include <cmath>

#include "cpu/onnx/matmul_fast.h"
#include "test_helpers.h"

namespace microsr {
namespace {

TEST(OnnxMatmulFast, MatchesTheReferenceOnOddShapes) {
  const int64_t shapes[][3] = {{1, 1, 1}, {4, 16, 1}, {13, 7, 5}, {5, 17, 33}, {64, 64, 64}, {127, 33, 70}, {3, 100, 9}, {4, 32, 200}};
  unsigned seed = 1;
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    const std::vector<float> a = testing::random_values(m * k, seed++), b = testing::random_values(k * n, seed++);
    std::vector<float> fast(m * n, NAN), ref(m * n);
    onnx_fast::matmul_f32(fast.data(), a.data(), b.data(), m, n, k);
    onnx_fast::matmul_f32_ref(ref.data(), a.data(), b.data(), m, n, k);
    double worst = 0;
    int64_t at = -1;
    for (int64_t i = 0; i < m * n; ++i)
      if (!(std::fabs(fast[i] - ref[i]) <= worst)) worst = std::fabs(fast[i] - ref[i]), at = i;
    // Each term is below 1 in magnitude: k · 1e-6 bounds the float rounding of either order.
    EXPECT_LE(worst, 1e-6 * k) << m << "x" << n << "x" << k << ": worst element #" << at << " is " << fast[at]
                               << ", expected " << ref[at];
  }
}

}  // namespace
}  // namespace microsr
