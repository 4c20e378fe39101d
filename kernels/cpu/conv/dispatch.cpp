// Weight packing and the run-time choice of kernel per instruction set (cpu/cpu_isa.h): every
// entry point of conv/direct.h, conv/winograd43.h and conv2d_packed lands here, checks the packed
// format, and calls the AVX-512, AVX2 or baseline kernel of conv/isa_kernels.h. Compiled for
// baseline x86-64: nothing here may use an instruction the slowest CPU lacks.
#include <algorithm>
#include <vector>

#include "cpu/conv/common.h"
#include "cpu/conv/direct.h"
#include "cpu/conv/isa_kernels.h"
#include "cpu/conv/winograd43.h"
#include "cpu/conv/winograd43_weights.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"
#include "microsr/error.h"

namespace microsr::kernels {

// ---- direct formats ------------------------------------------------------------------------------
PackedConvWeights pack_direct_weights(const float* weight, const float* bias, int cin, int cout, int k) {
  return detail::pack_channel_blocked(weight, bias, cin, cout, k, 4, ConvWeightFormat::kDirect);
}

PackedConvWeights pack_direct16_weights(const float* weight, const float* bias, int cin, int cout, int k) {
  return detail::pack_channel_blocked(weight, bias, cin, cout, k, 16, ConvWeightFormat::kDirect16);
}

void conv2d_direct_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                          const ConvEpilogue& epi) {
  require(packed.format == ConvWeightFormat::kDirect && packed.k % 2 == 1,
          "conv2d_direct_packed: expected weights packed in the direct format with odd k");
  if (cpu_isa_at_least(CpuIsa::kAvx2)) return conv2d_direct_packed_avx2(y, x, packed, h, w, epi);
  conv2d_channel_blocked_scalar(y, x, packed, h, w, epi);
}

void conv2d_direct16_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                            const ConvEpilogue& epi) {
  require(packed.format == ConvWeightFormat::kDirect16 && packed.k % 2 == 1,
          "conv2d_direct16_packed: expected weights packed in the direct16 format with odd k");
  if (cpu_isa_at_least(CpuIsa::kAvx2)) return conv2d_direct16_packed_avx2(y, x, packed, h, w, epi);
  conv2d_channel_blocked_scalar(y, x, packed, h, w, epi);
}

void conv2d_direct(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                   int k, const ConvEpilogue& epi) {
  conv2d_direct_packed(y, x, pack_direct_weights(weight, bias, cin, cout, k), h, w, epi);
}

void conv2d_direct16(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                     int k, const ConvEpilogue& epi) {
  conv2d_direct16_packed(y, x, pack_direct16_weights(weight, bias, cin, cout, k), h, w, epi);
}

// ---- Winograd F(4x4, 3x3) -----------------------------------------------------------------------
PackedConvWeights pack_winograd43_weights(const float* weight, const float* bias, int cin, int cout, int k,
                                          int co_block) {
  require(k == 3, "pack_winograd43_weights: Winograd F(4x4,3x3) needs k == 3, found k=" + std::to_string(k));
  require(co_block == 3 || co_block == 4 || co_block == 8,
          "pack_winograd43_weights: co_block must be 3, 4 or 8, found " + std::to_string(co_block));
  PackedConvWeights packed;
  packed.format = co_block == 8 ? ConvWeightFormat::kWinograd43Avx512 : ConvWeightFormat::kWinograd43;
  packed.cin = cin, packed.cout = cout, packed.k = k, packed.co_block = co_block;
  const int blocks = (cout + co_block - 1) / co_block;
  const int64_t per_position = static_cast<int64_t>(blocks) * cin * co_block;
  packed.data.assign(winograd43::kPositions * per_position, 0.0f);
  const bool use_fma = cpu_isa_at_least(CpuIsa::kAvx2);  // the same bits, faster (std::fma inline)
  // ~160 double multiply-adds per (co, ci) pair: worth threads only for real layer sizes. Each
  // output channel's cin transforms go to a local buffer first, then into the 36 ξ planes one
  // plane at a time (sequential writes instead of 36 scattered ones per pair).
#pragma omp parallel for num_threads(team_size()) schedule(static) if (cin * cout >= 2048)
  for (int co = 0; co < cout; ++co) {
    constexpr int kPositions = winograd43::kPositions;
    std::vector<float> transformed(static_cast<size_t>(cin) * kPositions);  // [ci][ξ]
    const float* kernels_of_co = weight + static_cast<int64_t>(co) * cin * 9;
    if (use_fma) {
      winograd43_transform_kernels_avx2(transformed.data(), kernels_of_co, cin);
    } else {
      for (int ci = 0; ci < cin; ++ci)
        winograd43::transform_kernel(transformed.data() + ci * kPositions, kernels_of_co + ci * 9);
    }
    float* dst = packed.data.data() + static_cast<int64_t>(co / co_block) * cin * co_block + co % co_block;
    for (int xi = 0; xi < kPositions; ++xi)
      for (int ci = 0; ci < cin; ++ci) dst[xi * per_position + ci * co_block] = transformed[ci * kPositions + xi];
  }
  packed.bias.assign(cout, 0.0f);
  if (bias) std::copy(bias, bias + cout, packed.bias.begin());
  return packed;
}

