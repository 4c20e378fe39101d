// conv_v3_winograd43 / conv_v4_winograd43_3x32: Winograd F(4x4, 3x3) convolution, AVX2 + FMA
// (k == 3; other k fall back to conv_v2_direct16). v3's format is what the CPU
// backend packs 3x3 layers into (best_conv_weight_format).
//
// Figures (and the earlier comparison with torch): docs/kernels.md. Packing per call (the plain
// signature) is a visible share of a small conv: cache it with pack_conv_weights() +
// conv2d_packed(). The products are the largest share of the time, then the input transform and
// the padding copy, which grow once the padded input no longer fits L2. Winograd's transforms add
// rounding: ~1e-6 of sum|terms| against a double-precision convolution (direct: ~2e-7),
// ~1e-5 on the whole network's output vs a 1e-4 budget (tests/test_conv_cpu.cpp bounds it).
//
// Math (Lavin & Gray, points 0, ±1, ±2): each 4x4 output tile Y comes from the 6x6 input window
// d around it as  Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A,  summed over input channels. So per tile
// the 9*16 = 144 multiply-adds per (ci, co) pair of direct convolution become 36 — a 4x cut —
// paid for with the input transform (per tile and ci) and the output transform (per tile and co).
// The 36 positions ξ of the 6x6 transformed tile are independent, so the channel sums are
// 36 small matrix products  M[ξ][co][tile] = Σ_ci U[ξ][co][ci] · V[ξ][ci][tile].
//
// Memory layout
//   Tiles: tile (tr, tc) covers output rows 4tr..4tr+3 and columns 4tc..4tc+3. Tile columns are
//   padded to a multiple of 8 (tiles_per_row), and tiles are numbered row-major, so every group of
//   8 consecutive tiles lies in one tile row: the transforms handle 8 tiles per ymm vector.
//   Padded input (the fused x2 upsampling only): [cin][plane], rows of 4*tiles_per_row + 4
//   floats, zero border of 1 at top and left (so the window of tile (tr, tc) starts at padded row
//   4tr, column 4tc), zeros elsewhere. Otherwise the windows are read from x [cin][h][w] itself.
//   Packed weights U: [36 ξ][ceil(cout/CO)][cin][CO] floats — for one ξ and block of CO output
//   channels, the CO weights of each input channel are adjacent (one broadcast each); a last
//   partial block is zero-filled. Computed in double from the PyTorch weights, rounded once.
//   Per batch of up to 8*NV tiles (per thread): V [36][cin][8*NV], M [36][CO*ceil(cout/CO)][8*NV].
//
// Micro-kernel (the 36 products, batch_product<CO, NV>): CO output channels x 8*NV tiles.
//   v3: 4 x 24 tiles = 12 ymm accumulators + 3 tile vectors held in registers + 1 broadcast:
//   per input channel 3 aligned V loads + 4 U broadcasts for 12 FMAs.
//   v4: 3 x 32 tiles: 12 accumulators + 3 broadcasts leave one register, so each tile vector is
//   loaded for every FMA (12 + 3 loads per 12 FMAs): ~20% slower than v3, kept for the record.
//   A batch's V slice for one ξ, cin*24 floats (18 KiB at cin = 192), stays in L1 while every
//   channel block uses it.
//
// Transforms are vectorized over 8 tiles: a row of the 8 tiles' 6x6 windows is 36 consecutive
//   floats (5 loads); a 4-way deinterleave (8x4 transpose, 12 shuffles, and 5 more for columns 4
//   and 5: deinterleave_window_row) turns it into 6 vectors, one per window column. The output
//   transform interleaves the same way to store 32 consecutive pixels. With fp16 storage
//   (conv/fp16.h) the loads are conversions (vcvtph2ps) of 36 halves.
//
// Threading: one OpenMP region per call: each thread takes an equal share of the 8-tile groups,
//   cut into batches of at most NV groups; each batch does input transform -> 36 products ->
//   output transform + epilogue, so V and M stay in the thread's L2. A 64x64 image (32 groups)
//   splits 16/16 over 2 threads. The input transform reads the activations themselves
//   (input_transform_8_tiles_direct: windows that overhang the image go through a zero-padded
//   copy of the window); only the fused x2 upsampling still fills a padded copy of the input.
#include <immintrin.h>

#include "cpu/conv/isa_kernels.h"
#include "cpu/conv/winograd43_driver.h"

