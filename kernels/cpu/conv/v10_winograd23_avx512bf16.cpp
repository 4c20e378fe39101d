// conv_v10_winograd23_dpbf16: the bf16 3x3 convolution for CPUs with AVX512_BF16 but no AMX (AMD
// Zen 4 and later), as Winograd F(2x2, 3x3) with the products in bf16 (vdpbf16ps).
//
// Why: on Zen 4 one vdpbf16ps does twice the multiply-adds of an fp32 FMA, but the fp32 path's
// Winograd F(4x4, 3x3) does 4x fewer of them than a direct convolution, so the direct bf16 kernel
// (conv_v8) could not pass fp32. Winograd in bf16 needs the small tile: F(4x4)'s transforms
// (points ±2, output weights up to 8) amplify the bf16 rounding of the transformed values ~9x over
// a direct bf16 convolution's error, F(2x2)'s (points 0, ±1: sums and differences only) ~1.5x
// (a numpy model of one 64 -> 32 layer; docs/performance.md has the measured PSNR). F(2x2) cuts the
// multiply-adds 2.25x against direct: 16 per 2x2 tile and channel pair instead of 36.
//
// Math (Lavin & Gray F(2,3)): each 2x2 output tile Y comes from the 4x4 input window d around it:
//   Y = A^T [ Σ_ci U_ci ⊙ V_ci ] A,   U = G g G^T (4x4, bf16),   V = B^T d B (4x4, fp32 -> bf16)
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// The 16 positions ξ are independent: M[ξ][co][tile] = Σ_ci U[ξ][co][ci] V[ξ][ci][tile].
// Rounding (what tests/test_conv_bf16.cpp reproduces): V is computed in fp32 from the fp32 input
// (rows first, then columns, in the order of input_transform_1d), then rounded to bf16 (nearest
// even); U in double from the fp32 weights, rounded to fp32 and then to bf16 (pack_winograd23_bf16);
// products exact, sums in fp32; the output transform and the epilogue in fp32.
//
// Memory layout
//   Tiles: tile (tr, tc) covers output rows 2tr, 2tr+1 and columns 2tc, 2tc+1; tile columns are
//   padded to a multiple of 16 (one zmm of tiles), numbered row-major, so 16 consecutive tiles lie
//   in one tile row.
//   Padded input (fp32): [cin][plane], rows of 2*tiles_per_row + 2 floats, zero border of 1 at top
//   and left: tile (tr, tc)'s window starts at padded row 2tr, column 2tc.
//   Weights U (packed.winograd23): [16 ξ][ceil(cout/8) co blocks][ceil(cin/2) pairs][8 co][2]
//   bf16: for one ξ and block, a channel pair's 8 output channels are 32 contiguous bytes (8 32-bit
//   broadcasts of (u[co][2p], u[co][2p+1])).
//   Per batch of up to 48 tiles (per thread): V [16 ξ][pairs][48 tiles][2] bf16 (a zmm load is 16
//   tiles x one channel pair, the layout vdpbf16ps multiplies pairwise), M [16 ξ][8 co blocks][48] fp32.
//
// Micro-kernel: 8 output channels x 16*NV tiles (NV <= 3): 24 zmm accumulators; per channel pair
//   NV V loads + 8 weight broadcasts for 8 NV vdpbf16ps (2 multiply-adds per lane each).
// Threading: as conv/winograd43_driver.h: the threads fill the padded input, then each takes an
//   equal share of the 16-tile groups in batches of at most 3 groups: input transform -> 16
//   products per co block -> output transform + epilogue, so V and M stay in the thread's L2.
//
// Compiled with the AVX-512 flags + -mavx512bf16 (CMakeLists.txt: the *_avx512bf16.cpp rule); run
// only when active_cpu_isa() >= avx512_bf16 (conv/bf16_dispatch.cpp).
#include <immintrin.h>
#include <omp.h>

#include <cstdint>

#include "cpu/conv/bf16_kernels.h"
#include "cpu/conv/common.h"
#include "cpu/conv/epilogue_avx2.h"
#include "cpu/threads.h"

