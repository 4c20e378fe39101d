// wgrad_v3_winograd43_outer: the Winograd F(4x4,3x3) weight gradient of v2 (same math, same
// transforms: see wgrad/v2_winograd43.cpp) with the 36 products turned into outer
// products (k == 3; other k go to wgrad_v1_direct).
//
// What changes from v2: v2's products are dot products along the tiles, a 4 cout x 3 cin register
// tile that reads 7 vectors (56 floats) per 96 multiply-adds and must sum its lanes once per chunk.
// v3 vectorizes along the output channels instead: D is stored transposed, Dt[ξ][tile][co], so
//   M[ξ][ci][co..co+15] += V[ξ][ci][tile] (broadcast) · Dt[ξ][tile][co..co+15]
// is a 6 cin x 16 cout register tile: per tile 2 vector loads + 6 broadcasts (22 floats) per 96
// multiply-adds, no lane sums, accumulators kept across the whole chunk. The price is an 8x8
// transpose per 8 tiles x 8 channels of D (the dy transform runs into a small buffer first).
//
// Memory layout (per thread and chunk of T tiles; tiles numbered as in v2)
//   V  [36][cin][T]          (input transform, as v2; the broadcast operand)
//   Dt [36][cout_p/16][T][16] cout_p = cout rounded up to 8, padding channels zero; a last block
//                            of 8 channels is [T][8]. Each block of 16 channels is contiguous:
//                            with rows of cout_p floats, a stride of 256 bytes would map a
//                            block's T lines onto a quarter of L1's sets.
//   M  [36][cin][cout_p]     per thread; the first chunk stores, later chunks add
// Loop order per ξ: for each block of 16 (or 8) output channels, its Dt block (T·64 bytes) stays
// in L1 while the V rows of every input channel stream past (4 bytes per cycle from L2/L3).
// The production choice for the RRDBNet body shapes (figures: docs/kernels.md). Single-threaded
// it ties with v2: the products run faster, the transposes of D give it back. The transposes are
// what to attack next (a channel-blocked dy copy and a dy transform vectorized over 8 channels
// would need none).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "cpu/threads.h"
#include "cpu/wgrad/common.h"
#include "cpu/wgrad/variants.h"
#include "cpu/wgrad/winograd43.h"
#include "microsr/error.h"

namespace microsr::kernels {
namespace {

using namespace winograd43;
using namespace winograd43_backward;

constexpr int kCiBlock = 6;  // input channels (broadcasts) per micro-tile

// r[0..7] (8 rows of 8) -> r[i] = column i.
inline void transpose8x8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}

// m[j·m_stride + 8k ..] (+)= Σ_{t < tiles} v[j·tiles + t] · dt[t·dt_stride + 8k ..]
// for j < CI input channels and k < COV vectors of 8 output channels.
template <int CI, int COV>
__attribute__((noinline)) void outer_block(float* m, int64_t m_stride, const float* v, const float* dt,
                                           int64_t dt_stride, int64_t tiles, bool accumulate) {
  __m256 acc[CI][COV];
#pragma GCC unroll 8
  for (int j = 0; j < CI; ++j)
#pragma GCC unroll 2
    for (int k = 0; k < COV; ++k) acc[j][k] = _mm256_setzero_ps();
  for (int64_t t = 0; t < tiles; ++t) {
    __m256 d[COV];
#pragma GCC unroll 2
    for (int k = 0; k < COV; ++k) d[k] = _mm256_load_ps(dt + t * dt_stride + 8 * k);
#pragma GCC unroll 8
    for (int j = 0; j < CI; ++j) {
      const __m256 b = _mm256_broadcast_ss(v + j * tiles + t);
#pragma GCC unroll 2
      for (int k = 0; k < COV; ++k) acc[j][k] = _mm256_fmadd_ps(b, d[k], acc[j][k]);
    }
  }
  if (accumulate) {
#pragma GCC unroll 8
    for (int j = 0; j < CI; ++j)
#pragma GCC unroll 2
      for (int k = 0; k < COV; ++k) {
        float* out = m + j * m_stride + 8 * k;
        _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), acc[j][k]));
      }
  } else {
#pragma GCC unroll 8
    for (int j = 0; j < CI; ++j)
#pragma GCC unroll 2
      for (int k = 0; k < COV; ++k) _mm256_storeu_ps(m + j * m_stride + 8 * k, acc[j][k]);
  }
}

using OuterBlockFn = void (*)(float*, int64_t, const float*, const float*, int64_t, int64_t, bool);

OuterBlockFn pick_outer_block(int ci, int vectors) {
  static constexpr OuterBlockFn table[2][kCiBlock] = {{outer_block<1, 1>, outer_block<2, 1>, outer_block<3, 1>,
                                                       outer_block<4, 1>, outer_block<5, 1>, outer_block<6, 1>},
                                                      {outer_block<1, 2>, outer_block<2, 2>, outer_block<3, 2>,
                                                       outer_block<4, 2>, outer_block<5, 2>, outer_block<6, 2>}};
  return table[vectors - 1][ci - 1];
}

}  // namespace

