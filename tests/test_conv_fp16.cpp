// fp16 activation storage (kernels/cpu/conv/fp16.h, `--precision fp16` on the CPU).
//
// The conversions (microsr/tensor.h: float_to_half, half_to_float) against IEEE binary16's
// definition: closed forms, every one of the 65536 bit patterns, and every halfway point between
// neighbours (ties to even); the F16C bodies against them bit for bit. The dense block against the same five fp32
// convolutions run on fp16-rounded copies (it must give their bits: its transforms widen exactly and its epilogue
// rounds last), and against an independent direct convolution in fp32 (it must stay within fp16's rounding of it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu/conv/fp16.h"
#include "cpu/conv/variants.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"
#include "dense_block_test_helpers.h"
#include "microsr/backend.h"
#include "microsr/error.h"
#include "microsr/rrdbnet.h"
#include "microsr/tensor.h"
#include "test_helpers.h"

namespace microsr::kernels {
namespace {

using microsr::testing::random_values;

float float_from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

// binary16's value from its fields, in double: (-1)^s 2^(e-15) (1 + m/1024), subnormal m 2^-24.
double half_value(uint16_t half) {
  const int exponent = (half >> 10) & 0x1F, mantissa = half & 0x3FF;
  const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return (half & 0x8000) ? -magnitude : magnitude;
}

TEST(Fp16Convert, ClosedForms) {
  struct Case {
    float value;
    uint16_t half;
  };
  for (const Case c : {Case{0.0f, 0x0000},           Case{-0.0f, 0x8000},
                       Case{1.0f, 0x3C00},           Case{-2.0f, 0xC000},
                       Case{0.5f, 0x3800},           Case{1.0f / 3.0f, 0x3555},
                       Case{65504.0f, 0x7BFF},       Case{65519.99f, 0x7BFF},
                       Case{65520.0f, 0x7C00},       Case{1e6f, 0x7C00},
                       Case{-1e6f, 0xFC00},          Case{std::numeric_limits<float>::infinity(), 0x7C00},
                       Case{0x1p-14f, 0x0400},       Case{0x1p-24f, 0x0001},
                       Case{0x1p-25f, 0x0000},       Case{0x1.000002p-25f, 0x0001},
                       Case{0x1.8p-24f, 0x0002},     Case{1e-10f, 0x0000},
                       Case{0.1f, 0x2E66},           Case{1.0009765625f, 0x3C01},
                       Case{1.00048828125f, 0x3C00}, Case{1.00146484375f, 0x3C02}}) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(float_to_half(c.value), c.half);
  }
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::quiet_NaN()) & 0x7E00, 0x7E00);  // stays a quiet NaN
  EXPECT_EQ(float_to_half(float_from_bits(0x7F800001u)) & 0x7E00, 0x7E00);             // a signalling one too
}

// Every bit pattern widens to its value and (NaN aside) narrows back to itself; between two
// neighbours, the midpoint goes to the one with an even mantissa and anything off it to the nearer.
TEST(Fp16Convert, EveryHalfAndEveryHalfwayPoint) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto half = static_cast<uint16_t>(bits);
    const bool nan = (half & 0x7C00) == 0x7C00 && (half & 0x3FF);
    const float value = half_to_float(half);
    if (nan) {
      EXPECT_TRUE(std::isnan(value)) << bits;
      continue;
    }
    if ((half & 0x7C00) == 0x7C00) {
      EXPECT_TRUE(std::isinf(value)) << bits;
    } else {
      ASSERT_EQ(double(value), half_value(half)) << bits;
    }
    ASSERT_EQ(float_to_half(value), half) << bits;
    if ((half & 0x7FFF) >= 0x7C00) continue;                // infinity: no next neighbour
    const uint16_t next = static_cast<uint16_t>(half + 1);  // the next one away from zero (0x7BFF's: infinity)
    const double upper = (next & 0x7FFF) == 0x7C00 ? (half & 0x8000 ? -65536.0 : 65536.0) : half_value(next);
    const auto midpoint = static_cast<float>((double(value) + upper) / 2);  // exact: 12 significant bits
    ASSERT_EQ(double(midpoint), (double(value) + upper) / 2);
    EXPECT_EQ(float_to_half(midpoint), (half & 1) ? next : half) << bits;
    EXPECT_EQ(float_to_half(std::nextafter(midpoint, 0.0f)), half) << bits;
    EXPECT_EQ(float_to_half(std::nextafter(midpoint, midpoint * 2)), next) << bits;
  }
}