namespace microsr::kernels {
namespace {

constexpr int kTile = 2;        // output tile side
constexpr int kWindow = 4;      // input window side
constexpr int kPositions = 16;  // ξ: 4x4 transformed positions
constexpr int kGroupTiles = 16; // tiles per zmm, the unit of the transforms
constexpr int kMaxVecs = 3;     // zmm of tiles per micro-kernel call
constexpr int kBatch = kGroupTiles * kMaxVecs;  // tiles per batch
constexpr int kCo = kWinograd23Bf16CoBlock;     // output channels per micro-kernel call (8)

// m [kCo][m_stride] = Σ_pairs dot(u[pair][kCo][2], v[pair][16 NV tiles][2])   (overwrites m)
template <int NV>
__attribute__((noinline)) void batch_product(float* m, int64_t m_stride, const uint16_t* u, const uint16_t* v,
                                             int64_t v_stride, int pairs) {
  __m512 acc[kCo][NV];
#pragma GCC unroll 8
  for (int c = 0; c < kCo; ++c)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[c][j] = _mm512_setzero_ps();
  for (int p = 0; p < pairs; ++p) {
    __m512bh t[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) t[j] = (__m512bh)_mm512_load_si512(v + 32 * j);
#pragma GCC unroll 8
    for (int c = 0; c < kCo; ++c) {
      int32_t pair_bits;
      __builtin_memcpy(&pair_bits, u + 2 * c, 4);
      const __m512bh uc = (__m512bh)_mm512_set1_epi32(pair_bits);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[c][j] = _mm512_dpbf16_ps(acc[c][j], t[j], uc);
    }
    u += 2 * kCo;
    v += v_stride;
  }
#pragma GCC unroll 8
  for (int c = 0; c < kCo; ++c)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) _mm512_store_ps(m + c * m_stride + 16 * j, acc[c][j]);
}

using ProductFn = void (*)(float*, int64_t, const uint16_t*, const uint16_t*, int64_t, int);
ProductFn product_for(int vecs) {
  return vecs >= 3 ? batch_product<3> : vecs == 2 ? batch_product<2> : batch_product<1>;
}

// o = B^T d on vectors of 16 tiles.
inline void input_transform_1d(__m512 o[4], const __m512 d[4]) {
  o[0] = _mm512_sub_ps(d[0], d[2]);
  o[1] = _mm512_add_ps(d[1], d[2]);
  o[2] = _mm512_sub_ps(d[2], d[1]);
  o[3] = _mm512_sub_ps(d[1], d[3]);
}

// V[ξ] (ξ = 4 i + j) for 16 horizontally adjacent tiles of one channel; window: the first tile's
// 4x4 window in the padded input. A window row of 16 tiles is 34 floats p[0..33], column j of tile
// t at p[2t + j]: columns 0 and 1 are p's even and odd floats (one 2-source permute each), columns
// 2 and 3 the same moved down one tile, with p[32], p[33] for the last tile.
inline void input_transform_16_tiles(__m512 v[kPositions], const float* window, int row_stride) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i next_tile = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  const __m512i next_tile_1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
  __m512 rows[kWindow][kWindow];  // rows[r]: B^T along window row r
  for (int r = 0; r < kWindow; ++r) {
    const float* p = window + static_cast<int64_t>(r) * row_stride;
    const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    const __m512 tail = _mm512_maskz_loadu_ps(0x3, p + 32);  // p[32], p[33] in lanes 0, 1
    __m512 d[4];
    d[0] = _mm512_permutex2var_ps(a, even, b);
    d[1] = _mm512_permutex2var_ps(a, odd, b);
    d[2] = _mm512_permutex2var_ps(d[0], next_tile, tail);    // lane 15 <- p[32]
    d[3] = _mm512_permutex2var_ps(d[1], next_tile_1, tail);  // lane 15 <- p[33]
    input_transform_1d(rows[r], d);
  }
  for (int j = 0; j < kWindow; ++j) {
    const __m512 column[4] = {rows[0][j], rows[1][j], rows[2][j], rows[3][j]};
    __m512 out[4];
    input_transform_1d(out, column);
    for (int i = 0; i < kWindow; ++i) v[i * 4 + j] = out[i];
  }
}

