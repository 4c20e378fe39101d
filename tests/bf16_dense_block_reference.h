// Shared by the bf16 tests (tests/test_conv_bf16.cpp, tests/test_conv_bf16_winograd.cpp): a scope
// that selects a bf16 kernel; an RRDB dense block's five random 3x3 layers, packed for the bf16
// kernel selected now; and the block computed as five separate conv2d_bf16_packed calls on an fp32
// concatenation [x, x1..x4] (what rrdbnet.cpp's rdb runs when nothing is fused): the reference the
// fused forms must equal bit for bit.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/conv/bf16.h"
#include "test_helpers.h"

namespace microsr::kernels::testing_bf16 {

// Runs the bf16 kernel `name` (conv_bf16_kernels()) while it lives, then the default again.
struct Bf16KernelScope {
  explicit Bf16KernelScope(const std::string& name) { select_conv_bf16_kernel(name); }
  ~Bf16KernelScope() { select_conv_bf16_kernel(""); }
};

struct DenseBlockLayers {
  int nf = 0, g = 0;
  std::vector<PackedBf16ConvWeights> layers;  // conv1..conv5: nf + j g -> g (conv5: -> nf)

  // Weights and biases uniform in [-0.1, 0.1], from seeds seed, seed + 1, ... (seed is advanced).
  DenseBlockLayers(int nf_, int g_, unsigned& seed) : nf(nf_), g(g_) {
    for (int j = 0; j < 5; ++j) {
      const int cin = nf + j * g, cout = j < 4 ? g : nf;
      const auto w = microsr::testing::random_values(static_cast<size_t>(cout) * cin * 9, seed++, -0.1f, 0.1f);
      const auto bias = microsr::testing::random_values(cout, seed++, -0.1f, 0.1f);
      layers.push_back(pack_conv_weights_bf16(w.data(), bias.data(), cin, cout, 3));
    }
  }
  // The five layers as conv2d_bf16_dense_block takes them (valid while this object lives).
  void pointers(const PackedBf16ConvWeights* convs[5]) const {
    for (int j = 0; j < 5; ++j) convs[j] = &layers[j];
  }
  // out [nf][h][w] = x + 0.2 conv5([x, x1..x4]), x_j = LeakyReLU_0.2(conv_j(...)), as five calls.
  std::vector<float> five_convs(const std::vector<float>& x, int h, int w) const {
    const int64_t pixels = static_cast<int64_t>(h) * w;
    std::vector<float> dense((nf + 4 * g) * pixels), out(nf * pixels);
    std::copy(x.begin(), x.end(), dense.begin());
    ConvEpilogue act;
    act.has_lrelu = true, act.lrelu_slope = 0.2f;
    for (int j = 0; j < 4; ++j)
      conv2d_bf16_packed(dense.data() + (nf + j * g) * pixels, dense.data(), layers[j], h, w, act);
    ConvEpilogue residual;
    residual.scale = 0.2f, residual.residual = x.data();
    conv2d_bf16_packed(out.data(), dense.data(), layers[4], h, w, residual);
    return out;
  }
};

}  // namespace microsr::kernels::testing_bf16