// F16C's vcvtps2ph (floats_to_fp16_avx2), and the threaded floats_to_fp16, give the reference bits
// on every kind of value (random bit patterns: normals, subnormals, NaNs, both infinities), at
// lengths around the vector width and past one thread's share.
TEST(Fp16Convert, VectorAndThreadedFormsGiveTheReferenceBits) {
  ASSERT_TRUE(cpu_isa_at_least(CpuIsa::kAvx2)) << "this test needs avx2 (F16C)";
  std::vector<float> values;
  uint32_t state = 12345;
  for (int i = 0; i < 300000; ++i) {
    state = state * 1664525u + 1013904223u;
    values.push_back(float_from_bits(state));
  }
  for (float special : {0.0f, -0.0f, 65504.0f, 65520.0f, -65520.0f, 0x1p-25f, 0x1.8p-24f}) values.push_back(special);
  std::vector<uint16_t> expected(values.size());
  floats_to_fp16_ref(expected.data(), values.data(), int64_t(values.size()));
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{100}, int64_t(values.size())})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("n " + std::to_string(n) + ", " + std::to_string(threads) + " threads");
      const ThreadCount team(threads);
      std::vector<uint16_t> vector(n + 1, 0xABCD), threaded(n + 1, 0xABCD);
      floats_to_fp16_avx2(vector.data(), values.data() + values.size() - n, n);
      floats_to_fp16(threaded.data(), values.data() + values.size() - n, n);
      EXPECT_TRUE(std::equal(vector.begin(), vector.begin() + n, expected.end() - n));
      EXPECT_TRUE(std::equal(threaded.begin(), threaded.begin() + n, expected.end() - n));
      EXPECT_EQ(vector[n], 0xABCD);  // nothing past the end
      EXPECT_EQ(threaded[n], 0xABCD);
    }
}

using testing_dense::Block;

// Rounds n values to fp16 and back: what fp16 storage keeps of them.
void round_to_fp16(float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = half_to_float(float_to_half(p[i]));
}

// The instruction sets this machine runs the fp16 path on (AVX2's kernels, also under AVX-512).
std::vector<CpuIsa> fp16_isas() { return testing_dense::avx2_and_avx512_isas(); }

