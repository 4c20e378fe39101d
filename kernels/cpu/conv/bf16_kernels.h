// The bf16 convolution kernels of each instruction set, behind conv/bf16_dispatch.cpp, and the
// bf16 input copy they read. Declarations and a plain struct only (no inline code: cpu_isa.h).
#pragma once
#include <cstdint>

#include "cpu/conv/bf16.h"

namespace microsr::kernels {

// A zero-padded bf16 copy of x [cin][h][w] with channel pairs interleaved, so that 16 adjacent
// pixels of two channels are 64 contiguous bytes (one row of an AMX B tile, one zmm for vdpbf16ps):
//   data [rows][pairs][cols][2]     rows = h + 2 pad, pairs = cin_padded / 2, cols = wp + 2 pad
// image pixel (iy, ix) of channel c sits at row iy + pad, pair c / 2, column ix + pad, slot c % 2;
// everything else (border, columns past w, channels past cin) is zero. wp is w rounded up to the
// kernels' pixel block (32), so a block never reads past a row. A dense block's buffer has more
// pairs than one convolution reads (its first cin_padded / 2): channels past that conv's cin may
// then hold later activations, which its zero weights there ignore.
// With pixel_major (conv_v9's layout), each row holds 32-channel blocks of whole pixels instead:
//   data [rows][pairs / 16][cols][32]      (pairs is always a multiple of 16: cin_padded / 2)
// channel c of that pixel at block c / 32, column ix + pad, slot c % 32: one pixel's 32 channels are
// one 64-byte line, so an AMX A tile of 16 pixels is 16 whole lines at any tap (kx moves it by
// whole lines), where the pair layout's rows start 4 kx bytes into a line and straddle two.
struct Bf16Input {
  uint16_t* data = nullptr;
  int pad = 0, wp = 0, cols = 0, pairs = 0, rows = 0;
  bool pixel_major = false;
  int64_t row_elems = 0;  // pairs * cols * 2: one padded row of every channel (either layout)
};

// Where a bf16 convolution writes its output [cout][h][w]:
//  * y (fp32 NCHW): scale * act(sum + bias) + residual, the whole ConvEpilogue;
//  * dense (bf16, another or the same Bf16Input): act(sum + bias) rounded to bf16 into channels
//    [channel0, channel0 + cout) — the dense block keeps its activations in the layout the next
//    convolution reads (conv/bf16.h: conv2d_bf16_dense_block). channel0 is even; scale must be 1 and
//    there is no residual. Pixels past w are written as zeros (they are the next conv's padding).
// With y, skip (or null) [cout][h][w] adds one more scaled residual after the epilogue:
//   y = fma(v, skip_scale, skip),  v = scale * act(sum + bias) + residual   (as scaled_add_ref)
struct Bf16Output {
  float* y = nullptr;
  const float* skip = nullptr;
  float skip_scale = 1.0f;
  const Bf16Input* dense = nullptr;
  int channel0 = 0;
};

// conv_v6_implicit_gemm_amx (conv/v6_implicit_gemm_amx.cpp): fills channels [0, fill_channels) of
// `in` from x [fill_channels][h][w] unless x is null (then `in` already holds the input), then
// convolves the packed weights' cin channels of `in` into `out`.
// Call only when active_cpu_isa() >= amx.
void conv2d_bf16_packed_amx(const Bf16Output& out, const float* x, int fill_channels,
                            const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                            const ConvEpilogue& epi);

// conv_v7_weight_blocked_amx (conv/v7_weight_blocked_amx.cpp): the same contract; v6's tile loop
// with each chunk of weights reused from L1 by a group of pixel items.
void conv2d_bf16_packed_amx_v7(const Bf16Output& out, const float* x, int fill_channels,
                               const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                               const ConvEpilogue& epi);

// conv_v9_pixel_major_amx (conv/v9_pixel_major_amx.cpp): the same contract on a pixel-major `in`
// (and out.dense), with the input as the A tiles and the weights (packed.data_b) as the B tiles.
void conv2d_bf16_packed_amx_v9(const Bf16Output& out, const float* x, int fill_channels,
                               const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                               const ConvEpilogue& epi);

// Fills every pair of `in` (channels past cin as zeros) with the nearest x2 upsampling of
// x [cin][h/2][w/2] (h, w: the upsampled size, even), as a kernel's own fill would fill it from the
// upsampled fp32 tensor; then a kernel called with x = null convolves it. Needs avx512_bf16.
void fill_bf16_input_upsampled2x(const Bf16Input& in, const float* x, int cin, int h, int w);

// conv_v8_dpbf16_avx512bf16 (conv/v8_dpbf16_avx512bf16.cpp): the same contract with vdpbf16ps
// (AVX512_BF16, no AMX). Call only when active_cpu_isa() >= avx512_bf16.
void conv2d_bf16_packed_avx512bf16(const Bf16Output& out, const float* x, int fill_channels,
                                   const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                                   const ConvEpilogue& epi);

// conv_v10_winograd23_dpbf16 (conv/v10_winograd23_avx512bf16.cpp): a 3x3 convolution as Winograd
// F(2x2, 3x3) with bf16 products (vdpbf16ps), fp32 in and out: y [cout][h][w] = epi(conv(x)),
// x [cin][h][w], or with input_upsampled2x x [cin][h/2][w/2] and the conv run on its nearest x2
// upsampling (h, w even). Needs packed.winograd23 (pack_winograd23_bf16). Call only when
// active_cpu_isa() >= avx512_bf16.
void conv2d_winograd23_bf16_avx512bf16(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                                       const ConvEpilogue& epi, bool input_upsampled2x);

// conv_v10's RRDB dense block (conv/bf16.h: conv2d_bf16_dense_block; every conv 3x3 with the
// Winograd form packed, nf and g even), as a wavefront over bands of rows: x's channels and then
// each x_j's are transformed once, band by band, into v_ring (winograd23_dense_block_elems(nf/2 +
// 2g, h, w) bf16 elements, 64-byte aligned: a ring of 5 bands), which the later convolutions of the
// block read while it is in cache; slices [4][g][h][w] hold x1..x4 in fp32.
// out = x + residual_scale * conv5(...), the same bits as the five conv2d_bf16_packed calls.
void dense_block_winograd23_avx512bf16(float* out, const float* x, const PackedBf16ConvWeights* const convs[5],
                                       int h, int w, float lrelu_slope, float residual_scale, uint16_t* v_ring,
                                       float* slices);
int64_t winograd23_dense_block_elems(int pairs, int h, int w);

// Output channels per block of packed.winograd23 (conv_v10's micro-kernel height).
constexpr int kWinograd23Bf16CoBlock = 8;

// Fills packed.winograd23 from weight [cout][cin][3][3] (conv/winograd23_bf16_weights.cpp):
//   U = G g G^T in double, rounded to fp32, then to bf16 (nearest even), laid out as
//   [16 ξ][ceil(cout/8) co blocks][ceil(cin/2) channel pairs][8 co][2]   (zeros past cin, cout)
// where ξ = 4 i + j is row i, column j of the 4x4 transform. Runs on any CPU.
void pack_winograd23_bf16(PackedBf16ConvWeights& packed, const float* weight);

}  // namespace microsr::kernels
