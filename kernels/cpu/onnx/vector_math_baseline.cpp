// The row kernels of vector_math.h compiled for baseline (CMakeLists.txt gives *_avx2.cpp files the
// AVX2 + FMA flags; the rest is baseline x86-64).
#include "cpu/onnx/vector_math.h"

namespace microsr::onnx_fast::baseline {
#include "cpu/onnx/vector_math.inc"
}  // namespace microsr::onnx_fast::baseline
