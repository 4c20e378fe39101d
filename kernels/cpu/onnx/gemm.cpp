// Packing, tiling, threading and the epilogue of the ONNX runtime's GEMM (gemm.h).
#include "cpu/onnx/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <string>
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

// The AVX-512 variant (gemm.h): 2, or MICROSR_ONNX_GEMM=1 from the environment (A/B timing of
// whole models).
int gemm_avx512_variant = [] {
  const char* v = std::getenv("MICROSR_ONNX_GEMM");
  return v && std::string(v) == "1" ? 1 : 2;
}();

using PanelKernel = void (*)(float*, int64_t, const float*, int64_t, const float*, int64_t, int64_t, int64_t, bool);

// B [k][n] (strided, times alpha) as panels [n/16 rounded up][k][16], zero past n.
std::vector<float> pack_b(const GemmArgs& g, float alpha) {
  const int64_t panels = (g.n + kPanel - 1) / kPanel;
  std::vector<float> packed(static_cast<std::size_t>(panels * g.k * kPanel));
#pragma omp parallel for if (g.n * g.k > 65536)
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = packed.data() + p * g.k * kPanel;
    const int64_t j0 = p * kPanel, cols = std::min(kPanel, g.n - j0);
    for (int64_t kk = 0; kk < g.k; ++kk) {
      const float* src = g.b + kk * g.b_row + j0 * g.b_col;
      for (int64_t j = 0; j < cols; ++j) dst[kk * kPanel + j] = alpha * src[j * g.b_col];
      for (int64_t j = cols; j < kPanel; ++j) dst[kk * kPanel + j] = 0.0f;
    }
  }
  return packed;
}

// The AVX-512 path, blocked for the caches: tiles of up to kBigTileRows rows × kBigTilePanels
// panels run in parallel, column tiles outer (threads working at once share B's column block).
// In a tile, per block of kBigBlockK steps of k, the tile's rows of A (times alpha) are packed
// k-major in groups of 12 (<= 240 KiB: L2), then each pair of B panels (32 KiB: L1) runs over
// every group. B is packed once up front, except when the product has one row tile and B's
// columns are contiguous: each B element is then used by one tile only, and the kernel reads B's
// rows in place (the decoder's few-token products: packing would cost as much as the product).
// Measured (bench/bench_onnx_gemm.cpp, 1 thread, CPU time, shared 2-core Xeon): see docs/onnx.md.
constexpr int64_t kBigTileRows = 240;
constexpr int64_t kBigBlockK = 256;
constexpr int64_t kBigTilePanels = 32;

