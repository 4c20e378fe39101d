// The table of convolution variants (described in cudnn_conv.h).
#include "cudnn_conv.h"
#include "microsr/error.h"

namespace microsr {

const std::vector<ConvVariant>& conv_variant_table() {
  static const std::vector<ConvVariant> table = {
      {"legacy_find", "v1: cudnnConvolutionForward, algorithm by cudnnFind…Ex measurement; epilogue kernel",
       [](const ConvContext& c) { return make_legacy_conv_engine(c, true); }},
      {"legacy_heuristic", "v2: cudnnConvolutionForward, algorithm by cudnnGet…_v7 ranking; epilogue kernel",
       [](const ConvContext& c) { return make_legacy_conv_engine(c, false); }},
      {"graph", "v3: graph API, conv only, fastest of the heuristics' plans; epilogue kernel",
       [](const ConvContext& c) { return make_graph_conv_engine(c, false); }},
      {"graph_fused", "v4: graph API, conv + bias + LeakyReLU + residual fused (falls back to v3)",
       [](const ConvContext& c) { return make_graph_conv_engine(c, true); }},
  };
  return table;
}

const ConvVariant& conv_variant(const std::string& name) {
  std::string names;
  for (const auto& v : conv_variant_table()) {
    if (name == v.name) return v;
    names += std::string(names.empty() ? "" : ", ") + v.name;
  }
  throw Error("unknown CUDA convolution variant '" + name + "': expected one of " + names);
}

}  // namespace microsr
