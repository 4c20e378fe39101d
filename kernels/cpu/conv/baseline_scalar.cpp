// The convolutions for CPUs without AVX2 (CpuIsa::kBaseline, cpu/cpu_isa.h): plain loops over the
// packed formats, compiled for baseline x86-64 (the compiler may use SSE2). Slow — a CPU this old
// gets correct output, not speed — and tested against the reference like every other path
// (tests/test_cpu_isa.cpp, MICROSR_CPU_ISA=baseline).
//
// Both read the same packed weights as the vector kernels (layouts: conv/v1_direct_avx2.cpp and
// conv/v3_winograd43_avx2.cpp), so weights packed once serve whichever path runs.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "cpu/conv/isa_kernels.h"
#include "cpu/threads.h"

namespace microsr::kernels {
namespace {

// out = scale * act(sum + bias) + residual, as every kernel's epilogue (cpu_kernels.h).
float finish(float sum, float bias, const ConvEpilogue& epi, int64_t index) {
  float v = sum + bias;
  if (epi.has_lrelu && v < 0.0f) v *= epi.lrelu_slope;
  v *= epi.scale;
  return epi.residual ? v + epi.residual[index] : v;
}

// Winograd F(4x4,3x3) matrices (conv/v3_winograd43_avx2.cpp has the math).
constexpr float kBt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                             {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
constexpr float kAt[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

}  // namespace

//   weights [ceil(cout/CB)][cin][k][k][CB]; one output row of one CB block at a time, so the
//   compiler can vectorize the innermost loop over the CB channels.
void conv2d_channel_blocked_scalar(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                   const ConvEpilogue& epi) {
  const int cin = packed.cin, cout = packed.cout, k = packed.k, pad = k / 2, cb_size = packed.co_block;
  const int blocks = (cout + cb_size - 1) / cb_size;
  const int64_t taps = static_cast<int64_t>(cin) * k * k, plane = static_cast<int64_t>(h) * w;
#pragma omp parallel for num_threads(team_size()) schedule(static) collapse(2)
  for (int cb = 0; cb < blocks; ++cb)
    for (int oy = 0; oy < h; ++oy) {
      std::vector<float> acc(static_cast<size_t>(w) * cb_size, 0.0f);  // [ox][CB]
      const float* block = packed.data.data() + cb * taps * cb_size;
      for (int ci = 0; ci < cin; ++ci)
        for (int ky = 0; ky < k; ++ky) {
          const int iy = oy + ky - pad;
          if (iy < 0 || iy >= h) continue;
          const float* row = x + (static_cast<int64_t>(ci) * h + iy) * w;
          for (int kx = 0; kx < k; ++kx) {
            const float* tap = block + ((static_cast<int64_t>(ci) * k + ky) * k + kx) * cb_size;
            const int ox_begin = std::max(0, pad - kx), ox_end = std::min(w, w + pad - kx);
            for (int ox = ox_begin; ox < ox_end; ++ox) {
              const float xv = row[ox + kx - pad];
              float* a = acc.data() + static_cast<int64_t>(ox) * cb_size;
              for (int c = 0; c < cb_size; ++c) a[c] += tap[c] * xv;
            }
          }
        }
      const int channels = std::min(cb_size, cout - cb * cb_size);
      for (int c = 0; c < channels; ++c) {
        const int co = cb * cb_size + c;
        for (int ox = 0; ox < w; ++ox) {
          const int64_t index = co * plane + static_cast<int64_t>(oy) * w + ox;
          y[index] = finish(acc[static_cast<size_t>(ox) * cb_size + c], packed.bias[co], epi, index);
        }
      }
    }
}

//   U [36][ceil(cout/CO)][cin][CO]; per 4x4 output tile: V[ξ][ci] = (B^T d B)[ξ] for every input
//   channel, M[ξ][co] = Σ_ci U[ξ][co][ci] V[ξ][ci], then Y = A^T M A through the epilogue.
void conv2d_winograd43_scalar(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                              const ConvEpilogue& epi) {
  const int cin = packed.cin, cout = packed.cout, co_block = packed.co_block;
  const int blocks = (cout + co_block - 1) / co_block, cout_padded = blocks * co_block;
  const int tile_rows = (h + 3) / 4, tile_cols = (w + 3) / 4;
  const int64_t per_position = static_cast<int64_t>(blocks) * cin * co_block, plane = static_cast<int64_t>(h) * w;
#pragma omp parallel num_threads(team_size())
  {
    std::vector<float> v(static_cast<size_t>(36) * cin), m(static_cast<size_t>(36) * cout_padded);
#pragma omp for schedule(static) collapse(2)
    for (int tr = 0; tr < tile_rows; ++tr)
      for (int tc = 0; tc < tile_cols; ++tc) {
        for (int ci = 0; ci < cin; ++ci) {
          float d[6][6], t[6][6];  // the 6x6 window around the tile (zero outside), B^T d
          for (int r = 0; r < 6; ++r)
            for (int c = 0; c < 6; ++c) {
              const int iy = 4 * tr - 1 + r, ix = 4 * tc - 1 + c;
              d[r][c] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[(static_cast<int64_t>(ci) * h + iy) * w + ix] : 0;
            }
          for (int i = 0; i < 6; ++i)
            for (int c = 0; c < 6; ++c) {
              float s = 0;
              for (int r = 0; r < 6; ++r) s += kBt[i][r] * d[r][c];
              t[i][c] = s;
            }
          for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 6; ++j) {
              float s = 0;
              for (int c = 0; c < 6; ++c) s += t[i][c] * kBt[j][c];
              v[static_cast<size_t>(i * 6 + j) * cin + ci] = s;
            }
        }
        std::fill(m.begin(), m.end(), 0.0f);
        for (int xi = 0; xi < 36; ++xi)
          for (int cb = 0; cb < blocks; ++cb) {
            const float* u = packed.data.data() + xi * per_position + static_cast<int64_t>(cb) * cin * co_block;
            float* out = m.data() + static_cast<size_t>(xi) * cout_padded + cb * co_block;
            for (int ci = 0; ci < cin; ++ci) {
              const float vv = v[static_cast<size_t>(xi) * cin + ci];
              for (int c = 0; c < co_block; ++c) out[c] += u[ci * co_block + c] * vv;
            }
          }
        for (int co = 0; co < cout; ++co) {
          float t[4][6];  // A^T M
          for (int i = 0; i < 4; ++i)
            for (int c = 0; c < 6; ++c) {
              float s = 0;
              for (int r = 0; r < 6; ++r) s += kAt[i][r] * m[static_cast<size_t>(r * 6 + c) * cout_padded + co];
              t[i][c] = s;
            }
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
              const int oy = 4 * tr + i, ox = 4 * tc + j;
              if (oy >= h || ox >= w) continue;
              float s = 0;
              for (int c = 0; c < 6; ++c) s += t[i][c] * kAt[j][c];
              const int64_t index = co * plane + static_cast<int64_t>(oy) * w + ox;
              y[index] = finish(s, packed.bias[co], epi, index);
            }
        }
      }
  }
}

}  // namespace microsr::kernels
