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
// kernels' pixel block (32), so a block never reads past a row.
struct Bf16Input {
  uint16_t* data = nullptr;
  int pad = 0, wp = 0, cols = 0, pairs = 0, rows = 0;
  int64_t row_elems = 0;  // pairs * cols * 2: one padded row of every channel
};

// conv_v6_implicit_gemm_amx (conv/v6_implicit_gemm_amx.cpp): fills `in` from x, then convolves.
// Call only when active_cpu_isa() >= amx.
void conv2d_bf16_packed_amx(float* y, const float* x, const PackedBf16ConvWeights& packed, const Bf16Input& in, int h,
                            int w, const ConvEpilogue& epi);

}  // namespace microsr::kernels
