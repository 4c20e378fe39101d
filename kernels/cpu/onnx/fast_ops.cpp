// The table of fast kernels (fast_ops.h).
#include "cpu/onnx/fast_ops.h"

#include <cstdlib>
#include <cstring>

namespace microsr::onnx_fast {

const FastTable& all_fast_kernels() {
  static const FastTable table = [] {
    FastTable t;
    add_fast_matmul_ops(t);
    add_fast_conv_ops(t);
    add_fast_vector_ops(t);
    add_fast_movement_ops(t);
    add_fast_reduce_ops(t);
    add_fast_resize_ops(t);
    add_fast_fused_ops(t);
    add_fast_attention_ops(t);
    return t;
  }();
  return table;
}

const FastTable& fast_kernel_table() {
  static const FastTable none;
  static const bool reference_only = [] {
    const char* v = std::getenv("MICROSR_ONNX_REFERENCE");
    return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
  }();
  return reference_only ? none : all_fast_kernels();
}

}  // namespace microsr::onnx_fast