namespace microsr::kernels {
namespace {

using namespace winograd43;

// m [CO channels][m_stride] = Σ_ci u[ci][CO] * v[ci][8*NV tiles]   (overwrites m)
// Register budget (16 ymm): CO*NV accumulators plus either
//   - all NV tile vectors + 1 weight broadcast at a time (when CO*NV + NV + 1 <= 16; 4x3 case):
//     per input channel NV vector loads + CO broadcasts (7 loads per 12 FMAs), or
//   - all CO broadcasts + 1 tile vector at a time (3x4 case): gcc then folds the tile loads into
//     the FMAs, so each tile vector is loaded CO times (12 loads + 3 broadcasts per 12 FMAs).
template <int CO, int NV>
__attribute__((noinline)) void batch_product(float* m, int64_t m_stride, const float* u, const float* v,
                                             int64_t v_stride, int cin) {
  constexpr bool kTilesInRegisters = CO * NV + NV + 1 <= 16;
  __m256 acc[CO][NV];
#pragma GCC unroll 4
  for (int c = 0; c < CO; ++c)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[c][j] = _mm256_setzero_ps();
  for (int ci = 0; ci < cin; ++ci) {
    if constexpr (kTilesInRegisters) {
      __m256 t[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        t[j] = _mm256_load_ps(v + 8 * j);
        __asm__("" : "+x"(t[j]));  // keep it in a register: stops gcc re-loading it per FMA
      }
#pragma GCC unroll 4
      for (int c = 0; c < CO; ++c) {
        const __m256 ub = _mm256_broadcast_ss(u + c);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[c][j] = _mm256_fmadd_ps(ub, t[j], acc[c][j]);
      }
    } else {
      __m256 ub[CO];
#pragma GCC unroll 4
      for (int c = 0; c < CO; ++c) ub[c] = _mm256_broadcast_ss(u + c);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        const __m256 t = _mm256_load_ps(v + 8 * j);
#pragma GCC unroll 4
        for (int c = 0; c < CO; ++c) acc[c][j] = _mm256_fmadd_ps(ub[c], t, acc[c][j]);
      }
    }
    u += CO;
    v += v_stride;
  }
#pragma GCC unroll 4
  for (int c = 0; c < CO; ++c)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) _mm256_store_ps(m + c * m_stride + 8 * j, acc[c][j]);
}

// One value, and 8 consecutive ones, as floats (fp16 widened exactly).
float widened(float value) { return value; }
float widened(uint16_t half) { return _cvtsh_ss(half); }
__m256 widened8(const float* p) { return _mm256_loadu_ps(p); }
__m256 widened8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

using winograd43::input_transform_8_tiles;  // the fp32 form, overloaded below for fp16

// The input transform of 8 tiles whose window rows are fp16 bit patterns (conv/fp16.h), row_stride
// halves apart: each row's first 36 halves are widened (vcvtph2ps, exact) as they are loaded, the
// same values the fp32 transform would read from a widened copy.
void input_transform_8_tiles(float* v, int64_t v_stride, const uint16_t* window, int row_stride) {
  input_transform_8_tiles_rows(v, v_stride, [&](int r, __m256 d[6]) {
    const uint16_t* p = window + static_cast<int64_t>(r) * row_stride;
    deinterleave_window_row(d, widened8(p), widened8(p + 8), widened8(p + 16), widened8(p + 24),
                            _mm256_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 32))));
  });
}

// The input transform of 8 tiles straight from the unpadded channel plane [h][w] (floats, or fp16
// bit patterns), no padded copy of the whole input: the windows' top-left corner is (row0, col0),
// one row above and one column left of the first tile. input_transform_8_tiles reads 36 values of
// each of the 6 rows; where that stays inside the image it reads the plane itself, otherwise (the
// image's edges: the first and last group of a tile row, the first and last tile row) a
// zero-padded fp32 copy of the 6 x 36 window on the stack. The same values either way, so the same
// bits as the padded copy.
template <class Plane>
void input_transform_8_tiles_direct(float* v, int64_t v_stride, const Plane* plane, int h, int w, int row0, int col0) {
  constexpr int kSpan = 36;
  if (row0 >= 0 && row0 + kWindow <= h && col0 >= 0 && col0 + kSpan <= w)
    return input_transform_8_tiles(v, v_stride, plane + static_cast<int64_t>(row0) * w + col0, w);
  alignas(32) float window[kWindow][kSpan + 4] = {};                                  // + 4: room to spare
  const int first = col0 < 0 ? -col0 : 0, end = w - col0 < kSpan ? w - col0 : kSpan;  // valid columns
  for (int r = 0; r < kWindow; ++r) {
    const int iy = row0 + r;
    if (iy < 0 || iy >= h) continue;
    const Plane* row = plane + static_cast<int64_t>(iy) * w + col0;
    int c = first;
    for (; c + 8 <= end; c += 8) _mm256_storeu_ps(window[r] + c, widened8(row + c));
    for (; c < end; ++c) window[r][c] = widened(row[c]);
  }
  input_transform_8_tiles(v, v_stride, window[0], kSpan + 4);
}

// Picks the micro-kernel for a batch of `vecs` ymm of tiles (1..NV): a thread's last batch may be
// narrower than NV vectors, and then computes only what it stores.
template <int CO, int NV>
ProductFn product_for(int vecs) {
  if constexpr (NV > 1) {
    if (vecs < NV) return product_for<CO, NV - 1>(vecs);
  }
  return batch_product<CO, NV>;
}

// The micro-kernel for a batch of `tiles` tiles: v3's 4 cout x up to 24 tiles, v4's 3 x 32.
ProductFn pick_product_4x24(int tiles) { return product_for<4, 3>((tiles + 7) / 8); }
ProductFn pick_product_3x32(int tiles) { return product_for<3, 4>((tiles + 7) / 8); }

}  // namespace

