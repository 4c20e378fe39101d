// Shared by the fused dense-block tests (tests/test_conv_dense_block.cpp: fp32,
// tests/test_conv_bf16_winograd.cpp: bf16 conv_v10): the fused block must give the same bits as
// the five separate convolutions for every band height of its wavefront and every thread count.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cpu/conv/common.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"

namespace microsr::kernels::testing_dense {

// run_fused(out, skip_or_null) runs the fused block into out [expected.size()], with the RRDB's
// skip residual when given; `expected` is the five convolutions' output, expected + 0.2 skip the
// skip form's. Checked under forced band heights 1, 2 and 5 (a last band shorter than the others;
// more bands than the image has) and 1 to 3 threads (each thread reads back only what it wrote).
template <class RunFused>
void expect_same_bits_for_every_band_height(const std::string& what, const std::vector<float>& expected,
                                            const std::vector<float>& skip, RunFused run_fused) {
  const int64_t n = static_cast<int64_t>(expected.size());
  std::vector<float> expected_skip(n);
  scaled_add_ref(expected_skip.data(), expected.data(), 0.2f, skip.data(), n);
  for (int band_rows : {1, 2, 5})
    for (int threads : {1, 2, 3}) {
      SCOPED_TRACE(what + ", band rows " + std::to_string(band_rows) + ", " + std::to_string(threads) + " threads");
      detail::force_dense_block_band_rows(band_rows);
      const ThreadCount team(threads);
      std::vector<float> fused(n), fused_skip(n);
      run_fused(fused.data(), nullptr);
      run_fused(fused_skip.data(), skip.data());
      detail::force_dense_block_band_rows(0);
      int64_t differing = 0;
      for (int64_t i = 0; i < n; ++i) differing += (fused[i] != expected[i]) + (fused_skip[i] != expected_skip[i]);
      EXPECT_EQ(differing, 0);
    }
}

}  // namespace microsr::kernels::testing_dense