TEST(DenseBlockFp16, SameBitsAsFp32ConvolutionsOnRoundedValues) {
  ASSERT_FALSE(fp16_isas().empty()) << "this test needs at least avx2";
  struct Case {
    int nf, g, h, w;
  };
  unsigned seed = 700;
  for (const CpuIsa isa : fp16_isas()) {
    const CpuIsaScope scope(isa);
    // Inside and at the edges of the 36-column windows: widths under one window, one group, several;
    // heights with a partial last tile row; 1x1.
    for (const Case c :
         {Case{64, 32, 23, 70}, Case{8, 4, 17, 9}, Case{16, 8, 40, 100}, Case{8, 4, 1, 1}, Case{12, 4, 9, 37}}) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " nf=" + std::to_string(c.nf) + " " + std::to_string(c.h) + "x" +
                   std::to_string(c.w));
      const int64_t n = static_cast<int64_t>(c.nf) * c.h * c.w;
      const Block block(c.nf, c.g, seed, fp16_storage_weight_format);
      seed += 10;
      const PackedConvWeights* convs[5];
      block.pointers(convs);
      // Values up to 4 in size, so that the roundings reach every binade the activations use.
      const auto x = random_values(n, seed++, -4.0f, 4.0f), skip = random_values(n, seed++);
      const std::vector<float> expected = block.five_convs(
          x, c.h, c.w,
          [&](float* y, const float* in, int j, const ConvEpilogue& epi) {
            conv2d_packed(y, in, block.packed[j], c.h, c.w, epi);
          },
          round_to_fp16);
      std::vector<float> expected_skip(n);
      scaled_add_ref(expected_skip.data(), expected.data(), 0.2f, skip.data(), n);
      std::vector<uint16_t> scratch(dense_block_fp16_halves(c.nf, c.g, c.h, c.w));
      for (int threads : {1, 2, 3}) {
        const ThreadCount team(threads);
        std::vector<float> out(n), out_skip(n);
        conv2d_dense_block_fp16(out.data(), x.data(), convs, c.h, c.w, 0.2f, 0.2f, scratch.data());
        conv2d_dense_block_fp16(out_skip.data(), x.data(), convs, c.h, c.w, 0.2f, 0.2f, scratch.data(), skip.data());
        int64_t differing = 0;
        for (int64_t i = 0; i < n; ++i) differing += (out[i] != expected[i]) + (out_skip[i] != expected_skip[i]);
        EXPECT_EQ(differing, 0) << threads << " threads";
      }
    }
  }
}

// Against the direct convolution in fp32 (no fp16 anywhere), at RRDBNet's widths: the difference is
// fp16's rounding of x and x1..x4 (2^-11 relative each) carried through the block, so well above
// fp32's (~1e-6 here) and well below a wrong channel or tile (which moves outputs by O(0.1)).
TEST(DenseBlockFp16, WithinFp16RoundingOfTheDirectConvolution) {
  ASSERT_TRUE(cpu_isa_at_least(CpuIsa::kAvx2)) << "this test needs avx2";
  const int h = 24, w = 45;
  const int64_t n = int64_t{64} * h * w;
  const Block block(64, 32, 900, fp16_storage_weight_format);
  const PackedConvWeights* convs[5];
  block.pointers(convs);
  const auto x = random_values(n, 8, -4.0f, 4.0f);
  const std::vector<float> reference =
      block.five_convs(x, h, w, [&](float* y, const float* in, int j, const ConvEpilogue& epi) {
        conv2d_same_ref(y, in, block.weights[j].data(), block.biases[j].data(), block.nf + j * block.g,
                        j < 4 ? block.g : block.nf, h, w, 3, epi);
      });
  std::vector<float> out(n);
  std::vector<uint16_t> scratch(dense_block_fp16_halves(64, 32, h, w));
  conv2d_dense_block_fp16(out.data(), x.data(), convs, h, w, 0.2f, 0.2f, scratch.data());
  double worst = 0, largest = 0;
  for (int64_t i = 0; i < n; ++i) {
    worst = std::max(worst, std::fabs(double(out[i]) - reference[i]));
    largest = std::max(largest, std::fabs(double(reference[i])));
  }
  std::printf("fp16 dense block vs direct fp32: max |diff| %.3g (outputs up to %.3g)\n", worst, largest);
  EXPECT_LT(worst, 5e-4 * largest);  // measured 2.0e-4 of the largest output
  EXPECT_GT(worst, 2e-5);            // fp16 really ran: fp32 Winograd alone stays near 1e-6
}