// The transformed pair (channel 2p: even, 2p + 1: odd) of 16 tiles, bf16, interleaved per tile:
// word 2t = bf16(even[t]), word 2t + 1 = bf16(odd[t]).
inline __m512i interleave_pair_bf16(__m512 even, __m512 odd) {
  alignas(64) static constexpr uint16_t kOrder[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                      8,  24, 9,  25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i order = _mm512_load_si512(kOrder);
  const __m512i halves = (__m512i)_mm512_cvtne2ps_pbh(odd, even);  // words 0-15: even, 16-31: odd
  return _mm512_permutexvar_epi16(order, halves);
}

// Y = A^T M A for 16 tiles of one output channel (m[ξ] at m + ξ m_stride), as 2 output rows of
// 32 consecutive pixels.
inline void output_transform_16_tiles(float out[kTile][32], const float* m, int64_t m_stride) {
  const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  __m512 t[kTile][kWindow];  // A^T along the window's rows: t[i][j] = Σ_r A^T[i][r] M[r][j]
  for (int j = 0; j < kWindow; ++j) {
    const __m512 m0 = _mm512_load_ps(m + (0 + j) * m_stride), m1 = _mm512_load_ps(m + (4 + j) * m_stride);
    const __m512 m2 = _mm512_load_ps(m + (8 + j) * m_stride), m3 = _mm512_load_ps(m + (12 + j) * m_stride);
    t[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
    t[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
  }
  for (int i = 0; i < kTile; ++i) {
    const __m512 y0 = _mm512_add_ps(_mm512_add_ps(t[i][0], t[i][1]), t[i][2]);  // column 0 of each tile
    const __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(t[i][1], t[i][2]), t[i][3]);  // column 1
    _mm512_store_ps(out[i], _mm512_permutex2var_ps(y0, first, y1));
    _mm512_store_ps(out[i] + 16, _mm512_permutex2var_ps(y0, second, y1));
  }
}

}  // namespace

void conv2d_winograd23_bf16_avx512bf16(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                                       const ConvEpilogue& epi, bool input_upsampled2x) {
  const int cin = packed.cin, cout = packed.cout, pairs = (cin + 1) / 2;
  const int co_blocks = (cout + kCo - 1) / kCo;
  const int tile_rows = (h + kTile - 1) / kTile;
  const int tiles_per_row = ((w + kTile - 1) / kTile + kGroupTiles - 1) / kGroupTiles * kGroupTiles;
  const int row_stride = kTile * tiles_per_row + 2;  // + 2: the last tile's window reaches 2 columns on
  const detail::PaddedInput in =
      detail::layout_padded_input(detail::thread_scratch(0), cin, kTile * tile_rows + 2, row_stride, 0);
  const int64_t groups = static_cast<int64_t>(tile_rows) * tiles_per_row / kGroupTiles;
  const int64_t u_per_position = static_cast<int64_t>(co_blocks) * pairs * 2 * kCo;  // bf16 elements
  const int64_t v_per_position = static_cast<int64_t>(pairs) * kBatch * 2;             // bf16 elements
  const int64_t m_per_position = static_cast<int64_t>(co_blocks) * kCo * kBatch;       // floats
  const int64_t out_plane = static_cast<int64_t>(h) * w;
  const uint16_t* u_all = packed.winograd23.data();

#pragma omp parallel num_threads(team_size())
  {
    // Per-thread V (bf16, as floats' storage) and M for one batch, 64-byte aligned.
    uint16_t* v = reinterpret_cast<uint16_t*>(detail::thread_aligned_buffer(0, kPositions * v_per_position / 2));
    float* m = detail::thread_aligned_buffer(1, kPositions * m_per_position);
    if (input_upsampled2x)
      detail::fill_padded_input_upsampled2x(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier
    else
      detail::fill_padded_input(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier

    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t my_first = groups * thread / threads, my_end = groups * (thread + 1) / threads;
    const int64_t my_batches = (my_end - my_first + kMaxVecs - 1) / kMaxVecs;
    for (int64_t batch = 0; batch < my_batches; ++batch) {
      const int64_t first_group = my_first + (my_end - my_first) * batch / my_batches;
      const int batch_groups =
          static_cast<int>(my_first + (my_end - my_first) * (batch + 1) / my_batches - first_group);

      // 1. Input transform, a channel pair at a time: V[ξ][pair][tile in batch][2].
      for (int g = 0; g < batch_groups; ++g) {
        const int64_t tile = kGroupTiles * (first_group + g);
        const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
        const float* window = in.data + kTile * tr * row_stride + kTile * tc;
        for (int p = 0; p < pairs; ++p) {
          __m512 even[kPositions], odd[kPositions];
          input_transform_16_tiles(even, window + 2 * p * in.plane, row_stride);
          if (2 * p + 1 < cin)
            input_transform_16_tiles(odd, window + (2 * p + 1) * in.plane, row_stride);
          else
            for (int xi = 0; xi < kPositions; ++xi) odd[xi] = _mm512_setzero_ps();  // the pad channel
          uint16_t* dst = v + static_cast<int64_t>(p) * kBatch * 2 + kGroupTiles * 2 * g;
          for (int xi = 0; xi < kPositions; ++xi)
            _mm512_store_si512(dst + xi * v_per_position, interleave_pair_bf16(even[xi], odd[xi]));
        }
      }

      // 2. The 16 products per block of 8 output channels. A batch of fewer than 3 groups runs
      // the narrower micro-kernel.
      const ProductFn product = product_for(batch_groups);
      for (int xi = 0; xi < kPositions; ++xi)
        for (int cb = 0; cb < co_blocks; ++cb)
          product(m + xi * m_per_position + cb * kCo * kBatch, kBatch,
                  u_all + xi * u_per_position + static_cast<int64_t>(cb) * pairs * 2 * kCo, v + xi * v_per_position,
                  kBatch * 2, pairs);

      // 3. Output transform + epilogue, 16 tiles (2 rows of 32 pixels) at a time.
      alignas(64) float out[kTile][32];
      for (int co = 0; co < cout; ++co)
        for (int g = 0; g < batch_groups; ++g) {
          const int64_t tile = kGroupTiles * (first_group + g);
          const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
          const int ox = static_cast<int>(kTile * tc), n = w - ox < 32 ? w - ox : 32;
          if (n <= 0) continue;  // a padding group right of the image
          output_transform_16_tiles(out, m + co * kBatch + kGroupTiles * g, m_per_position);
          for (int i = 0; i < kTile; ++i) {
            const int64_t oy = kTile * tr + i;
            if (oy >= h) break;
            detail::store_row_segment(y, out[i], n, packed.bias[co], epi, co * out_plane + oy * w + ox);
          }
        }
    }
  }
}

}  // namespace microsr::kernels
