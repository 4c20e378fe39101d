// The CUDA backend's inference ops besides the convolution — scaled_add, upsample_nearest2x,
// pixel_unshuffle, copy_channels, to_device/to_host — against the CPU backend, on odd shapes,
// batch 2 and channel slices, in fp32 (exact: these ops move or round exactly as the CPU does)
// and fp16 (NHWC half activations: within half's rounding, 2^-11 relative).
#include "test_gpu_helpers.h"

using namespace microsr;
using namespace microsr::gpu_testing;
using microsr::testing::expect_close;

namespace {

TEST(GpuOps, TransfersRoundTripExactly) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto gpu = cuda_backend();
  const Tensor x = random_tensor({2, 67, 13, 7}, 1);
  expect_close(gpu->to_host(gpu->to_device(x)), x, 0.0, "round trip");
  // A channel slice goes over as its own dense tensor.
  const Tensor slice = x.channel_slice(5, 9);
  expect_close(gpu->to_host(gpu->to_device(slice)), slice.clone(), 0.0, "slice round trip");
  // A device-side slice comes back dense too.
  const Tensor dx = gpu->to_device(x);
  expect_close(gpu->to_host(dx.channel_slice(60, 7)), x.channel_slice(60, 7).clone(), 0.0, "device slice");
}

TEST(GpuOps, ScaledAddMatchesCpuOnSlicesAndInPlace) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto cpu = make_cpu_backend();
  auto gpu = cuda_backend();
  const Tensor a = random_tensor({2, 67, 13, 7}, 2), b = random_tensor({2, 67, 13, 7}, 3);
  Tensor y_cpu = Tensor::empty(a.shape());
  cpu->scaled_add(y_cpu, a, 0.2f, b);
  Tensor y_gpu = gpu->empty(a.shape());
  gpu->scaled_add(y_gpu, gpu->to_device(a), 0.2f, gpu->to_device(b));
  expect_close(gpu->to_host(y_gpu), y_cpu, 0.0, "scaled_add");

  // y = y·s + b in place on channel slices of a 80-channel buffer (batch stride ≠ C·H·W).
  Tensor big_cpu = random_tensor({2, 80, 13, 7}, 4);
  Tensor big_gpu = gpu->to_device(big_cpu);
  Tensor s_cpu = big_cpu.channel_slice(3, 30), s_gpu = big_gpu.channel_slice(3, 30);
  const Tensor r_cpu = big_cpu.channel_slice(40, 30).clone();
  cpu->scaled_add(s_cpu, s_cpu, 0.2f, r_cpu);
  gpu->scaled_add(s_gpu, s_gpu, 0.2f, gpu->to_device(r_cpu));
  expect_close(gpu->to_host(big_gpu), big_cpu, 0.0, "in-place scaled_add on a slice, other channels untouched");
}

TEST(GpuOps, UpsampleUnshuffleCopyChannelsMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto cpu = make_cpu_backend();
  auto gpu = cuda_backend();
  const Tensor x = random_tensor({2, 67, 13, 7}, 5);
  Tensor up_cpu = Tensor::empty({2, 67, 26, 14});
  cpu->upsample_nearest2x(up_cpu, x);
  Tensor up_gpu = gpu->empty({2, 67, 26, 14});
  gpu->upsample_nearest2x(up_gpu, gpu->to_device(x));
  expect_close(gpu->to_host(up_gpu), up_cpu, 0.0, "upsample_nearest2x");

  for (int r : {2, 4}) {
    const Tensor img = random_tensor({2, 3, 12 * r / 2, 8 * r / 2}, 6 + r);
    const Shape out = {2, 3 * r * r, img.dim(2) / r, img.dim(3) / r};
    Tensor u_cpu = Tensor::empty(out);
    cpu->pixel_unshuffle(u_cpu, img, r);
    Tensor u_gpu = gpu->empty(out);
    gpu->pixel_unshuffle(u_gpu, gpu->to_device(img), r);
    expect_close(gpu->to_host(u_gpu), u_cpu, 0.0, "pixel_unshuffle r = " + std::to_string(r));
  }

  Tensor dense_cpu = random_tensor({2, 99, 13, 7}, 9);
  Tensor dense_gpu = gpu->to_device(dense_cpu);
  const Tensor part = random_tensor({2, 32, 13, 7}, 10);
  cpu->copy_channels(dense_cpu, 67, part);
  gpu->copy_channels(dense_gpu, 67, gpu->to_device(part));
  expect_close(gpu->to_host(dense_gpu), dense_cpu, 0.0, "copy_channels at 67");
}

// fp16: empty() gives NHWC half activations (≥ 8 channels); the ops read and write them through
// the same interface and to_host returns NCHW float.
TEST(GpuOps, Fp16ActivationsAreNhwcHalfAndOpsMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto cpu = make_cpu_backend();
  auto gpu = cuda_backend(Precision::fp16);
  const Tensor a = random_tensor({2, 67, 13, 7}, 11), b = random_tensor({2, 67, 13, 7}, 12);
  Tensor ha = gpu->empty(a.shape()), hb = gpu->empty(b.shape());
  EXPECT_EQ(ha.dtype(), DType::f16);
  EXPECT_EQ(ha.layout(), Layout::nhwc);
  EXPECT_EQ(gpu->empty({1, 3, 5, 5}).dtype(), DType::f32) << "images stay float";
  gpu->copy_channels(ha, 0, gpu->to_device(a));  // f32 NCHW → f16 NHWC
  gpu->copy_channels(hb, 0, gpu->to_device(b));
  const double half_ulp = 1.0 / 2048;  // relative rounding of a value in [-1, 1] to half
  expect_close(gpu->to_host(ha), a, half_ulp, "NCHW f32 → NHWC f16 → NCHW f32");

  Tensor y_cpu = Tensor::empty(a.shape());
  cpu->scaled_add(y_cpu, a, 0.2f, b);
  Tensor y_gpu = gpu->empty(a.shape());
  gpu->scaled_add(y_gpu, ha, 0.2f, hb);
  expect_close(gpu->to_host(y_gpu), y_cpu, 3 * half_ulp, "fp16 scaled_add");

  Tensor up_cpu = Tensor::empty({2, 67, 26, 14});
  cpu->upsample_nearest2x(up_cpu, a);
  Tensor up_gpu = gpu->empty({2, 67, 26, 14});
  gpu->upsample_nearest2x(up_gpu, ha);
  expect_close(gpu->to_host(up_gpu), up_cpu, half_ulp, "fp16 upsample");

  // The dense block's pattern: NHWC slices of one buffer, written and read per channel range.
  Tensor dense = gpu->empty({2, 99, 13, 7});
  gpu->copy_channels(dense, 0, ha);
  gpu->copy_channels(dense, 67, gpu->to_device(b.channel_slice(0, 32)));
  Tensor slice = dense.channel_slice(60, 20);  // crosses the boundary between the two parts
  Tensor expected = Tensor::empty({2, 20, 13, 7});
  cpu->copy_channels(expected, 0, a.channel_slice(60, 7).clone());
  cpu->copy_channels(expected, 7, b.channel_slice(0, 13).clone());
  expect_close(gpu->to_host(slice), expected, half_ulp, "NHWC channel slice");
}

}  // namespace
