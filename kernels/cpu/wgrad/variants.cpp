// The weight-gradient variant table (wgrad/variants.h) and the choice the CPU backend runs.
#include "cpu/wgrad/variants.h"

#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "microsr/error.h"

namespace microsr::kernels {
namespace {

// Below AVX2 (cpu/cpu_isa.h) the only variant: the reference, image by image.
void conv2d_backward_weight_baseline(float* dw, float* db, ImageBatch x, ImageBatch dy, int n, int cin, int cout,
                                     int h, int w, int k) {
  for (int i = 0; i < n; ++i) conv2d_backward_weight_ref(dw, db, x.image(i), dy.image(i), cin, cout, h, w, k);
}

}  // namespace

// The AVX2 variants from avx2 up (their files are *_avx2.cpp); below it the baseline loop alone.
const std::vector<ConvBackwardWeightVariant>& conv2d_backward_weight_variants() {
  static const std::vector<ConvBackwardWeightVariant> baseline = {
      {"wgrad_v0_baseline", "the reference loop per image, for CPUs without AVX2", conv2d_backward_weight_baseline},
  };
  if (!cpu_isa_at_least(CpuIsa::kAvx2)) return baseline;
  static const std::vector<ConvBackwardWeightVariant> variants = {
      {"wgrad_v1_direct", "direct dot products over padded pixel rows, 4 cout x 3 taps", conv2d_backward_weight_direct},
      {"wgrad_v2_winograd43", "Winograd F(4x4,3x3) in reverse: 36 dot products over tiles, 4 cout x 3 cin",
       conv2d_backward_weight_winograd43},
      {"wgrad_v3_winograd43_outer", "as v2 with outer products over transposed dy tiles, 6 cin x 16 cout",
       conv2d_backward_weight_winograd43_outer},
  };
  return variants;
}

// Chosen per shape from bench_conv_backward at 2 threads (figures: docs/kernels.md): the Winograd
// transforms cost per tile and channel, so they pay off when both channel counts are large;
// conv_first (3 -> 64) and conv_last (64 -> 3) run as fast or faster direct. v3 beats v2 on every
// RRDBNet body shape at 2 threads (single-threaded they tie).
const ConvBackwardWeightVariant& conv2d_backward_weight_best(int cin, int cout, int k) {
  if (!cpu_isa_at_least(CpuIsa::kAvx2)) return conv2d_backward_weight_variants().front();
  if (k != 3 || cin < 8 || cout < 8) return conv2d_backward_weight_variant("wgrad_v1_direct");
  return conv2d_backward_weight_variant("wgrad_v3_winograd43_outer");
}

const ConvBackwardWeightVariant& conv2d_backward_weight_variant(const std::string& name) {
  std::string known;
  for (const ConvBackwardWeightVariant& variant : conv2d_backward_weight_variants()) {
    if (name == variant.name) return variant;
    known += known.empty() ? variant.name : std::string(", ") + variant.name;
  }
  throw Error("conv2d_backward_weight_variant: unknown variant '" + name + "'; known: " + known);
}

}  // namespace microsr::kernels
