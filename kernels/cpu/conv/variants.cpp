// The numbered convolution variant table and the choice of weight format per instruction set.
#include "cpu/conv/variants.h"

#include "cpu/conv/direct.h"
#include "cpu/conv/winograd43.h"
#include "cpu/cpu_isa.h"
#include "microsr/error.h"

namespace microsr::kernels {
namespace {

// Every variant with the lowest instruction set it needs to be itself.
struct ListedVariant {
  Conv2dVariant variant;
  CpuIsa needs;
};

const std::vector<ListedVariant>& all_variants() {
  static const std::vector<ListedVariant> variants = {
      {{"conv_v1_direct", "direct, padded wide rows, 4 cout x 24 px AVX2 micro-kernel", conv2d_direct},
       CpuIsa::kBaseline},
      {{"conv_v2_direct16", "direct, vectorized over cout: 16 cout x 6 px micro-kernel", conv2d_direct16},
       CpuIsa::kBaseline},
      {{"conv_v3_winograd43", "Winograd F(4x4,3x3): 36 batched products, 4 cout x 24 tiles", conv2d_winograd43_4x24},
       CpuIsa::kBaseline},
      {{"conv_v4_winograd43_3x32", "as v3 with 3 cout x 32 tile micro-tiles, 32-tile batches", conv2d_winograd43_3x32},
       CpuIsa::kBaseline},
      {{"conv_v5_winograd43_avx512",
        "as v3 on AVX-512: 8 cout x 48 tile zmm products, 16-tile zmm input transform read straight from the "
        "activations (masked edges, no padded copy), 16-tile zmm output transform with the epilogue from registers",
        conv2d_winograd43_avx512},
       CpuIsa::kAvx512},
  };
  return variants;
}

std::vector<Conv2dVariant> variants_up_to(CpuIsa isa) {
  std::vector<Conv2dVariant> listed;
  for (const ListedVariant& v : all_variants())
    if (static_cast<int>(v.needs) <= static_cast<int>(isa)) listed.push_back(v.variant);
  return listed;
}

}  // namespace

const std::vector<Conv2dVariant>& conv2d_variants() {
  static const std::vector<Conv2dVariant> below_avx512 = variants_up_to(CpuIsa::kAvx2);
  static const std::vector<Conv2dVariant> from_avx512 = variants_up_to(CpuIsa::kAmx);
  return cpu_isa_at_least(CpuIsa::kAvx512) ? from_avx512 : below_avx512;
}

const std::vector<ConvWeightFormat>& conv_weight_formats() {
  static const std::vector<ConvWeightFormat> below_avx512 = {ConvWeightFormat::kDirect, ConvWeightFormat::kDirect16,
                                                             ConvWeightFormat::kWinograd43};
  static const std::vector<ConvWeightFormat> from_avx512 = {ConvWeightFormat::kDirect, ConvWeightFormat::kDirect16,
                                                            ConvWeightFormat::kWinograd43,
                                                            ConvWeightFormat::kWinograd43Avx512};
  return cpu_isa_at_least(CpuIsa::kAvx512) ? from_avx512 : below_avx512;
}

const char* conv_weight_format_name(ConvWeightFormat format) {
  switch (format) {
    case ConvWeightFormat::kDirect:
      return "direct";
    case ConvWeightFormat::kDirect16:
      return "direct16";
    case ConvWeightFormat::kWinograd43:
      return "winograd43";
    case ConvWeightFormat::kWinograd43Avx512:
      return "winograd43_avx512";
  }
  return "?";
}

const Conv2dVariant& conv2d_variant(const std::string& name) {
  std::string known;
  for (const ListedVariant& listed : all_variants()) {
    if (name == listed.variant.name) {
      const CpuIsa active = active_cpu_isa();
      require(static_cast<int>(listed.needs) <= static_cast<int>(active),
              "convolution variant '" + name + "' needs the " + cpu_isa_name(listed.needs) +
                  " instruction set; this CPU (or MICROSR_CPU_ISA) gives " + cpu_isa_name(active));
      for (const Conv2dVariant& variant : conv2d_variants())
        if (name == variant.name) return variant;
    }
    known += known.empty() ? listed.variant.name : std::string(", ") + listed.variant.name;
  }
  throw Error("conv2d_variant: unknown convolution variant '" + name + "'; known: " + known);
}

// Chosen from bench_conv + bench_rrdbnet on the 2-core dev box (figures in docs/kernels.md):
// Winograd F(4,3) is the fastest on every RRDBNet shape and adds ~1e-5 to the whole network's
// output (budget 1e-4): with AVX-512 the 16-wide v5, with AVX2 v3's 4 x 24 micro-tiles, below that
// the scalar Winograd loop (4x fewer multiplies than direct). Other k run direct16.
ConvWeightFormat best_conv_weight_format(int cin, int cout, int k) {
  if (k != 3) return ConvWeightFormat::kDirect16;
  return cpu_isa_at_least(CpuIsa::kAvx512) ? ConvWeightFormat::kWinograd43Avx512 : ConvWeightFormat::kWinograd43;
}

}  // namespace microsr::kernels
