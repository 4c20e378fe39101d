// Optimized (AVX2, optim/optimizer_avx2.cpp) versions of the optimizer's flat loops; the references in
// kernels/cpu/ref/optimizer_ref.cpp and elementwise_backward_ref.cpp define them and
// tests/test_training_ops_cpu.cpp checks these against them. Single-threaded: the CPU backend
// splits the buffers over threads.
#pragma once
#include <cstdint>

namespace microsr {
struct AdamStep;  // microsr/backend.h
}

namespace microsr::kernels {

// adam_step_ref with 8 lanes at a time (vsqrtps / vdivps; the scalar loop cannot be vectorized by
// the compiler because std::sqrt may set errno). Same operation order as the reference.
void adam_step_avx2(float* param, float* m, float* v, const float* grad, int64_t n, const AdamStep& step);

// sum_squares_ref with 4 double lanes (x converted to double, squared and summed exactly as the
// reference does, in a different order).
double sum_squares_avx2(const float* x, int64_t n);

// What the CPU backend calls: the AVX2 loops when active_cpu_isa() >= avx2 (cpu/cpu_isa.h), the
// references otherwise (optim/optimizer.cpp).
void adam_step_fast(float* param, float* m, float* v, const float* grad, int64_t n, const AdamStep& step);
double sum_squares_fast(const float* x, int64_t n);

}  // namespace microsr::kernels
