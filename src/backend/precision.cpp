// Precision names (include/microsr/backend.h), in every build: the CPU backend refuses fp16 by
// name, so it needs them as much as the CUDA backend does.
#include "microsr/backend.h"

namespace microsr {

const char* precision_name(Precision p) { return p == Precision::fp16 ? "fp16" : "fp32"; }

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "fp16") return Precision::fp16;
  throw Error("unknown precision '" + name + "': expected fp32 or fp16");
}

}  // namespace microsr
