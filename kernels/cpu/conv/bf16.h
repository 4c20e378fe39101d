// Reduced-precision (bf16) CPU convolution: bf16 products, fp32 accumulation, fp32 in and out.
//
// The direct kernels (all but conv_v10) compute what conv2d_same_ref (cpu_kernels.h) defines, with
// x and the weights rounded to bf16 (round to nearest even) before they are multiplied:
//   y [cout][h][w] = scale * act(Σ bf16(x [cin][h][w]) · bf16(w [cout][cin][k][k]) + bias) + residual
// for any odd k, any cin, cout >= 1 and h, w >= 1. The interface stays NCHW float32 (like every other
// CPU kernel), so the network, the dense block's channel slices and the fused residual adds are
// unchanged; only the convolutions' inputs are rounded, inside the kernel. Each term's relative
// error is at most ~2^-7 (two roundings of 2^-8: bf16 keeps 8 significant bits), so
// |y - y_fp32| <= ~2^-7 Σ|x||w| per output (the typical error of a long sum is far smaller).
//
// Kernels (conv/bf16_kernels.h), picked at run time by cpu_isa.h's level (the first that runs,
// unless MICROSR_BF16_CONV or select_conv_bf16_kernel names one):
//   amx          conv_v9_pixel_major_amx: implicit GEMM on AMX tiles (tdpbf16ps), the input as A
//                tiles read from a pixel-major copy (whole cache lines at every tap)
//                conv_v6_implicit_gemm_amx: the same with the input as B tiles (channel-pair rows)
//                conv_v7_weight_blocked_amx: v6 with each chunk of weights reused from L1 by a
//                group of 4 pixel items (1.8x slower than v6 on AMX: kept as a measured variant)
//   avx512_bf16  conv_v10_winograd23_dpbf16: 3x3 layers as Winograd F(2x2, 3x3) with vdpbf16ps
//                products on fp32 activations (AMD Zen 4 and later, Intel Cooper Lake); its
//                rounding differs from the direct kernels' (the transformed values are rounded, not
//                x and w): conv/v10_winograd23_avx512bf16.cpp, tests/test_conv_bf16_winograd.cpp
//                conv_v8_dpbf16_avx512bf16: vdpbf16ps on 16-pixel vectors, 8 channels x 32 pixels
//                per item (v10's other kernel sizes)
// Below avx512_bf16: no bf16 kernel; conv2d_bf16_packed throws, naming the missing feature.
//
// Weights are packed once per layer (pack_conv_weights_bf16) into 16 x 32 bf16 blocks:
//   data [cout_padded/16][k*k][cin_padded/32][16 co][32 ci]     (zeros past cout, cin)
// which is AMX's A-tile layout (a row is 32 consecutive input channels of one output channel).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

struct PackedBf16ConvWeights {
  int cin = 0, cout = 0, k = 0;
  int cin_padded = 0;                                        // cin rounded up to 32
  int cout_padded = 0;                                       // cout rounded up to 16
  std::vector<uint16_t, CacheLineAllocator<uint16_t>> data;  // layout above, bf16 bit patterns
  // The same weights as AMX B tiles (channel pairs interleaved, for conv_v9's pixel-major input):
  //   data_b [cout_padded/16][k*k][cin_padded/32][16 ci pairs][16 co][2]
  std::vector<uint16_t, CacheLineAllocator<uint16_t>> data_b;
  // 3x3 layers, where conv_v10_winograd23_dpbf16 may run: the Winograd F(2x2, 3x3) transformed
  // weights (conv/bf16_kernels.h: pack_winograd23_bf16); empty otherwise.
  std::vector<uint16_t, CacheLineAllocator<uint16_t>> winograd23;
  std::vector<float> bias;                                   // [cout_padded]; zeros past cout
};

// Null when the active instruction set (cpu_isa.h, MICROSR_CPU_ISA) runs a bf16 kernel; otherwise a
// sentence saying which CPU feature is missing ("... need AVX512_BF16 or AMX ...").
const char* conv_bf16_unavailable_reason();
// The kernel conv2d_bf16_packed runs now ("conv_v9_pixel_major_amx" on AMX, unless
// MICROSR_BF16_CONV or select_conv_bf16_kernel named another), or "none". Throws when the named one
// needs a higher level than the active one.
const char* conv_bf16_kernel_name();
// Every bf16 kernel this CPU runs (none below amx), the default first: for tests and A/B runs.
std::vector<std::string> conv_bf16_kernels();
// Makes `name` (one of conv_bf16_kernels()) the kernel every later bf16 call runs, process-wide
// ("" goes back to the default); throws microsr::Error naming the known ones otherwise.
void select_conv_bf16_kernel(const std::string& name);