TEST(DenseBlockFp16, RefusesWhatItCannotRun) {
  const Block block(8, 4, 40, fp16_storage_weight_format);
  const PackedConvWeights* convs[5];
  block.pointers(convs);
  std::vector<float> x(8 * 5 * 5), out(x.size());
  std::vector<uint16_t> scratch(dense_block_fp16_halves(8, 4, 5, 5));
  const PackedConvWeights* swapped[5] = {convs[1], convs[0], convs[2], convs[3], convs[4]};
  EXPECT_THROW(conv2d_dense_block_fp16(out.data(), x.data(), swapped, 5, 5, 0.2f, 0.2f, scratch.data()), Error);
  std::vector<PackedConvWeights> avx512_format;
  for (int j = 0; j < 5; ++j)
    avx512_format.push_back(pack_conv_weights(block.weights[j].data(), block.biases[j].data(), 8 + 4 * j, j < 4 ? 4 : 8,
                                              3, ConvWeightFormat::kWinograd43Avx512));
  const PackedConvWeights* other[5] = {&avx512_format[0], &avx512_format[1], &avx512_format[2], &avx512_format[3],
                                       &avx512_format[4]};
  EXPECT_THROW(conv2d_dense_block_fp16(out.data(), x.data(), other, 5, 5, 0.2f, 0.2f, scratch.data()), Error);
  const CpuIsaScope baseline(CpuIsa::kBaseline);
  ASSERT_NE(fp16_storage_unavailable_reason(), nullptr);
  EXPECT_NE(std::string(fp16_storage_unavailable_reason()).find("MICROSR_CPU_ISA"), std::string::npos);
  EXPECT_THROW(conv2d_dense_block_fp16(out.data(), x.data(), convs, 5, 5, 0.2f, 0.2f, scratch.data()), Error);
}

// RRDBNet's last upsampling stage (conv_up2, conv_hr) with the activation between them in fp16: the
// bits of the fp32 fused upsampling, a rounding to fp16 and a plain convolution (and with conv_hr's
// output in fp16 too, those rounded); conv_last reading fp16. A partial last tile row and odd half
// sizes included.
TEST(UpsampledPairFp16, SameBitsAsFp32ConvolutionsOnTheRoundedActivation) {
  ASSERT_FALSE(fp16_isas().empty()) << "this test needs at least avx2";
  struct Case {
    int cin, mid, cout, h, w;
  };
  unsigned seed = 1200;
  for (const CpuIsa isa : fp16_isas()) {
    const CpuIsaScope scope(isa);
    for (const Case c : {Case{16, 16, 16, 11, 21}, Case{8, 12, 3, 3, 5}, Case{64, 64, 64, 9, 40}}) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " " + std::to_string(c.cin) + "->" + std::to_string(c.mid) + "->" +
                   std::to_string(c.cout) + " " + std::to_string(c.h) + "x" + std::to_string(c.w));
      const auto w1 = random_values(size_t(c.mid) * c.cin * 9, seed++, -0.1f, 0.1f);
      const auto b1 = random_values(c.mid, seed++, -0.1f, 0.1f);
      const auto w2 = random_values(size_t(c.cout) * c.mid * 9, seed++, -0.1f, 0.1f);
      const auto b2 = random_values(c.cout, seed++, -0.1f, 0.1f);
      const PackedConvWeights conv1 =
          pack_conv_weights(w1.data(), b1.data(), c.cin, c.mid, 3, fp16_storage_weight_format(c.cin, c.mid, 3));
      const PackedConvWeights conv2 =
          pack_conv_weights(w2.data(), b2.data(), c.mid, c.cout, 3, fp16_storage_weight_format(c.mid, c.cout, 3));
      const auto x = random_values(size_t(c.cin) * c.h * c.w, seed++, -4.0f, 4.0f);
      const int64_t big = int64_t{4} * c.h * c.w;
      ConvEpilogue act;
      act.has_lrelu = true, act.lrelu_slope = 0.2f;
      std::vector<float> between(c.mid * big), expected(c.cout * big);
      conv2d_packed_upsampled2x(between.data(), x.data(), conv1, c.h, c.w, act);
      for (float& v : between) v = half_to_float(float_to_half(v));
      conv2d_packed(expected.data(), between.data(), conv2, 2 * c.h, 2 * c.w, act);
      std::vector<uint16_t> scratch(c.mid * big), between_halves(c.mid * big);
      floats_to_fp16_ref(between_halves.data(), between.data(), c.mid * big);  // exact: already rounded
      for (int threads : {1, 2, 3}) {
        const ThreadCount team(threads);
        std::vector<float> y(c.cout * big), y_widened(c.cout * big);
        conv2d_upsampled2x_pair_fp16(y.data(), x.data(), conv1, act, conv2, act, c.h, c.w, scratch.data());
        EXPECT_EQ(y, expected) << threads << " threads";
        // conv2's output in fp16 too: expected, rounded.
        std::vector<uint16_t> y_half(c.cout * big), expected_half(c.cout * big);
        conv2d_upsampled2x_pair_fp16(y_half.data(), x.data(), conv1, act, conv2, act, c.h, c.w, scratch.data());
        floats_to_fp16_ref(expected_half.data(), expected.data(), c.cout * big);
        EXPECT_EQ(y_half, expected_half) << threads << " threads";
        // A convolution reading fp16 (conv_last's way): the bits of conv2d_packed on the widened values.
        conv2d_packed_fp16_input(y_widened.data(), between_halves.data(), conv2, 2 * c.h, 2 * c.w, act);
        EXPECT_EQ(y_widened, expected) << threads << " threads";
      }
    }
  }
}