// co_block 8 for the AVX-512 products; 4 when the layer has at most 4 outputs (conv_last's 3),
// so that a small layer does not pay for 8.
PackedConvWeights pack_winograd43_avx512_weights(const float* weight, const float* bias, int cin, int cout, int k) {
  PackedConvWeights packed = pack_winograd43_weights(weight, bias, cin, cout, k, cout <= 4 ? 4 : 8);
  packed.format = ConvWeightFormat::kWinograd43Avx512;
  return packed;
}

void conv2d_winograd43_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                              const ConvEpilogue& epi) {
  const bool avx512_format = packed.format == ConvWeightFormat::kWinograd43Avx512;
  require(packed.format == ConvWeightFormat::kWinograd43 || avx512_format,
          "conv2d_winograd43_packed: weights are not in a Winograd F(4,3) format");
  if (avx512_format && cpu_isa_at_least(CpuIsa::kAvx512))
    return conv2d_winograd43_packed_avx512(y, x, packed, h, w, epi);
  if (!avx512_format && cpu_isa_at_least(CpuIsa::kAvx2)) return conv2d_winograd43_packed_avx2(y, x, packed, h, w, epi);
  // Below the format's instruction set (baseline CPUs; avx512-packed weights on a lowered ISA).
  conv2d_winograd43_scalar(y, x, packed, h, w, epi);
}

void conv2d_winograd43_4x24(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h,
                            int w, int k, const ConvEpilogue& epi) {
  if (k != 3) return conv2d_direct16(y, x, weight, bias, cin, cout, h, w, k, epi);
  conv2d_winograd43_packed(y, x, pack_winograd43_weights(weight, bias, cin, cout, k, 4), h, w, epi);
}

void conv2d_winograd43_3x32(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h,
                            int w, int k, const ConvEpilogue& epi) {
  if (k != 3) return conv2d_direct16(y, x, weight, bias, cin, cout, h, w, k, epi);
  conv2d_winograd43_packed(y, x, pack_winograd43_weights(weight, bias, cin, cout, k, 3), h, w, epi);
}

void conv2d_winograd43_avx512(float* y, const float* x, const float* weight, const float* bias, int cin, int cout,
                              int h, int w, int k, const ConvEpilogue& epi) {
  if (k != 3) return conv2d_direct16(y, x, weight, bias, cin, cout, h, w, k, epi);
  conv2d_winograd43_packed(y, x, pack_winograd43_avx512_weights(weight, bias, cin, cout, k), h, w, epi);
}

// ---- any format --------------------------------------------------------------------------------
PackedConvWeights pack_conv_weights(const float* weight, const float* bias, int cin, int cout, int k,
                                    ConvWeightFormat format) {
  require(cin > 0 && cout > 0 && k > 0 && k % 2 == 1,
          "pack_conv_weights: expected cin, cout > 0 and odd k, found cin=" + std::to_string(cin) +
              " cout=" + std::to_string(cout) + " k=" + std::to_string(k));
  switch (format) {
    case ConvWeightFormat::kDirect:
      return pack_direct_weights(weight, bias, cin, cout, k);
    case ConvWeightFormat::kDirect16:
      return pack_direct16_weights(weight, bias, cin, cout, k);
    case ConvWeightFormat::kWinograd43:
      return pack_winograd43_weights(weight, bias, cin, cout, k, 4);
    case ConvWeightFormat::kWinograd43Avx512:
      return pack_winograd43_avx512_weights(weight, bias, cin, cout, k);
  }
  throw Error("pack_conv_weights: unsupported weight format");
}

