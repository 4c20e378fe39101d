// Reduced-precision (bf16) CPU convolution: bf16 products, fp32 accumulation, fp32 in and out.
//
// Computes what conv2d_same_ref (cpu_kernels.h) defines, with x and the weights rounded to bf16
// (round to nearest even) before they are multiplied:
//   y [cout][h][w] = scale * act(Σ bf16(x [cin][h][w]) · bf16(w [cout][cin][k][k]) + bias) + residual
// for any odd k, any cin, cout >= 1 and h, w >= 1. The interface stays NCHW float32 (like every other
// CPU kernel), so the network, the dense block's channel slices and the fused residual adds are
// unchanged; only the convolutions' inputs are rounded, inside the kernel. Each term's relative
// error is at most ~2^-8 (two roundings of 2^-9), so |y - y_fp32| <= ~2^-8 Σ|x||w| per output.
//
// Kernels (conv/bf16_kernels.h), picked at run time by cpu_isa.h's level:
//   amx          conv_v6_implicit_gemm_amx: implicit GEMM on AMX tiles (tdpbf16ps)
// Below amx: no bf16 kernel; conv2d_bf16_packed throws, naming the missing feature.
//
// Weights are packed once per layer (pack_conv_weights_bf16) into 16 x 32 bf16 blocks:
//   data [cout_padded/16][k*k][cin_padded/32][16 co][32 ci]     (zeros past cout, cin)
// which is AMX's A-tile layout (a row is 32 consecutive input channels of one output channel).
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

struct PackedBf16ConvWeights {
  int cin = 0, cout = 0, k = 0;
  int cin_padded = 0;   // cin rounded up to 32
  int cout_padded = 0;  // cout rounded up to 16
  std::vector<uint16_t, CacheLineAllocator<uint16_t>> data;  // layout above, bf16 bit patterns
  std::vector<float> bias;                                    // [cout_padded]; zeros past cout
};

// Null when the active instruction set (cpu_isa.h, MICROSR_CPU_ISA) runs a bf16 kernel; otherwise a
// sentence saying which CPU feature is missing ("... needs AMX (amx_tile, amx_bf16) ...").
const char* conv_bf16_unavailable_reason();
// The kernel conv2d_bf16_packed runs now: "conv_v6_implicit_gemm_amx", or "none".
const char* conv_bf16_kernel_name();

// weight [cout][cin][k][k] (PyTorch layout), bias [cout] or null. Runs on any CPU.
PackedBf16ConvWeights pack_conv_weights_bf16(const float* weight, const float* bias, int cin, int cout, int k);

//   y [packed.cout][h][w], x [packed.cin][h][w]; throws microsr::Error when no bf16 kernel can run.
void conv2d_bf16_packed(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                        const ConvEpilogue& epi);
// The same on raw weights (packs on every call): the Conv2dFn signature, for tests and benchmarks.
void conv2d_bf16(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                 int k, const ConvEpilogue& epi);

// fp32 -> bf16 bits, round to nearest even (NaN stays NaN); and back (exact).
uint16_t float_to_bf16(float value);
float bf16_to_float(uint16_t bits);

}  // namespace microsr::kernels
