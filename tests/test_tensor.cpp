// Tensor runtime: shapes, views, channel slices, and the IEEE half conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "microsr/tensor.h"
#include "test_helpers.h"

using namespace microsr;

TEST(Tensor, ZerosHasShapeAndIsZero) {
  Tensor t = Tensor::zeros({2, 3, 4, 5});
  EXPECT_EQ(t.numel(), 120);
  EXPECT_EQ(t.bytes(), 480u);
  EXPECT_EQ(t.describe(), "f32[2, 3, 4, 5] on cpu");
  for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.f32()[i], 0.0f);
}

TEST(Tensor, ChannelSliceIsAViewWithTheParentsBatchStride) {
  Tensor t = Tensor::empty({2, 5, 3, 4});
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = float(i);
  Tensor s = t.channel_slice(1, 2);
  EXPECT_EQ(s.shape(), Shape({2, 2, 3, 4}));
  EXPECT_EQ(s.batch_stride(), 5 * 12);
  EXPECT_FALSE(s.is_contiguous());
  // image 1, channel 0 of the slice = image 1, channel 1 of the parent = element 60 + 12
  EXPECT_EQ(s.image(1)[0], 72.0f);
  s.image(0)[0] = -1.0f;  // writes go through to the parent
  EXPECT_EQ(t.f32()[12], -1.0f);
  Tensor c = s.clone();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.f32()[24], 72.0f);
  EXPECT_THROW(t.channel_slice(4, 2), Error);
  EXPECT_THROW(s.reshaped({48}), Error);
}

TEST(Tensor, ReshapeKeepsDataAndChecksCount) {
  Tensor t = Tensor::zeros({6});
  t.f32()[5] = 3.0f;
  Tensor r = t.reshaped({2, 3});
  EXPECT_EQ(r.f32()[5], 3.0f);
  EXPECT_THROW(t.reshaped({4}), Error);
}

TEST(Tensor, DtypeIsChecked) {
  Tensor h = Tensor::empty({4}, DType::f16);
  EXPECT_EQ(h.bytes(), 8u);
  EXPECT_THROW(h.f32(), Error);
  EXPECT_THROW(Tensor::empty({-1, 3}), Error);
}

// Known bit patterns of IEEE 754 binary16.
TEST(Half, KnownValues) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);               // largest finite
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_EQ(std::signbit(half_to_float(0x8000)), true);
}

TEST(Half, RoundTripsEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;  // inf / NaN
    ASSERT_EQ(float_to_half(half_to_float(uint16_t(h))), h) << "half 0x" << std::hex << h;
  }
}

TEST(Half, RoundsToNearestEven) {
  // 1 + 2^-11 lies exactly between 1 and the next half (1 + 2^-10): ties go to even (1.0).
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);  // rounds up past the largest finite: inf
  EXPECT_EQ(float_to_half(1e-9f), 0x0000);
}

// A host allocation that cannot be had is an OutOfMemory naming the size and shape: the tiler
// retries on the type, and the commands report it beside the file being processed (issue 13,
// case 5).
TEST(TensorAllocation, TooLargeIsOutOfMemoryWithTheShape) {
  const Shape huge = {int64_t(1) << 20, int64_t(1) << 20, int64_t(1) << 10};  // 4 PiB of floats
  EXPECT_THROW(Tensor::empty(huge), OutOfMemory);
  microsr::testing::expect_error([&] { Tensor::empty(huge); }, "[1048576, 1048576, 1024] tensor");
}