void conv2d_backward_weight_winograd43_outer(float* dw, float* db, ImageBatch x, ImageBatch dy, int n, int cin,
                                             int cout, int h, int w, int k) {
  if (k != 3) return conv2d_backward_weight_direct(dw, db, x, dy, n, cin, cout, h, w, k);
  detail::check_wgrad_sizes(n, cin, cout, h, w, k);
  if (db) conv2d_backward_bias(db, dy, n, cout, static_cast<int64_t>(h) * w);

  // Scratch from conv/common.cpp (a baseline unit): no std::vector code of our own (cpu_isa.h).
  const TileGrid grid(detail::thread_scratch(2), detail::thread_scratch(3), n, cin, cout, h, w);
  const int64_t groups = grid.groups;
  const int cout_p = (cout + 7) / 8 * 8;
  // Tiles per chunk: V and Dt of a chunk, 36·(cin + cout_p)·T floats, within ~6 MiB per thread
  // (they are written once and read back once per channel block, from L3).
  const int64_t chunk_groups = std::clamp<int64_t>((int64_t(6) << 20) / 4 / kPositions / (cin + cout_p) / 8, 4, 128);
  const int threads = team_size();
  const int64_t m_position = static_cast<int64_t>(cin) * cout_p;
  // [threads][36][cin][cout(_p)], zeroed by each thread below (conv/common.cpp, a baseline unit).
  float* const m_base = detail::thread_aligned_buffer(2, static_cast<size_t>(threads) * kPositions * m_position);
  std::vector<char> has_products(threads, 0);

#pragma omp parallel num_threads(threads) if (detail::worth_threads(n, cin, cout, h, w, k))
  {
    grid.fill(x, dy, n, h, w);
    const int thread = omp_get_thread_num(), team = omp_get_num_threads();
    float* m = m_base + thread * kPositions * m_position;
    const int64_t max_tiles = 8 * chunk_groups;
    float* v = detail::thread_aligned_buffer(3, kPositions * cin * max_tiles);
    float* dt = detail::thread_aligned_buffer(4, kPositions * cout_p * max_tiles);
    alignas(32) float d8[kPositions][8][8];  // D of 8 channels x 8 tiles, before the transpose

    const int64_t first = groups * thread / team, end = groups * (thread + 1) / team;
    const int64_t chunks = (end - first + chunk_groups - 1) / chunk_groups;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t g0 = first + (end - first) * chunk / chunks;
      const int64_t g1 = first + (end - first) * (chunk + 1) / chunks;
      const int64_t tiles = 8 * (g1 - g0);
      // 1. V[ξ][ci][tile] = B^T d B (channel-major: sequential writes per ξ row).
      for (int ci = 0; ci < cin; ++ci)
        for (int64_t g = g0; g < g1; ++g)
          input_transform_8_tiles(v + ci * tiles + 8 * (g - g0), cin * tiles, grid.x_window(g, ci), grid.x_stride);
      // 2. Dt[ξ][tile][co] = A dY A^T, 8 channels x 8 tiles at a time, transposed on the way.
      //    Tile-major, so every channel block's lines for these 8 tiles are completed while cached.
      for (int64_t g = g0; g < g1; ++g)
        for (int co0 = 0; co0 < cout_p; co0 += 8) {
          for (int c = 0; c < 8; ++c) {
            if (co0 + c < cout)
              gradient_transform_8_tiles(&d8[0][c][0], 64, grid.dy_tile(g, co0 + c), grid.dy_stride);
            else
              for (int xi = 0; xi < kPositions; ++xi) _mm256_store_ps(&d8[xi][c][0], _mm256_setzero_ps());
          }
          for (int xi = 0; xi < kPositions; ++xi) {
            __m256 rows[8];
            for (int c = 0; c < 8; ++c) rows[c] = _mm256_load_ps(&d8[xi][c][0]);
            transpose8x8(rows);
            const int block = co0 / 16 * 16, width = std::min(16, cout_p - block);
            float* dst = dt + xi * tiles * cout_p + block * tiles + 8 * (g - g0) * width + (co0 - block);
            for (int t = 0; t < 8; ++t) _mm256_store_ps(dst + t * width, rows[t]);
          }
        }
      // 3. M[ξ][ci][co] (+)= Σ_tile V[ξ][ci][tile] · Dt[ξ][tile][co].
      const bool accumulate = chunk > 0;
      for (int xi = 0; xi < kPositions; ++xi) {
        const float* v_xi = v + xi * cin * tiles;
        const float* dt_xi = dt + xi * tiles * cout_p;
        float* m_xi = m + xi * m_position;
        for (int co0 = 0; co0 < cout_p; co0 += 16) {
          const int width = std::min(16, cout_p - co0);
          for (int ci0 = 0; ci0 < cin; ci0 += kCiBlock)
            pick_outer_block(std::min(kCiBlock, cin - ci0), width / 8)(m_xi + static_cast<int64_t>(ci0) * cout_p + co0,
                                                                       cout_p, v_xi + ci0 * tiles, dt_xi + co0 * tiles,
                                                                       width, tiles, accumulate);
        }
      }
    }
    has_products[thread] = chunks > 0;
#pragma omp barrier
    // 4. dw += G^T M G, M summed over the threads that computed any.
    std::vector<const float*> parts;
#pragma omp for schedule(static)
    for (int ci = 0; ci < cin; ++ci) {
      parts.clear();
      for (int p = 0; p < team; ++p)
        if (has_products[p]) parts.push_back(m_base + p * kPositions * m_position + ci * cout_p);
      for (int co0 = 0; co0 < cout; co0 += 8)
        add_kernel_gradients(dw, parts, m_position, cin, co0, std::min(8, cout - co0), ci);
    }
  }
}

}  // namespace microsr::kernels
