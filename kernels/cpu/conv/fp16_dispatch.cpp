// fp16 activation storage (conv/fp16.h): the checks around conv_v3's fp16 kernels
// (conv/v3_winograd43_avx2.cpp). Compiled for baseline x86-64.
#include <string>
#include <type_traits>

#include "cpu/conv/common.h"
#include "cpu/conv/fp16.h"
#include "cpu/conv/isa_kernels.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "microsr/error.h"

namespace microsr::kernels {

const char* fp16_storage_unavailable_reason() {
  if (cpu_isa_at_least(CpuIsa::kAvx2)) return nullptr;
  if (detected_cpu_isa() >= CpuIsa::kAvx2)
    return "fp16 storage needs the AVX2 kernels (with F16C), which this CPU has but MICROSR_CPU_ISA turns off";
  return "fp16 storage needs a CPU with AVX2, FMA and F16C";
}

ConvWeightFormat fp16_storage_weight_format(int cin, int cout, int k) {
  return k == 3 ? ConvWeightFormat::kWinograd43 : best_conv_weight_format(cin, cout, k);
}

namespace {

void require_v3_format(const char* caller, const PackedConvWeights& conv) {
  require(conv.k == 3 && conv.format == ConvWeightFormat::kWinograd43 && conv.co_block == 4,
          std::string(caller) +
              ": the layer must be 3x3 in conv_v3's Winograd format (kWinograd43, co_block 4: "
              "fp16_storage_weight_format)");
}

void require_fp16_storage(const char* caller, int h, int w) {
  if (const char* why = fp16_storage_unavailable_reason()) throw Error(std::string(caller) + ": " + why);
  require(h > 0 && w > 0,
          std::string(caller) + ": expected h, w >= 1, found " + std::to_string(h) + "x" + std::to_string(w));
}

}  // namespace

int64_t dense_block_fp16_halves(int nf, int g, int h, int w) { return (nf + 4 * static_cast<int64_t>(g)) * h * w; }

void conv2d_dense_block_fp16(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                             float lrelu_slope, float residual_scale, uint16_t* scratch, const float* skip) {
  require_fp16_storage("conv2d_dense_block_fp16", h, w);
  require(detail::forms_dense_block(convs),
          "conv2d_dense_block_fp16: the five layers are not a dense block (nf + j g -> g, conv5 -> nf, 3x3, one "
          "format)");
  require_v3_format("conv2d_dense_block_fp16", *convs[0]);
  dense_block_winograd43_fp16_avx2(out, x, convs, h, w, lrelu_slope, residual_scale, scratch);
  if (skip) scaled_add(out, out, residual_scale, skip, static_cast<int64_t>(convs[0]->cin) * h * w);
}

namespace {

// Both forms of the upsampling pair: the checks and the `between` buffer.
template <class Out>
void upsampled2x_pair(Out* y, const float* x, const PackedConvWeights& conv1, const ConvEpilogue& epi1,
                      const PackedConvWeights& conv2, const ConvEpilogue& epi2, int h, int w, uint16_t* between) {
  constexpr const char* kCaller = "conv2d_upsampled2x_pair_fp16";
  require_fp16_storage(kCaller, h, w);
  require_v3_format(kCaller, conv1);
  require_v3_format(kCaller, conv2);
  require(conv2.cin == conv1.cout && !epi1.residual && (std::is_same_v<Out, float> || !epi2.residual),
          std::string(kCaller) +
              ": the second layer must take the first one's outputs, and neither an fp16 output nor the first may have "
              "a residual");
  conv2d_winograd43_upsampled2x_pair_fp16_avx2(y, x, conv1, epi1, conv2, epi2, h, w, between);
}

}  // namespace

void conv2d_upsampled2x_pair_fp16(float* y, const float* x, const PackedConvWeights& conv1, const ConvEpilogue& epi1,
                                  const PackedConvWeights& conv2, const ConvEpilogue& epi2, int h, int w,
                                  uint16_t* between) {
  upsampled2x_pair(y, x, conv1, epi1, conv2, epi2, h, w, between);
}

void conv2d_upsampled2x_pair_fp16(uint16_t* y, const float* x, const PackedConvWeights& conv1, const ConvEpilogue& epi1,
                                  const PackedConvWeights& conv2, const ConvEpilogue& epi2, int h, int w,
                                  uint16_t* between) {
  upsampled2x_pair(y, x, conv1, epi1, conv2, epi2, h, w, between);
}

void conv2d_packed_fp16_input(float* y, const uint16_t* x, const PackedConvWeights& packed, int h, int w,
                              const ConvEpilogue& epi) {
  require_fp16_storage("conv2d_packed_fp16_input", h, w);
  require_v3_format("conv2d_packed_fp16_input", packed);
  conv2d_winograd43_fp16_input_avx2(y, x, packed, h, w, epi);
}

}  // namespace microsr::kernels