// bias_in_kernel: the first k block starts from bias_col (C was not filled with it).
void gemm_avx512_tiles(const GemmArgs& g, bool load_first, bool bias_in_kernel) {
  const int64_t row_tiles = (g.m + kBigTileRows - 1) / kBigTileRows;
  const int64_t tile_rows = ((g.m + row_tiles - 1) / row_tiles + kMicroRows - 1) / kMicroRows * kMicroRows;
  const bool in_place_b = row_tiles == 1 && g.b_col == 1;
  const std::vector<float> packed_b = in_place_b ? std::vector<float>() : pack_b(g, 1.0f);
  // Groups outer (a 12-row A slice in L1, C written in long row runs) when the k block of B fits
  // L2: then full-width tiles when there are enough row tiles to share out (A packed once per k
  // block). Else B pairs outer (a pair in L1, run down every group of the tile) over tiles of
  // kBigTilePanels panels (the C tile stays in L2 across k blocks).
  const int64_t panels = (g.n + kPanel - 1) / kPanel;
  const bool groups_outer = std::min(kBigBlockK, g.k) * panels * kPanel * 4 <= (1 << 20);
  const int64_t tile_panels = groups_outer && row_tiles >= 4 ? (panels + 1) / 2 * 2 : kBigTilePanels;
  const int64_t col_tiles = (panels + tile_panels - 1) / tile_panels;
  // In place, the kernel reads 16 columns per panel: a ragged last pair (columns from
  // full_pairs · 32 on) is packed alone, zero-padded.
  const int64_t full_pairs = g.n / (2 * kPanel);
  std::vector<float> tail_b;
  if (in_place_b && full_pairs * 2 * kPanel < g.n) {
    GemmArgs tail = g;
    tail.b = g.b + full_pairs * 2 * kPanel, tail.n = g.n - full_pairs * 2 * kPanel;
    tail_b = pack_b(tail, 1.0f);
  }
#pragma omp parallel for collapse(2) schedule(dynamic) if (g.m * g.n * g.k > 100000)
  for (int64_t ct = 0; ct < col_tiles; ++ct)
    for (int64_t rt = 0; rt < row_tiles; ++rt) {
      const int64_t i0 = rt * tile_rows, rows = std::min(tile_rows, g.m - i0);
      if (rows <= 0) continue;
      const int64_t p0 = ct * tile_panels, p_end = std::min(panels, p0 + tile_panels);
      const int64_t groups = (rows + kMicroRows - 1) / kMicroRows;
      thread_local std::vector<float> apack;
      if (apack.size() < static_cast<std::size_t>(groups * kMicroRows * kBigBlockK))
        apack.resize(static_cast<std::size_t>(groups * kMicroRows * kBigBlockK));
      for (int64_t k0 = 0; k0 < g.k; k0 += kBigBlockK) {
        const int64_t kc = std::min(kBigBlockK, g.k - k0);
        // A[i0 + 12·q + r][k0 + kk] at apack[(q · kc + kk) · 12 + r]; the rows past `rows` are never read.
        for (int64_t q = 0; q < groups; ++q) {
          float* dst = apack.data() + q * kc * kMicroRows;
          const int64_t r_end = std::min(kMicroRows, rows - q * kMicroRows);
          const float* src = g.a + (i0 + q * kMicroRows) * g.a_row + k0 * g.a_col;
          if (g.a_rows) {  // rows anywhere, each contiguous in k
            const float* src_rows[kMicroRows];
            for (int64_t r = 0; r < r_end; ++r) src_rows[r] = g.a + g.a_rows[i0 + q * kMicroRows + r] + k0;
            avx512::pack_a12_rows(dst, src_rows, r_end, kc, g.alpha);
          } else if (g.a_col == 1) {
            avx512::pack_a12(dst, src, g.a_row, r_end, kc, g.alpha);  // 4 × 4 transposes
          } else {
            for (int64_t kk = 0; kk < kc; ++kk)
              for (int64_t r = 0; r < r_end; ++r) dst[kk * kMicroRows + r] = g.alpha * src[r * g.a_row + kk * g.a_col];
          }
        }
        const bool load = k0 > 0 || load_first;
        const float* bias = k0 == 0 && bias_in_kernel ? g.bias_col : nullptr;
        auto run = [&](int64_t p, int64_t q) {
          const int64_t j0 = p * kPanel, cols = std::min(2 * kPanel, g.n - j0);
          const bool packed = !in_place_b || p / 2 >= full_pairs;
          const float* panel0 = !packed     ? g.b + k0 * g.b_row + j0
                                 : in_place_b ? tail_b.data() + k0 * kPanel
                                              : packed_b.data() + (p * g.k + k0) * kPanel;
          const float* panel1 = packed ? panel0 + g.k * kPanel : panel0 + kPanel;  // read only when cols > 16
          const int64_t group_rows = std::min(kMicroRows, rows - q * kMicroRows);
          const float* group_a = apack.data() + q * kc * kMicroRows;
          if (g.c_rows) {
            float* c_rows[kMicroRows];
            for (int64_t r = 0; r < group_rows; ++r) c_rows[r] = g.c + g.c_rows[i0 + q * kMicroRows + r] + j0;
            avx512::packed_pair_kernel_rows(c_rows, group_a, panel0, panel1, packed ? kPanel : g.b_row, group_rows, cols,
                                            kc, load, bias ? bias + j0 : nullptr);
          } else {
            avx512::packed_pair_kernel(g.c + (i0 + q * kMicroRows) * g.ldc + j0, g.ldc, group_a, panel0, panel1,
                                       packed ? kPanel : g.b_row, group_rows, cols, kc, load, bias ? bias + j0 : nullptr);
          }
        };
        if (groups_outer) {
          for (int64_t q = 0; q < groups; ++q)
            for (int64_t p = p0; p < p_end; p += 2) run(p, q);
        } else {
          for (int64_t p = p0; p < p_end; p += 2)
            for (int64_t q = 0; q < groups; ++q) run(p, q);
        }
      }
      if (g.epilogue)
        g.epilogue(g.c + i0 * g.ldc + p0 * kPanel, g.ldc, rows, std::min(g.n, p_end * kPanel) - p0 * kPanel);
    }
}

// GemmArgs::a_rows / c_rows where the AVX-512 tiles cannot follow them: A's rows gathered into a
// contiguous copy, C computed contiguously (from its rows when accumulating) and scattered back.
void gemm_rows_by_copy(const GemmArgs& g) {
  GemmArgs d = g;
  d.a_rows = d.c_rows = nullptr;
  std::vector<float> a_copy, c_copy;
  if (g.a_rows) {
    a_copy.resize(static_cast<std::size_t>(g.m * g.k));
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t kk = 0; kk < g.k; ++kk) a_copy[i * g.k + kk] = g.a[g.a_rows[i] + kk * g.a_col];
    d.a = a_copy.data(), d.a_row = g.k, d.a_col = 1;
  }
  if (g.c_rows) {
    c_copy.resize(static_cast<std::size_t>(g.m * g.n));
    if (g.accumulate)
      for (int64_t i = 0; i < g.m; ++i) std::copy_n(g.c + g.c_rows[i], g.n, c_copy.data() + i * g.n);
    d.c = c_copy.data(), d.ldc = g.n;
  }
  gemm_f32(d);
  if (g.c_rows)
    for (int64_t i = 0; i < g.m; ++i) std::copy_n(c_copy.data() + i * g.n, g.n, g.c + g.c_rows[i]);
}

}  // namespace

