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
//   Padded input: [cin][plane], rows of 4*tiles_per_row + 4 floats, zero border of 1 at top and
//   left (so the window of tile (tr, tc) starts at padded row 4tr, column 4tc), zeros elsewhere.
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
//   floats; a 4-way deinterleave (8x4 transpose, 12 shuffles) turns it into 6 vectors, one per
//   window column. The output transform interleaves the same way to store 32 consecutive pixels.
//
// Threading: one OpenMP region per call: the threads pad the input (split over channels), then
//   each takes an equal share of the 8-tile groups, cut into batches of at most NV groups; each
//   batch does input transform -> 36 products -> output transform + epilogue, so V and M stay in
//   the thread's L2. A 64x64 image (32 groups) splits 16/16 over 2 threads.
#include "cpu/conv/winograd43.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "cpu/conv/common.h"
#include "cpu/conv/direct.h"
#include "cpu/conv/winograd43_transforms.h"
#include "cpu/threads.h"
#include "microsr/error.h"

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

// Picks the micro-kernel for a batch of `vecs` ymm of tiles (1..NV): a thread's last batch may be
// narrower than NV vectors, and then computes only what it stores.
using ProductFn = void (*)(float*, int64_t, const float*, const float*, int64_t, int);

template <int CO, int NV>
ProductFn product_for(int vecs) {
  if constexpr (NV > 1) {
    if (vecs < NV) return product_for<CO, NV - 1>(vecs);
  }
  return batch_product<CO, NV>;
}

// The whole convolution with the register blocking as template parameters: CO output channels x
// 8*NV tiles per micro-tile; a batch is at most 8*NV tiles (one micro-tile wide).
template <int CO, int NV>
void winograd43_run(float* y, const float* x, const PackedConvWeights& packed, int h, int w, const ConvEpilogue& epi) {
  constexpr int kBatch = 8 * NV;
  const int cin = packed.cin, cout = packed.cout;
  const int tile_rows = (h + kTile - 1) / kTile;
  const int tiles_per_row = ((w + kTile - 1) / kTile + 7) / 8 * 8;
  const int row_stride = kTile * tiles_per_row + 4;  // + 4: the shifted deinterleave's overreach
  const detail::PaddedInput in =
      detail::layout_padded_input(detail::thread_scratch(0), cin, kTile * tile_rows + 2, row_stride, 0);
  const int64_t groups = static_cast<int64_t>(tile_rows) * tiles_per_row / 8;  // of 8 tiles
  const int co_blocks = (cout + CO - 1) / CO;
  const int64_t u_per_position = static_cast<int64_t>(co_blocks) * cin * CO;
  const int64_t v_per_position = static_cast<int64_t>(cin) * kBatch;
  const int64_t m_per_position = static_cast<int64_t>(co_blocks) * CO * kBatch;
  const int64_t out_plane = static_cast<int64_t>(h) * w;

#pragma omp parallel num_threads(team_size())
  {
    // Per-thread V and M for one batch (64-byte aligned, reused across calls).
    thread_local AlignedFloats v_buffer, m_buffer;
    if (static_cast<int64_t>(v_buffer.size()) < kPositions * v_per_position)
      v_buffer.resize(kPositions * v_per_position);
    if (static_cast<int64_t>(m_buffer.size()) < kPositions * m_per_position)
      m_buffer.resize(kPositions * m_per_position);
    float* v = v_buffer.data();
    float* m = m_buffer.data();
    detail::fill_padded_input(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier

    // Each thread takes an equal share of the 8-tile groups (so 2 threads split a 64x64 image's
    // 32 groups 16/16), cut into batches of at most NV groups, as equal as possible.
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t my_first = groups * thread / threads, my_end = groups * (thread + 1) / threads;
    const int64_t my_batches = (my_end - my_first + NV - 1) / NV;
    for (int64_t batch = 0; batch < my_batches; ++batch) {
      const int64_t first_group = my_first + (my_end - my_first) * batch / my_batches;
      const int batch_groups =
          static_cast<int>(my_first + (my_end - my_first) * (batch + 1) / my_batches - first_group);

      // 1. Input transform: V[ξ][ci][tile in batch].
      for (int ci = 0; ci < cin; ++ci)
        for (int g = 0; g < batch_groups; ++g) {
          const int64_t tile = 8 * (first_group + g);
          const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
          const float* window = in.data + ci * in.plane + kTile * tr * row_stride + kTile * tc;
          // The next channel's window (6 rows of 36 floats) is a plane away: out of the hardware
          // prefetcher's sight, and in L3 once the padded input outgrows L2 (128x128 and up).
          // It pays from 128x128 up and is neutral at 64x64. (Past the last channel it
          // points outside the buffer: harmless, prefetches never fault.)
          for (int r = 0; r < kWindow; ++r) {
            const char* row = reinterpret_cast<const char*>(window + in.plane + r * row_stride);
            _mm_prefetch(row, _MM_HINT_T0);
            _mm_prefetch(row + 64, _MM_HINT_T0);
            _mm_prefetch(row + 143, _MM_HINT_T0);  // the row's last float
          }
          input_transform_8_tiles(v + ci * kBatch + 8 * g, v_per_position, window, row_stride);
        }

      // 2. The 36 products M[ξ][co][tile] = Σ_ci U[ξ][co][ci] V[ξ][ci][tile].
      const ProductFn product = product_for<CO, NV>(batch_groups);
      for (int xi = 0; xi < kPositions; ++xi)
        for (int cb = 0; cb < co_blocks; ++cb)
          product(m + xi * m_per_position + cb * CO * kBatch, kBatch,
                  packed.data.data() + xi * u_per_position + cb * cin * CO, v + xi * v_per_position, kBatch, cin);

      // 3. Output transform + epilogue, 8 tiles (32 pixels of 4 rows) at a time.
      alignas(32) float out[kTile][32];
      for (int co = 0; co < cout; ++co)
        for (int g = 0; g < batch_groups; ++g) {
          const int64_t tile = 8 * (first_group + g);
          const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
          const int ox = static_cast<int>(kTile * tc), n = std::min(32, w - ox);
          if (n <= 0) continue;  // a padding group right of the image
          output_transform_8_tiles(out, m + co * kBatch + 8 * g, m_per_position);
          for (int i = 0; i < kTile; ++i) {
            const int64_t oy = kTile * tr + i;
            if (oy >= h) break;
            detail::store_row_segment(y, out[i], n, packed.bias[co], epi, co * out_plane + oy * w + ox);
          }
        }
    }
  }
}

}  // namespace

