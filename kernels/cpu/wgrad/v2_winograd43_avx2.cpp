// wgrad_v2_winograd43: the weight gradient of a 3x3 convolution through Winograd F(4x4, 3x3) run
// in reverse (k == 3; other k go to wgrad_v1_direct).
//
// Math. The forward computes each 4x4 output tile Y from its 6x6 input window d as
//   Y = A^T [ U ⊙ V ] A,  U = G g G^T (the 3x3 kernel g transformed), V = B^T d B
// (conv/winograd43_transforms.h), exactly. Y is linear in U, so the chain rule gives
//   ∂L/∂U = (A dY A^T) ⊙ V   and   ∂L/∂g = G^T (∂L/∂U) G,
// summed over every tile of every image. The 36 positions ξ of the 6x6 transformed tile are
// independent, so the sum over tiles is 36 matrix products, one per ξ:
//   M[ξ][ci][co] = Σ_tiles D[ξ][co][tile] · V[ξ][ci][tile],  D = A dY A^T,
// followed by dw[co][ci] += G^T M[·][ci][co] G once per (ci, co) at the end. That is 36 multiply-
// adds per tile and (ci, co) pair instead of the direct 9·16 = 144: a 4x cut, paid for with the
// input transform (per tile and ci, as in the forward), the dy transform (per tile and co) and
// the final G^T·G (per pair, negligible). Tiles past the image see dy = 0 and add nothing.
//
// Memory layout
//   Padded x: as the forward's ([n·cin][plane], zero border of 1 at top/left, rows of
//   4·tiles_per_row + 4 floats, tile columns padded to a multiple of 8). Padded dy:
//   [n·cout][plane] with rows of 4·tiles_per_row floats, zero past the image. Groups of 8
//   horizontally adjacent tiles are numbered across the whole batch (image-major).
//   Per chunk of T tiles (per thread): V [36][cin][T] and D [36][cout][T] (64-byte aligned).
//   Products accumulate into a per-thread M [36][cin][cout]; the threads' M are summed at the end.
// Micro-kernel (dot_block): 4 output channels x 3 input channels = 12 ymm accumulators holding
//   partial dot products over 8 tile lanes; per 8 tiles 3 V loads + 4 D loads for 12 FMAs. The
//   lanes are reduced (hadd tree, 4 sums per __m128) once per chunk, into M[ξ][ci][co0..co0+3].
//   A chunk's slices D[ξ] and V[ξ] ((cin + cout)·T floats) are sized to stay in L2 (~256 KiB).
// Threading: one OpenMP region: pad every image (split over channels), then each thread takes an
//   equal share of the batch's 8-tile groups, in chunks; then the G^T·G pass splits over ci.
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

constexpr int kCoBlock = 4;  // output channels per micro-tile
constexpr int kCiBlock = 3;  // input channels per micro-tile

// [a, b, c, d] = the lane sums of four vectors.
inline __m128 lane_sums4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// m[j·cout + c] += Σ_{t < 8·vecs} d[c·t_stride + t] · v[j·t_stride + t]   for c < CO, j < CI.
template <int CO, int CI>
__attribute__((noinline)) void dot_block(float* m, int cout, const float* d, const float* v, int64_t t_stride,
                                         int vecs) {
  __m256 acc[kCoBlock][CI];
  for (int c = 0; c < kCoBlock; ++c)
    for (int j = 0; j < CI; ++j) acc[c][j] = _mm256_setzero_ps();
  for (int i = 0; i < vecs; ++i) {
    // The empty asm statements keep each loaded vector in a register: without them gcc folds the
    // V loads into the FMAs as memory operands (4 + 12 loads per 12 FMAs instead of 3 + 4).
    __m256 vv[CI];
    for (int j = 0; j < CI; ++j) {
      vv[j] = _mm256_load_ps(v + j * t_stride + 8 * i);
      __asm__("" : "+x"(vv[j]));
    }
    for (int c = 0; c < CO; ++c) {
      __m256 dd = _mm256_load_ps(d + c * t_stride + 8 * i);
      __asm__("" : "+x"(dd));
      for (int j = 0; j < CI; ++j) acc[c][j] = _mm256_fmadd_ps(dd, vv[j], acc[c][j]);
    }
  }
  for (int j = 0; j < CI; ++j) {
    const __m128 sums = lane_sums4(acc[0][j], acc[1][j], acc[2][j], acc[3][j]);
    float* row = m + static_cast<int64_t>(j) * cout;
    if constexpr (CO == kCoBlock) {
      _mm_storeu_ps(row, _mm_add_ps(_mm_loadu_ps(row), sums));
    } else {
      alignas(16) float s[4];
      _mm_store_ps(s, sums);
      for (int c = 0; c < CO; ++c) row[c] += s[c];
    }
  }
}

using DotBlockFn = void (*)(float*, int, const float*, const float*, int64_t, int);