void gemm_f32(const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.a_rows || g.c_rows) {
    const bool in_place = kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx512) && g.k > 0 &&
                          g.m * g.n * g.k > kSmallProduct && !g.bias_row && (!g.a_rows || g.a_col == 1) &&
                          (!g.c_rows || !g.epilogue);
    if (in_place)  // C starts as itself (accumulate), the column bias, or the first k block's product
      gemm_avx512_tiles(g, g.accumulate, g.bias_col != nullptr);
    else
      gemm_rows_by_copy(g);
    return;
  }
  // C starts as bias (or 0, or itself when accumulating), then every k block adds. Without bias
  // the first k block stores instead of adding (`load_first` false): C is written once, not
  // zero-filled first (for attention scores that is a pass over hundreds of MiB saved).
  const bool has_bias = g.bias_col || g.bias_row;
  const bool small = g.k <= 0 || g.m * g.n * g.k <= kSmallProduct;
  // The AVX-512 kernels start their first k block from the column bias: no pass of its own over C.
  const bool bias_in_kernel = g.bias_col && !small && kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx512);
  const bool load_first = g.accumulate || (has_bias && !bias_in_kernel) || small;
  if (load_first && !(g.accumulate && !has_bias) && !bias_in_kernel) {
#pragma omp parallel for if (g.m * g.n > 65536)
    for (int64_t i = 0; i < g.m; ++i) {
      float* row = g.c + i * g.ldc;
      for (int64_t j = 0; j < g.n; ++j) {
        const float bias = g.bias_col ? g.bias_col[j] : g.bias_row ? g.bias_row[i] : 0.0f;
        row[j] = g.accumulate ? row[j] + bias : bias;
      }
    }
  }
  if (g.k <= 0) {
    if (g.epilogue) g.epilogue(g.c, g.ldc, g.m, g.n);
    return;
  }
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
    if (g.epilogue) g.epilogue(g.c, g.ldc, g.m, g.n);
    return;
  }
  if (kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx512) && gemm_avx512_variant == 2 && g.n > 128) {
    gemm_avx512_tiles(g, load_first, bias_in_kernel);
    return;
  }
  const std::vector<float> packed_b = pack_b(g, g.alpha);
  std::vector<float> packed_a;
  const float* a = g.a;
  int64_t lda = g.a_row;
  if (g.a_col != 1) {  // a transposed (or otherwise strided) A: make its rows contiguous in k
    packed_a.resize(static_cast<std::size_t>(g.m * g.k));
#pragma omp parallel for if (g.m * g.k > 65536)
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
            const bool load = k0 > 0 || load_first;
            if (pairs) {  // the second panel of a ragged last pair is never read (its columns are masked)
              avx512::panel_pair_kernel(g.c + i * g.ldc + j0, g.ldc, a + i * lda + k0, lda, panel,
                                        p + 1 < p_end ? panel + g.k * kPanel : panel, micro_rows,
                                        std::min(2 * kPanel, g.n - j0), kc, load,
                                        k0 == 0 && bias_in_kernel ? g.bias_col + j0 : nullptr);
            } else {
              kernel(g.c + i * g.ldc + j0, g.ldc, a + i * lda + k0, lda, panel, micro_rows, std::min(kPanel, g.n - j0),
                     kc, load);
            }
          }
      }
      const int64_t j0 = ct * kTilePanels * kPanel;
      if (g.epilogue) g.epilogue(g.c + i0 * g.ldc + j0, g.ldc, rows, std::min(g.n, p_end * kPanel) - j0);
    }
}

void set_gemm_avx512_variant(int variant) { gemm_avx512_variant = variant == 1 ? 1 : 2; }

void gemm_f32_ref(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    const float* a = g.a + (g.a_rows ? g.a_rows[i] : i * g.a_row);
    float* c = g.c + (g.c_rows ? g.c_rows[i] : i * g.ldc);
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = 0.0;
      for (int64_t kk = 0; kk < g.k; ++kk) sum += double(a[kk * g.a_col]) * g.b[kk * g.b_row + j * g.b_col];
      double y = g.alpha * sum + (g.bias_col ? g.bias_col[j] : g.bias_row ? g.bias_row[i] : 0.0f);
      if (g.accumulate) y += c[j];
      c[j] = static_cast<float>(y);
    }
    if (g.epilogue && g.c_rows) g.epilogue(c, g.n, 1, g.n);
  }
  if (g.epilogue && !g.c_rows) g.epilogue(g.c, g.ldc, g.m, g.n);
}

}  // namespace microsr::onnx_fast
