// The CUDA backend's training ops besides the convolution gradients against the CPU backend:
// LeakyReLU and upsample gradients, pixel_shuffle, L1 loss (+ gradient), Σ t², fill, scale,
// Adam(W) and the weight EMA. Odd shapes, batch 2, channel slices where the interface allows.
// Tolerances: data movement exact; reductions (double accumulation on both sides, different
// order) 1e-9 relative; Adam and EMA 1e-6 absolute — both backends use the same scalars
// (kernels::adam_scalars) and round each operation, but the CPU's AVX2 loop may fuse a
// multiply-add: a few float roundings on O(1) values.
#include "test_gpu_helpers.h"

using namespace microsr;
using namespace microsr::gpu_testing;
using microsr::testing::expect_close;

namespace {

TEST(GpuTraining, LeakyReluBackwardUpsampleBackwardPixelShuffle) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto cpu = make_cpu_backend();
  auto gpu = cuda_backend();
  const Tensor y = random_tensor({2, 67, 13, 7}, 61), dy = random_tensor({2, 67, 13, 7}, 62);
  Tensor dz_cpu = Tensor::empty(y.shape());
  cpu->leaky_relu_backward(dz_cpu, dy, y, 0.2f);
  Tensor dz_gpu = gpu->to_device(dy);  // in place: dz aliases dy
  gpu->leaky_relu_backward(dz_gpu, dz_gpu, gpu->to_device(y), 0.2f);
  expect_close(gpu->to_host(dz_gpu), dz_cpu, 0.0, "leaky_relu_backward in place");

  const Tensor up = random_tensor({2, 67, 26, 14}, 63);
  Tensor dx_cpu = Tensor::empty({2, 67, 13, 7});
  cpu->upsample_nearest2x_backward(dx_cpu, up);
  Tensor dx_gpu = gpu->empty({2, 67, 13, 7});
  gpu->upsample_nearest2x_backward(dx_gpu, gpu->to_device(up));
  expect_close(gpu->to_host(dx_gpu), dx_cpu, 1e-6, "upsample_nearest2x_backward");

  for (int r : {2, 4}) {
    const Tensor x = random_tensor({2, 3 * r * r, 5, 3}, 64 + r);
    const Shape out = {2, 3, 5 * r, 3 * r};
    Tensor s_cpu = Tensor::empty(out), s_gpu = gpu->empty(out);
    cpu->pixel_shuffle(s_cpu, x, r);
    gpu->pixel_shuffle(s_gpu, gpu->to_device(x), r);
    expect_close(gpu->to_host(s_gpu), s_cpu, 0.0, "pixel_shuffle r = " + std::to_string(r));
  }
}

TEST(GpuTraining, L1LossSumSquaresFillScale) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto cpu = make_cpu_backend();
  auto gpu = cuda_backend();
  const Tensor pred = random_tensor({2, 3, 13, 7}, 71);
  Tensor target = random_tensor({2, 3, 13, 7}, 72);
  target.f32()[5] = pred.f32()[5];  // one exact tie: its gradient is 0
  Tensor g_cpu = Tensor::empty(pred.shape()), g_gpu = gpu->empty(pred.shape());
  const double l_cpu = cpu->l1_loss(&g_cpu, pred, target);
  const double l_gpu = gpu->l1_loss(&g_gpu, gpu->to_device(pred), gpu->to_device(target));
  EXPECT_NEAR(l_gpu, l_cpu, 1e-9 * l_cpu);
  expect_close(gpu->to_host(g_gpu), g_cpu, 1e-9, "l1 gradient");
  EXPECT_EQ(gpu->to_host(g_gpu).f32()[5], 0.f);
  EXPECT_NEAR(gpu->l1_loss(nullptr, gpu->to_device(pred), gpu->to_device(target)), l_cpu, 1e-9 * l_cpu);

  const Tensor t = random_tensor({1000003}, 73);  // flat, not a multiple of any block size
  const double ss = cpu->sum_squares(t);
  EXPECT_NEAR(gpu->sum_squares(gpu->to_device(t)), ss, 1e-9 * ss);
  const Tensor img = random_tensor({2, 40, 13, 7}, 74);
  const double ss_slice = cpu->sum_squares(img.channel_slice(3, 20));
  EXPECT_NEAR(gpu->sum_squares(gpu->to_device(img).channel_slice(3, 20)), ss_slice, 1e-9 * ss_slice);

  Tensor f_cpu = random_tensor({2, 40, 13, 7}, 75);
  Tensor f_gpu = gpu->to_device(f_cpu);
  Tensor s_cpu = f_cpu.channel_slice(10, 5), s_gpu = f_gpu.channel_slice(10, 5);
  cpu->fill(s_cpu, 0.25f);
  gpu->fill(s_gpu, 0.25f);
  Tensor s2_cpu = f_cpu.channel_slice(20, 7), s2_gpu = f_gpu.channel_slice(20, 7);
  cpu->scale(s2_cpu, -1.5f);
  gpu->scale(s2_gpu, -1.5f);
  expect_close(gpu->to_host(f_gpu), f_cpu, 0.0, "fill and scale on slices");
}

TEST(GpuTraining, AdamAndEmaMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto cpu = make_cpu_backend();
  auto gpu = cuda_backend();
  for (bool decoupled : {false, true}) {
    Tensor p_cpu = random_tensor({4099}, 81), m_cpu = random_tensor({4099}, 82, 0.f, 0.1f);
    Tensor v_cpu = random_tensor({4099}, 83, 0.f, 0.01f);
    const Tensor g = random_tensor({4099}, 84);
    Tensor p_gpu = gpu->to_device(p_cpu), m_gpu = gpu->to_device(m_cpu), v_gpu = gpu->to_device(v_cpu);
    AdamStep step;
    step.lr = 1e-3f, step.weight_decay = 0.01f, step.decoupled = decoupled;
    for (int64_t t = 1; t <= 3; ++t) {
      step.t = t;
      cpu->adam_step(p_cpu, m_cpu, v_cpu, g, step);
      gpu->adam_step(p_gpu, m_gpu, v_gpu, gpu->to_device(g), step);
    }
    const std::string what = decoupled ? "AdamW" : "Adam";
    expect_close(gpu->to_host(p_gpu), p_cpu, 1e-6, what + " parameters");
    expect_close(gpu->to_host(m_gpu), m_cpu, 1e-6, what + " first moment");
    expect_close(gpu->to_host(v_gpu), v_cpu, 1e-7, what + " second moment");
  }
  Tensor e_cpu = random_tensor({4099}, 85);
  const Tensor p = random_tensor({4099}, 86);
  Tensor e_gpu = gpu->to_device(e_cpu);
  cpu->ema_update(e_cpu, p, 0.999);
  gpu->ema_update(e_gpu, gpu->to_device(p), 0.999);
  expect_close(gpu->to_host(e_gpu), e_cpu, 1e-6, "ema_update");
}

}  // namespace