// weight [cout][cin][k][k] (PyTorch layout), bias [cout] or null. Runs on any CPU.
PackedBf16ConvWeights pack_conv_weights_bf16(const float* weight, const float* bias, int cin, int cout, int k);

//   y [packed.cout][h][w], x [packed.cin][h][w]; throws microsr::Error when no bf16 kernel can run.
void conv2d_bf16_packed(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                        const ConvEpilogue& epi);
// The same on the nearest x2 upsampling of x, without making it (the bf16 input copy is filled
// from x directly): y [packed.cout][2h][2w] = conv(upsample_nearest2x(x)), x [packed.cin][h][w];
// the same bits as upsample_nearest2x_ref followed by conv2d_bf16_packed (tested).
void conv2d_bf16_packed_upsampled2x(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                                    const ConvEpilogue& epi);
// Two convolutions after the nearest x2 upsampling, the first one's output kept in bf16 only
// (RRDBNet's conv_up2 then conv_hr): its epilogue rounds act(sum + bias) straight into the second
// one's input copy, as the dense blocks do, instead of writing fp32 [cout1][2h][2w] for the second
// one's fill to read and round (the same rounding: the same bits, tested).
//   y [conv2.cout][2h][2w] = epi2(conv2(epi1(conv1(upsample_nearest2x(x [conv1.cin][h][w])))))
// epi1: bias and LeakyReLU only (scale 1, no residual); conv2.cin == conv1.cout, even.
void conv2d_bf16_upsampled2x_pair(float* y, const float* x, const PackedBf16ConvWeights& conv1,
                                  const ConvEpilogue& epi1, const PackedBf16ConvWeights& conv2,
                                  const ConvEpilogue& epi2, int h, int w);
// Whether conv2d_bf16_upsampled2x_pair keeps the first conv's output in bf16 (the direct kernels),
// or makes it in fp32 and runs two plain calls (conv_v10, whose Winograd transform reads fp32): then
// the CPU backend runs the two convolutions itself, on its cached activation memory.
bool conv_bf16_pair_stays_bf16();
// The same on raw weights (packs on every call): the Conv2dFn signature, for tests and benchmarks.
void conv2d_bf16(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                 int k, const ConvEpilogue& epi);

// The Residual Dense Block of RRDBNet (src/nn/rrdbnet.cpp: rdb) in bf16, for inference:
//   x1 = act(conv1(x)), x2 = act(conv2([x, x1])), ..., x4 = act(conv4([x, x1, x2, x3]))
//   out = x + residual_scale * conv5([x, x1, x2, x3, x4])          act = LeakyReLU(lrelu_slope)
//   out [nf][h][w], x [nf][h][w] (fp32 NCHW; out must not alias x); convs[j] takes nf + j g channels
//   to g (j < 4), convs[4] nf + 4 g to nf, all with the same k.
// Same arithmetic as the five conv2d_bf16_packed calls (x and each xj rounded to bf16 once, RNE;
// the same products and sums), so the same bits — but x1..x4 never exist in fp32: each conv's
// epilogue rounds its output straight into one bf16 buffer in the layout the next conv reads
// (conv/bf16_kernels.h: Bf16Input), and only x's nf channels are converted, instead of all
// nf + (j-1) g inputs of every conv (640 channels' worth per block for RealESRGAN -> 64).
// With skip [nf][h][w] (or null), the RRDB's residual around its last block goes into the same
// epilogue: out = skip + residual_scale * (x + residual_scale * conv5(...)), the outer step one
// fused multiply-add as the separate scaled_add_ref computes it: the same bits (tested).
// Needs nf and g even (channel pairs); throws microsr::Error otherwise or when no bf16 kernel runs.
void conv2d_bf16_dense_block(float* out, const float* x, const PackedBf16ConvWeights* const convs[5], int h, int w,
                             float lrelu_slope, float residual_scale, const float* skip = nullptr);

// fp32 -> bf16 bits, round to nearest even (NaN stays NaN); and back (exact).
uint16_t float_to_bf16(float value);
float bf16_to_float(uint16_t bits);

}  // namespace microsr::kernels
