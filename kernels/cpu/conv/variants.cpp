// The numbered convolution variant table and the packed-weights dispatch.
#include "cpu/conv/variants.h"

#include "cpu/conv/direct.h"
#include "cpu/conv/winograd43.h"
#include "microsr/error.h"

namespace microsr::kernels {

const std::vector<Conv2dVariant>& conv2d_variants() {
  static const std::vector<Conv2dVariant> variants = {
      {"conv_v1_direct", "direct, padded wide rows, 4 cout x 24 px AVX2 micro-kernel", conv2d_direct},
      {"conv_v2_direct16", "direct, vectorized over cout: 16 cout x 6 px micro-kernel", conv2d_direct16},
      {"conv_v3_winograd43", "Winograd F(4x4,3x3): 36 batched products, 4 cout x 24 tiles", conv2d_winograd43_4x24},
      {"conv_v4_winograd43_3x32", "as v3 with 3 cout x 32 tile micro-tiles, 32-tile batches", conv2d_winograd43_3x32},
  };
  return variants;
}

const std::vector<ConvWeightFormat>& conv_weight_formats() {
  static const std::vector<ConvWeightFormat> formats = {ConvWeightFormat::kDirect, ConvWeightFormat::kDirect16,
                                                        ConvWeightFormat::kWinograd43};
  return formats;
}

const char* conv_weight_format_name(ConvWeightFormat format) {
  switch (format) {
    case ConvWeightFormat::kDirect:
      return "direct";
    case ConvWeightFormat::kDirect16:
      return "direct16";
    case ConvWeightFormat::kWinograd43:
      return "winograd43";
  }
  return "?";
}

const Conv2dVariant& conv2d_variant(const std::string& name) {
  std::string known;
  for (const Conv2dVariant& variant : conv2d_variants()) {
    if (name == variant.name) return variant;
    known += known.empty() ? variant.name : std::string(", ") + variant.name;
  }
  throw Error("conv2d_variant: unknown convolution variant '" + name + "'; known: " + known);
}

// Chosen from bench_conv + tools/bench_conv_torch.py on the 2-core dev box (figures in
// docs/kernels.md): Winograd F(4,3) with 4 x 24 micro-tiles (conv_v3) is the fastest on every
// RRDBNet shape and adds ~1e-5 to the whole network's output (budget 1e-4); other k run direct16.
ConvWeightFormat best_conv_weight_format(int cin, int cout, int k) {
  return k == 3 ? ConvWeightFormat::kWinograd43 : ConvWeightFormat::kDirect16;
}

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
    default:
      break;
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
      return conv2d_winograd43_packed(y, x, packed, h, w, epi);
    default:
      break;
  }
  throw Error("conv2d_packed: unsupported weight format");
}

}  // namespace microsr::kernels
