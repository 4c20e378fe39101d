// Precision names (include/microsr/backend.h), in every build: the CPU backend refuses fp16 and
// the CUDA backend bf16 by name, so both need them.
#include "microsr/backend.h"

namespace microsr {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32:
      return "fp32";
    case Precision::fp16:
      return "fp16";
    case Precision::bf16:
      return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "fp16") return Precision::fp16;
  if (name == "bf16") return Precision::bf16;
  throw Error("unknown precision '" + name + "': expected fp32, fp16 or bf16");
}

}  // namespace microsr
