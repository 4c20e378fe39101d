// conv_v5_winograd43_avx512: Winograd F(4x4, 3x3) as conv_v3 (conv/v3_winograd43_avx2.cpp has
// the math and the layouts; conv/winograd43_driver.h the batching and the transforms), with the 36
// products in the transformed domain — most of the time — on AVX-512: 16 tiles per zmm register.
//
// Micro-kernel: CO output channels x 16*NV tiles, m [CO][m_stride] = Σ_ci u[ci][CO] v[ci][tiles].
//   8 x 48 (CO = 8, NV = 3): 24 zmm accumulators + 3 tile vectors + 1 broadcast of the 32 zmm
//   registers; per input channel 3 aligned V loads + 8 U broadcasts for 24 FMAs of 16 lanes, so
//   two 512-bit FMA pipes stay busy (24 independent accumulators cover 4-cycle latency x 2 pipes).
//   Weights are packed with co_block 8 (ConvWeightFormat::kWinograd43Avx512); layers with at most
//   4 outputs (conv_last) are packed with co_block 4 and run 4 x 96 (24 accumulators + 6 + 1).
// Batches are 48 tiles (8 x 48) or 96 tiles (4 x 96). The input and output transforms are the
// AVX2 ones (8 tiles per ymm), compiled here with the AVX-512 flags.
//
// This file is compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq (CMakeLists.txt: the
// *_avx512.cpp rule) and only called when active_cpu_isa() >= avx512 (conv/dispatch.cpp).
#include <immintrin.h>

#include "cpu/conv/isa_kernels.h"
#include "cpu/conv/winograd43_driver.h"

namespace microsr::kernels {
namespace {

using namespace winograd43;

template <int CO, int NV>
__attribute__((noinline)) void batch_product_zmm(float* m, int64_t m_stride, const float* u, const float* v,
                                                 int64_t v_stride, int cin) {
  __m512 acc[CO][NV];
#pragma GCC unroll 8
  for (int c = 0; c < CO; ++c)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[c][j] = _mm512_setzero_ps();
  for (int ci = 0; ci < cin; ++ci) {
    __m512 t[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      t[j] = _mm512_load_ps(v + 16 * j);
      __asm__("" : "+v"(t[j]));  // keep it in a register: stops gcc re-loading it per FMA
    }
#pragma GCC unroll 8
    for (int c = 0; c < CO; ++c) {
      const __m512 ub = _mm512_set1_ps(u[c]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[c][j] = _mm512_fmadd_ps(ub, t[j], acc[c][j]);
    }
    u += CO;
    v += v_stride;
  }
#pragma GCC unroll 8
  for (int c = 0; c < CO; ++c)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) _mm512_store_ps(m + c * m_stride + 16 * j, acc[c][j]);
}

// The micro-kernel for a batch of `vecs` zmm of tiles (1..NV). A batch of an odd number of 8-tile
// groups computes half a vector more than it stores: those lanes read V left from an earlier
// batch (finite or not, lanes do not mix) and land in M lanes nobody reads.
template <int CO, int NV>
ProductFn product_for(int vecs) {
  if constexpr (NV > 1) {
    if (vecs < NV) return product_for<CO, NV - 1>(vecs);
  }
  return batch_product_zmm<CO, NV>;
}

}  // namespace

void conv2d_winograd43_packed_avx512(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                     const ConvEpilogue& epi) {
  if (packed.co_block == 8)
    return winograd43_run<48>(y, x, packed, h, w, epi, [](int tiles) { return product_for<8, 3>((tiles + 15) / 16); });
  winograd43_run<96>(y, x, packed, h, w, epi, [](int tiles) { return product_for<4, 6>((tiles + 15) / 16); });
}

}  // namespace microsr::kernels
