// The weight-gradient variant table (wgrad/variants.h) and the choice the CPU backend runs.
#include "cpu/wgrad/variants.h"

#include "microsr/error.h"

namespace microsr::kernels {

const std::vector<ConvBackwardWeightVariant>& conv2d_backward_weight_variants() {
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