DotBlockFn pick_dot_block(int co, int ci) {
  static constexpr DotBlockFn table[kCoBlock][kCiBlock] = {{dot_block<1, 1>, dot_block<1, 2>, dot_block<1, 3>},
                                                           {dot_block<2, 1>, dot_block<2, 2>, dot_block<2, 3>},
                                                           {dot_block<3, 1>, dot_block<3, 2>, dot_block<3, 3>},
                                                           {dot_block<4, 1>, dot_block<4, 2>, dot_block<4, 3>}};
  return table[co - 1][ci - 1];
}

}  // namespace

void conv2d_backward_weight_winograd43(float* dw, float* db, ImageBatch x, ImageBatch dy, int n, int cin, int cout,
                                       int h, int w, int k) {
  if (k != 3) return conv2d_backward_weight_direct(dw, db, x, dy, n, cin, cout, h, w, k);
  detail::check_wgrad_sizes(n, cin, cout, h, w, k);
  if (db) conv2d_backward_bias(db, dy, n, cout, static_cast<int64_t>(h) * w);

  // Scratch from conv/common.cpp (a baseline unit): no std::vector code of our own (cpu_isa.h).
  const TileGrid grid(detail::thread_scratch(2), detail::thread_scratch(3), n, cin, cout, h, w);
  const int64_t groups = grid.groups;
  // Tiles per chunk: one ξ slice of D and V, (cin + cout)·T floats, within ~256 KiB of L2.
  const int64_t chunk_groups = std::clamp<int64_t>(65536 / (cin + cout) / 8, 8, 128);
  const int threads = team_size();
  const int64_t m_position = static_cast<int64_t>(cin) * cout;
  // [threads][36][cin][cout(_p)], zeroed by each thread below (conv/common.cpp, a baseline unit).
  float* const m_base = detail::thread_aligned_buffer(2, static_cast<size_t>(threads) * kPositions * m_position);

#pragma omp parallel num_threads(threads) if (detail::worth_threads(n, cin, cout, h, w, k))
  {
    grid.fill(x, dy, n, h, w);
    const int thread = omp_get_thread_num(), team = omp_get_num_threads();
    float* m = m_base + thread * kPositions * m_position;
    std::fill(m, m + kPositions * m_position, 0.0f);
    const int64_t max_tiles = 8 * chunk_groups;
    float* v = detail::thread_aligned_buffer(3, kPositions * cin * max_tiles);
    float* d = detail::thread_aligned_buffer(4, kPositions * cout * max_tiles);

    // This thread's share of the groups, in chunks of at most chunk_groups, as equal as possible.
    const int64_t first = groups * thread / team, end = groups * (thread + 1) / team;
    const int64_t chunks = (end - first + chunk_groups - 1) / chunk_groups;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t g0 = first + (end - first) * chunk / chunks;
      const int64_t g1 = first + (end - first) * (chunk + 1) / chunks;
      const int64_t tiles = 8 * (g1 - g0);  // T: the row length of V and D in this chunk
      // 1. Transforms: V[ξ][ci][tile] = B^T d B, D[ξ][co][tile] = A dY A^T.
      // Channel-major, so each of the 36 ξ rows is written sequentially (full cache lines).
      for (int ci = 0; ci < cin; ++ci)
        for (int64_t g = g0; g < g1; ++g)
          input_transform_8_tiles(v + ci * tiles + 8 * (g - g0), cin * tiles, grid.x_window(g, ci), grid.x_stride);
      for (int co = 0; co < cout; ++co)
        for (int64_t g = g0; g < g1; ++g)
          gradient_transform_8_tiles(d + co * tiles + 8 * (g - g0), cout * tiles, grid.dy_tile(g, co), grid.dy_stride);
      // 2. The 36 products M[ξ][ci][co] += Σ_tile D[ξ][co][tile] · V[ξ][ci][tile].
      const int vecs = static_cast<int>(tiles / 8);
      for (int xi = 0; xi < kPositions; ++xi) {
        const float* v_xi = v + xi * cin * tiles;
        const float* d_xi = d + xi * cout * tiles;
        float* m_xi = m + xi * m_position;
        for (int ci0 = 0; ci0 < cin; ci0 += kCiBlock) {
          const int ci_count = std::min(kCiBlock, cin - ci0);
          for (int co0 = 0; co0 < cout; co0 += kCoBlock) {
            const int co_count = std::min(kCoBlock, cout - co0);
            pick_dot_block(co_count, ci_count)(m_xi + static_cast<int64_t>(ci0) * cout + co0, cout, d_xi + co0 * tiles,
                                               v_xi + ci0 * tiles, tiles, vecs);
          }
        }
      }
    }
#pragma omp barrier
    // 3. dw += G^T M G, M summed over the threads.
    std::vector<const float*> parts(team);
#pragma omp for schedule(static)
    for (int ci = 0; ci < cin; ++ci) {
      for (int p = 0; p < team; ++p) parts[p] = m_base + p * kPositions * m_position + ci * cout;
      for (int co0 = 0; co0 < cout; co0 += 8)
        add_kernel_gradients(dw, parts, m_position, cin, co0, std::min(8, cout - co0), ci);
    }
  }
}

}  // namespace microsr::kernels