// Activations past fp16's ±65504 become infinite in storage: the CPU backend in fp16 says so when
// the output is read (to_host), as the CUDA backend does, instead of handing back NaN pixels; fp32
// runs the same network to finite values. All weights 0.5 and biases 0 make the dense block's
// activations grow ~20x per convolution: ~14, 250, 4800, 90000 (infinite in fp16).
TEST(Fp16Storage, OverflowIsAnErrorNotANaNImage) {
  ASSERT_TRUE(cpu_isa_at_least(CpuIsa::kAvx2)) << "this test needs avx2";
  RRDBNetConfig config;
  config.num_feat = 4, config.num_block = 1, config.num_grow_ch = 4;
  StateDict weights;
  for (const auto& p : config.parameter_table()) {
    Tensor t = Tensor::empty(p.shape);
    std::fill(t.f32(), t.f32() + t.numel(), p.name.ends_with(".weight") ? 0.5f : 0.0f);
    weights.add(p.name, t);
  }
  Tensor x = Tensor::empty({1, 3, 8, 8});
  std::fill(x.f32(), x.f32() + x.numel(), 1.0f);
  for (Precision precision : {Precision::fp32, Precision::fp16}) {
    CpuOptions options;
    options.precision = precision;
    auto backend = make_cpu_backend(options);
    RRDBNet net(config, weights, *backend);
    const Tensor y = net.forward_inference(x);
    if (precision == Precision::fp32) {
      EXPECT_EQ(find_non_finite(backend->to_host(y)).count, 0);
    } else {
      microsr::testing::expect_error([&] { backend->to_host(y); }, "fp16 overflow");
    }
  }
}

// On an AVX-512 CPU fp16 storage still runs the AVX2 kernels, slower than fp32 there: the CLI says
// so (cpu_precision_advice); on AVX2 it is the choice it was built for, and says nothing.
TEST(Fp16Storage, AdvisesFp32WhereAvx512Runs) {
  ASSERT_TRUE(cpu_isa_at_least(CpuIsa::kAvx2)) << "this test needs avx2";
  EXPECT_EQ(cpu_precision_advice(Precision::fp32), "");
  {
    const CpuIsaScope avx2(CpuIsa::kAvx2);
    EXPECT_EQ(cpu_precision_advice(Precision::fp16), "");
  }
  if (detected_cpu_isa() >= CpuIsa::kAvx512) {
    const CpuIsaScope avx512(CpuIsa::kAvx512);
    EXPECT_NE(cpu_precision_advice(Precision::fp16).find("--precision fp32"), std::string::npos);
  }
}

}  // namespace
}  // namespace microsr::kernels