void conv2d_winograd43_packed_avx2(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                   const ConvEpilogue& epi, bool input_upsampled2x) {
  // v3: 4 cout x 24 tiles (batches of 24 tiles); v4: 3 cout x 32 tiles (batches of 32).
  if (packed.co_block == 4)
    return winograd43_run<24, 8>(y, x, packed, h, w, epi, input_transform_8_tiles, pick_product_4x24, input_upsampled2x,
                                 input_transform_8_tiles_direct<float>);
  winograd43_run<32, 8>(y, x, packed, h, w, epi, input_transform_8_tiles, pick_product_3x32, input_upsampled2x,
                        input_transform_8_tiles_direct<float>);
}

// The dense block for weights packed with co_block 4 (v3's 4 x 24 micro-kernel).
int64_t winograd43_dense_block_elems_avx2(int channels, int h, int w) {
  return wavefront::kRingSlots * winograd43_dense_block_plan<24, 8>(channels, h, w).slot_elems;
}

void dense_block_winograd43_avx2(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                                 float lrelu_slope, float residual_scale, float* ring, float* slices) {
  winograd43_dense_block<24, 8>(out, x, convs, h, w, lrelu_slope, residual_scale, ring, slices,
                                input_transform_8_tiles_direct<float>, pick_product_4x24);
}

// The dense block with its activations stored in fp16 (conv/fp16.h: conv2d_dense_block_fp16):
// dense [nf + 4g][h][w] halves holds x, then x1..x4 as conv1..conv4 make them; conv5 writes fp32.
void dense_block_winograd43_fp16_avx2(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                                      float lrelu_slope, float residual_scale, uint16_t* dense) {
  const int nf = convs[0]->cin, g = convs[0]->cout;
  const int64_t plane = static_cast<int64_t>(h) * w;
  const uint16_t* input = dense;
  floats_to_fp16(dense, x, nf * plane);
  ConvEpilogue activation;  // x_j = fp16(LeakyReLU(conv_j(...) + bias))
  activation.has_lrelu = true;
  activation.lrelu_slope = lrelu_slope;
  for (int j = 0; j < 4; ++j)
    winograd43_run<24, 8>(dense + (nf + static_cast<int64_t>(j) * g) * plane, input, *convs[j], h, w, activation,
                          input_transform_8_tiles, pick_product_4x24, false, input_transform_8_tiles_direct<uint16_t>);
  ConvEpilogue residual;  // out = x + residual_scale * (conv5(...) + bias), x itself in fp32
  residual.scale = residual_scale;
  residual.residual = x;
  winograd43_run<24, 8>(out, input, *convs[4], h, w, residual, input_transform_8_tiles, pick_product_4x24, false,
                        input_transform_8_tiles_direct<uint16_t>);
}

// The upsampling pair (conv/fp16.h): conv1's output rounded into `between`; conv2's into y, in
// fp32 or (Out = uint16_t) fp16.
template <class Out>
void upsampled2x_pair_fp16(Out* y, const float* x, const PackedConvWeights& conv1, const ConvEpilogue& epi1,
                           const PackedConvWeights& conv2, const ConvEpilogue& epi2, int h, int w, uint16_t* between) {
  winograd43_run<24, 8>(between, x, conv1, 2 * h, 2 * w, epi1, input_transform_8_tiles, pick_product_4x24, true,
                        input_transform_8_tiles_direct<float>);
  const uint16_t* input = between;
  winograd43_run<24, 8>(y, input, conv2, 2 * h, 2 * w, epi2, input_transform_8_tiles, pick_product_4x24, false,
                        input_transform_8_tiles_direct<uint16_t>);
}

void conv2d_winograd43_upsampled2x_pair_fp16_avx2(float* y, const float* x, const PackedConvWeights& conv1,
                                                  const ConvEpilogue& epi1, const PackedConvWeights& conv2,
                                                  const ConvEpilogue& epi2, int h, int w, uint16_t* between) {
  upsampled2x_pair_fp16(y, x, conv1, epi1, conv2, epi2, h, w, between);
}

void conv2d_winograd43_upsampled2x_pair_fp16_avx2(uint16_t* y, const float* x, const PackedConvWeights& conv1,
                                                  const ConvEpilogue& epi1, const PackedConvWeights& conv2,
                                                  const ConvEpilogue& epi2, int h, int w, uint16_t* between) {
  upsampled2x_pair_fp16(y, x, conv1, epi1, conv2, epi2, h, w, between);
}

void conv2d_winograd43_fp16_input_avx2(float* y, const uint16_t* x, const PackedConvWeights& packed, int h, int w,
                                       const ConvEpilogue& epi) {
  winograd43_run<24, 8>(y, x, packed, h, w, epi, input_transform_8_tiles, pick_product_4x24, false,
                        input_transform_8_tiles_direct<uint16_t>);
}

}  // namespace microsr::kernels