void conv2d_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w, const ConvEpilogue& epi) {
  require(h > 0 && w > 0, "conv2d_packed: expected h, w >= 1, found " + std::to_string(h) + "x" + std::to_string(w));
  switch (packed.format) {
    case ConvWeightFormat::kDirect:
      return conv2d_direct_packed(y, x, packed, h, w, epi);
    case ConvWeightFormat::kDirect16:
      return conv2d_direct16_packed(y, x, packed, h, w, epi);
    case ConvWeightFormat::kWinograd43:
    case ConvWeightFormat::kWinograd43Avx512:
      return conv2d_winograd43_packed(y, x, packed, h, w, epi);
  }
  throw Error("conv2d_packed: unsupported weight format");
}

void conv2d_packed_upsampled2x(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                               const ConvEpilogue& epi) {
  require(h > 0 && w > 0,
          "conv2d_packed_upsampled2x: expected h, w >= 1, found " + std::to_string(h) + "x" + std::to_string(w));
  if (packed.format == ConvWeightFormat::kWinograd43Avx512 && cpu_isa_at_least(CpuIsa::kAvx512))
    return conv2d_winograd43_packed_avx512(y, x, packed, 2 * h, 2 * w, epi, /*input_upsampled2x=*/true);
  if (packed.format == ConvWeightFormat::kWinograd43 && cpu_isa_at_least(CpuIsa::kAvx2))
    return conv2d_winograd43_packed_avx2(y, x, packed, 2 * h, 2 * w, epi, /*input_upsampled2x=*/true);
  std::vector<float> upsampled(static_cast<size_t>(packed.cin) * 4 * h * w);  // the other kernels: upsample first
  upsample_nearest2x_ref(upsampled.data(), x, packed.cin, h, w);
  conv2d_packed(y, upsampled.data(), packed, 2 * h, 2 * w, epi);
}

// ---- the dense block ----------------------------------------------------------------------------
namespace {

// The dense block kernel that runs these weights on this CPU, or null.
using DenseBlockFn = void (*)(float*, const float*, const PackedConvWeights* const[5], int, int, float, float, float*,
                              float*);
using DenseBlockElemsFn = int64_t (*)(int, int, int);
struct DenseBlockKernel {
  DenseBlockFn run;
  DenseBlockElemsFn ring_elems;
};

DenseBlockKernel dense_block_kernel(const PackedConvWeights* const convs[5]) {
  if (!detail::forms_dense_block(convs)) return {};
  const ConvWeightFormat format = convs[0]->format;
  const int co_block = convs[0]->co_block;
  if (format == ConvWeightFormat::kWinograd43Avx512 && co_block == 8 && cpu_isa_at_least(CpuIsa::kAvx512))
    return {dense_block_winograd43_avx512, winograd43_dense_block_elems_avx512};
  if (format == ConvWeightFormat::kWinograd43 && co_block == 4 && cpu_isa_at_least(CpuIsa::kAvx2))
    return {dense_block_winograd43_avx2, winograd43_dense_block_elems_avx2};
  return {};
}

}  // namespace

bool dense_block_fusable(const PackedConvWeights* const convs[5], int h, int w) {
  const DenseBlockKernel kernel = dense_block_kernel(convs);
  if (!kernel.run || h <= 0 || w <= 0) return false;
  // The whole image's transformed channels: 4x4 tiles x 36 positions x channels floats.
  const int channels = convs[0]->cin + 4 * convs[0]->cout;
  const int64_t transformed_bytes = int64_t{(h + 3) / 4} * ((w + 3) / 4) * 36 * channels * 4;
  return transformed_bytes <= (int64_t{8} << 20);
}

void conv2d_dense_block_packed(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                               float lrelu_slope, float residual_scale, const float* skip) {
  require(h > 0 && w > 0,
          "conv2d_dense_block_packed: expected h, w >= 1, found " + std::to_string(h) + "x" + std::to_string(w));
  const DenseBlockKernel kernel = dense_block_kernel(convs);
  require(kernel.run != nullptr,
          "conv2d_dense_block_packed: the five layers are not a dense block (nf + j g -> g, conv5 -> nf, 3x3) packed "
          "in this CPU's Winograd format (kWinograd43Avx512 on avx512, kWinograd43 with co_block 4 on avx2)");
  const int nf = convs[0]->cin, g = convs[0]->cout;
  const int64_t plane = static_cast<int64_t>(h) * w;
  float* ring = detail::thread_aligned_buffer(5, kernel.ring_elems(nf + 4 * g, h, w));
  float* slices = detail::thread_aligned_buffer(6, 4 * g * plane);
  kernel.run(out, x, convs, h, w, lrelu_slope, residual_scale, ring, slices);
  if (skip) scaled_add(out, out, residual_scale, skip, nf * plane);
}

}  // namespace microsr::kernels
