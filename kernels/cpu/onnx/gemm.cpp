// Packing, tiling, threading and the epilogue of the ONNX runtime's GEMM (gemm.h).
#include "cpu/onnx/gemm.h"

#include <algorithm>
#include <vector>

#include "cpu/cpu_isa.h"

namespace microsr::onnx_fast {
namespace {

constexpr int64_t kPanel = 16;      // columns per packed B panel (two ymm registers)
constexpr int64_t kBlockK = 256;    // k steps per pass: a 256 × 16 panel slice is 16 KiB (L1)
constexpr int64_t kTileRows = 48;   // rows of A per tile: 48 × 256 floats = 48 KiB (L2)
constexpr int64_t kTilePanels = 8;  // panels per tile
constexpr int64_t kMicroRows = 12;  // rows per inner-kernel call (avx512 keeps 12 in registers, avx2 2 × 6)
constexpr int64_t kSmallProduct = 8192;  // m·n·k up to which plain loops run, without packing

using PanelKernel = void (*)(float*, int64_t, const float*, int64_t, const float*, int64_t, int64_t, int64_t, bool);

// B [k][n] (strided, times alpha) as panels [n/16 rounded up][k][16], zero past n.
std::vector<float> pack_b(const GemmArgs& g) {
  const int64_t panels = (g.n + kPanel - 1) / kPanel;
  std::vector<float> packed(static_cast<std::size_t>(panels * g.k * kPanel));
#pragma omp parallel for if (g.n * g.k > 65536)
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = packed.data() + p * g.k * kPanel;
    const int64_t j0 = p * kPanel, cols = std::min(kPanel, g.n - j0);
    for (int64_t kk = 0; kk < g.k; ++kk) {
      const float* src = g.b + kk * g.b_row + j0 * g.b_col;
      for (int64_t j = 0; j < cols; ++j) dst[kk * kPanel + j] = g.alpha * src[j * g.b_col];
      for (int64_t j = cols; j < kPanel; ++j) dst[kk * kPanel + j] = 0.0f;
    }
  }
  return packed;
}

}  // namespace

void gemm_f32(const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return;
  // The epilogue first: C starts as bias (or 0, or itself when accumulating), then every k block adds.
#pragma omp parallel for if (g.m * g.n > 65536)
  for (int64_t i = 0; i < g.m; ++i) {
    float* row = g.c + i * g.ldc;
    for (int64_t j = 0; j < g.n; ++j) {
      const float bias = g.bias_col ? g.bias_col[j] : g.bias_row ? g.bias_row[i] : 0.0f;
      row[j] = g.accumulate ? row[j] + bias : bias;
    }
  }
  if (g.k <= 0) return;
  if (g.m * g.n * g.k <= kSmallProduct) {  // packing would cost more than it saves
    for (int64_t i = 0; i < g.m; ++i) {
      float* row = g.c + i * g.ldc;
      for (int64_t kk = 0; kk < g.k; ++kk) {
        const float av = g.alpha * g.a[i * g.a_row + kk * g.a_col];
        const float* brow = g.b + kk * g.b_row;
        if (g.b_col == 1)
          for (int64_t j = 0; j < g.n; ++j) row[j] += av * brow[j];
        else
          for (int64_t j = 0; j < g.n; ++j) row[j] += av * brow[j * g.b_col];
      }
    }
    return;
  }
  const std::vector<float> packed_b = pack_b(g);
  std::vector<float> packed_a;
  const float* a = g.a;
  int64_t lda = g.a_row;
  if (g.a_col != 1) {  // a transposed (or otherwise strided) A: make its rows contiguous in k
    packed_a.resize(static_cast<std::size_t>(g.m * g.k));
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t kk = 0; kk < g.k; ++kk) packed_a[i * g.k + kk] = g.a[i * g.a_row + kk * g.a_col];
    a = packed_a.data(), lda = g.k;
  }
  const bool pairs = kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx512);  // two panels per call
  const PanelKernel kernel = kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx2) ? avx2::panel_kernel : baseline::panel_kernel;
  const int64_t panels = (g.n + kPanel - 1) / kPanel;
  const int64_t row_tiles = (g.m + kTileRows - 1) / kTileRows, col_tiles = (panels + kTilePanels - 1) / kTilePanels;
#pragma omp parallel for collapse(2) schedule(dynamic) if (g.m * g.n * g.k > 100000)
  for (int64_t rt = 0; rt < row_tiles; ++rt)
    for (int64_t ct = 0; ct < col_tiles; ++ct) {
      const int64_t i0 = rt * kTileRows, rows = std::min(kTileRows, g.m - i0);
      const int64_t p_end = std::min(panels, (ct + 1) * kTilePanels);
      // 12 rows of A (12 KiB of one k block) stay in L1 while the tile's panels stream from L2.
      for (int64_t k0 = 0; k0 < g.k; k0 += kBlockK) {
        const int64_t kc = std::min(kBlockK, g.k - k0);
        for (int64_t i = i0; i < i0 + rows; i += kMicroRows)
          for (int64_t p = ct * kTilePanels; p < p_end; p += pairs ? 2 : 1) {
            const int64_t j0 = p * kPanel, micro_rows = std::min(kMicroRows, i0 + rows - i);
            const float* panel = packed_b.data() + (p * g.k + k0) * kPanel;
            if (pairs) {  // the second panel of a ragged last pair is never read (its columns are masked)
              avx512::panel_pair_kernel(g.c + i * g.ldc + j0, g.ldc, a + i * lda + k0, lda, panel,
                                        p + 1 < p_end ? panel + g.k * kPanel : panel, micro_rows,
                                        std::min(2 * kPanel, g.n - j0), kc, true);
            } else {
              kernel(g.c + i * g.ldc + j0, g.ldc, a + i * lda + k0, lda, panel, micro_rows, std::min(kPanel, g.n - j0),
                     kc, true);
            }
          }
      }
    }
}

void gemm_f32_ref(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = 0.0;
      for (int64_t kk = 0; kk < g.k; ++kk) sum += double(g.a[i * g.a_row + kk * g.a_col]) * g.b[kk * g.b_row + j * g.b_col];
      double y = g.alpha * sum + (g.bias_col ? g.bias_col[j] : g.bias_row ? g.bias_row[i] : 0.0f);
      if (g.accumulate) y += g.c[i * g.ldc + j];
      g.c[i * g.ldc + j] = static_cast<float>(y);
    }
}

}  // namespace microsr::onnx_fast
