// Shared by the fused dense-block tests (tests/test_conv_dense_block.cpp: fp32,
// tests/test_conv_bf16_winograd.cpp: bf16 conv_v10, tests/test_conv_fp16.cpp: fp16 storage): the
// block's layers and its definition as five convolutions; the fused block must give the same bits
// as the five separate convolutions for every band height of its wavefront and every thread count.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/conv/common.h"
#include "cpu/conv/variants.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"
#include "test_helpers.h"

namespace microsr::kernels::testing_dense {

// conv1..conv5 of one dense block (nf + j g -> g, conv5 -> nf), weights and biases in [-0.1, 0.1],
// packed in format(cin, cout, 3), or without one in the format the active instruction set runs
// fastest.
struct Block {
  int nf, g;
  std::vector<std::vector<float>> weights, biases;
  std::vector<PackedConvWeights> packed;

  Block(int nf_, int g_, unsigned seed, ConvWeightFormat (*format)(int, int, int) = nullptr) : nf(nf_), g(g_) {
    for (int j = 0; j < 5; ++j) {
      const int cin = nf + j * g, cout = j < 4 ? g : nf;
      weights.push_back(microsr::testing::random_values(static_cast<size_t>(cout) * cin * 9, seed++, -0.1f, 0.1f));
      biases.push_back(microsr::testing::random_values(cout, seed++, -0.1f, 0.1f));
      packed.push_back(format
                           ? pack_conv_weights(weights[j].data(), biases[j].data(), cin, cout, 3, format(cin, cout, 3))
                           : pack_conv_weights(weights[j].data(), biases[j].data(), cin, cout, 3));
    }
  }
  void pointers(const PackedConvWeights* convs[5]) const {
    for (int j = 0; j < 5; ++j) convs[j] = &packed[j];
  }
  // The block as five convolutions on the concatenation [x, x1 .. x4]; conv(y, x, j, epi) runs
  // layer j. stored(p, n) is applied to x's copy and to each x_j as it is made (fp16 storage
  // rounds them there); the residual is x itself.
  template <class Conv, class Stored>
  std::vector<float> five_convs(const std::vector<float>& x, int h, int w, Conv conv, Stored stored) const {
    const int64_t pixels = static_cast<int64_t>(h) * w;
    std::vector<float> dense((nf + 4 * g) * pixels), out(nf * pixels);
    std::copy(x.begin(), x.end(), dense.begin());
    stored(dense.data(), nf * pixels);
    ConvEpilogue act;
    act.has_lrelu = true, act.lrelu_slope = 0.2f;
    for (int j = 0; j < 4; ++j) {
      float* xj = dense.data() + (nf + j * g) * pixels;
      conv(xj, dense.data(), j, act);
      stored(xj, g * pixels);
    }
    ConvEpilogue residual;
    residual.scale = 0.2f, residual.residual = x.data();
    conv(out.data(), dense.data(), 4, residual);
    return out;
  }
  template <class Conv>
  std::vector<float> five_convs(const std::vector<float>& x, int h, int w, Conv conv) const {
    return five_convs(x, h, w, conv, [](float*, int64_t) {});
  }
};

// The instruction sets from avx2 up with a dense-block kernel that this machine runs.
inline std::vector<CpuIsa> avx2_and_avx512_isas() {
  std::vector<CpuIsa> isas;
  for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (isa <= detected_cpu_isa()) isas.push_back(isa);
  return isas;
}

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