PackedConvWeights pack_winograd43_weights(const float* weight, const float* bias, int cin, int cout, int k,
                                          int co_block) {
  require(k == 3, "pack_winograd43_weights: Winograd F(4x4,3x3) needs k == 3, found k=" + std::to_string(k));
  require(co_block == 3 || co_block == 4,
          "pack_winograd43_weights: co_block must be 3 or 4, found " + std::to_string(co_block));
  PackedConvWeights packed;
  packed.format = ConvWeightFormat::kWinograd43;
  packed.cin = cin, packed.cout = cout, packed.k = k, packed.co_block = co_block;
  const int blocks = (cout + co_block - 1) / co_block;
  const int64_t per_position = static_cast<int64_t>(blocks) * cin * co_block;
  packed.data.assign(kPositions * per_position, 0.0f);
  // ~160 double multiply-adds per (co, ci) pair: worth threads only for real layer sizes. Each
  // output channel's cin transforms go to a local buffer first, then into the 36 ξ planes one
  // plane at a time (sequential writes instead of 36 scattered ones per pair).
#pragma omp parallel for num_threads(team_size()) schedule(static) if (cin * cout >= 2048)
  for (int co = 0; co < cout; ++co) {
    std::vector<float> transformed(static_cast<size_t>(cin) * kPositions);  // [ci][ξ]
    for (int ci = 0; ci < cin; ++ci)
      transform_kernel(transformed.data() + ci * kPositions, weight + (static_cast<int64_t>(co) * cin + ci) * 9);
    float* dst = packed.data.data() + static_cast<int64_t>(co / co_block) * cin * co_block + co % co_block;
    for (int xi = 0; xi < kPositions; ++xi)
      for (int ci = 0; ci < cin; ++ci) dst[xi * per_position + ci * co_block] = transformed[ci * kPositions + xi];
  }
  packed.bias.assign(cout, 0.0f);
  if (bias) std::copy(bias, bias + cout, packed.bias.begin());
  return packed;
}

void conv2d_winograd43_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                              const ConvEpilogue& epi) {
  require(packed.format == ConvWeightFormat::kWinograd43,
          "conv2d_winograd43_packed: weights are not in the Winograd F(4,3) format");
  if (packed.co_block == 4) return winograd43_run<4, 3>(y, x, packed, h, w, epi);
  winograd43_run<3, 4>(y, x, packed, h, w, epi);
}

void conv2d_winograd43_4x24(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h,
                            int w, int k, const ConvEpilogue& epi) {
  if (k != 3) return conv2d_direct16(y, x, weight, bias, cin, cout, h, w, k, epi);
  conv2d_winograd43_packed(y, x, pack_winograd43_weights(weight, bias, cin, cout, k, 4), h, w, epi);
}

}  // namespace microsr::kernels
