// The row kernels of row_math.h compiled for baseline x86-64 (SSE2).
#include "cpu/onnx/row_math.h"

namespace microsr::onnx_fast::baseline {
#include "cpu/onnx/row_math.inc"
}  // namespace microsr::onnx_fast::baseline
