// The row kernels of row_math.h compiled for avx2 (CMakeLists.txt gives *_avx2.cpp files the
// AVX2 + FMA flags; the rest is baseline x86-64).
#include "cpu/onnx/row_math.h"

namespace microsr::onnx_fast::avx2 {
#include "cpu/onnx/row_math.inc"
}  // namespace microsr::onnx_fast::avx2
