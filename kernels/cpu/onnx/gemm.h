// The single-precision GEMM behind the ONNX runtime's fast MatMul, Gemm, Einsum and Conv
// (kernels/cpu/onnx/fast_*.cpp), tested against plain loops in tests/test_onnx_fast_kernels.cpp.
//
//   C[i][j] (+)= sum_k A[i][k] · B[k][j]  (+ bias)
//
// Operands are strided views, so transposes and the row strides of batched/einsum views cost no
// copy: element A[i][k] is a[i * a_row + k * a_col], B[k][j] is b[k * b_row + j * b_col], C[i][j]
// is c[i * ldc + j]. B is packed into panels of 16 columns × k (zero-padded past n), A into
// contiguous rows when its k stride is not 1; the inner kernel keeps a block of C in registers over
// blocks of 256 k: 12×32 in gemm_avx512.cpp, 6×16 in gemm_avx2.cpp (AVX2+FMA), plain loops in
// gemm_baseline.cpp, chosen by kernels/cpu/cpu_isa.h.
#pragma once
#include <cstdint>

namespace microsr::onnx_fast {

struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t a_row = 0, a_col = 1;
  const float* b = nullptr;
  int64_t b_row = 0, b_col = 1;
  float* c = nullptr;
  int64_t ldc = 0;
  float alpha = 1.0f;                  // scales A·B
  const float* bias_col = nullptr;     // + bias_col[j] (length n), or
  const float* bias_row = nullptr;     // + bias_row[i] (length m)
  bool accumulate = false;             // C += ... instead of C = ...
  // Run on each finished block of C (rows × cols at c, rows ldc apart) once every k block, the bias
  // and alpha are in: blocks are disjoint, cover C, and are still in cache (a fused activation).
  void (*epilogue)(float* c, int64_t ldc, int64_t rows, int64_t cols) = nullptr;
  // Rows anywhere (a window partition read, or its reverse written, in place): when set, A's row i
  // starts at a + a_rows[i] (contiguous in k: a_col must be 1; a_row is unused) and C's row i at
  // c + c_rows[i] (ldc unused; no epilogue). One offset per row, m of them.
  const int64_t* a_rows = nullptr;
  const int64_t* c_rows = nullptr;
};

// Runs the GEMM; OpenMP over tiles of 6·8 rows × 16·8 columns when the product is large enough
// (the session's OpenMP thread count).
void gemm_f32(const GemmArgs& g);

// The AVX-512 GEMM variants (tests and benchmarks walk both; not for use while a GEMM runs):
//   1  tiles of 48 rows × 128 columns; A read in place, 12 rows (lda apart) per kernel call; B
//      packed on every call. ~100-140 GFLOP/s per core on the SAM encoder shapes.
//   2  (default) cache blocking: A packed k-major per tile and k block (L2), full-width tiles
//      when m makes >= 4 row tiles; 32-column B pairs run over the tile's 12-row groups (or groups
//      over pairs when B's k block fits L2); B read in place for single-row-tile products.
//   Products with n <= 128 run variant 1 (packing A would cost more than it saves).
void set_gemm_avx512_variant(int variant);  // 1 or 2; MICROSR_ONNX_GEMM=1 in the environment starts at 1

// The same with plain loops in double: the tests' oracle.
void gemm_f32_ref(const GemmArgs& g);

// The inner kernels: C[0..rows)[0..16) of one panel over kc steps. `a` rows are `lda` apart and
// contiguous in k; `panel` is kc × 16. `load` adds to c's values (later k blocks) instead of
// starting from zero. `c` rows are ldc apart; only `cols` (<= 16) columns are stored.
// AVX-512: two neighbouring panels at once (cols <= 32; columns past 16 come from panel1), and
// `bias` (null, or the block's `cols` column biases) added to the starting values.
// packed_pair_kernel: A packed k-major, 12 values per k step (rows past `rows` unread), B panels
// `ldb` floats per k step (16 when packed; B's row stride when read in place), all 16 floats of
// each step readable; columns past `cols` are not written. cols <= 16 runs panel0 alone.
namespace avx512 {
void panel_pair_kernel(float* c, int64_t ldc, const float* a, int64_t lda, const float* panel0, const float* panel1,
                       int64_t rows, int64_t cols, int64_t kc, bool load, const float* bias = nullptr);
// dst[kk · 12 + r] = alpha · src[r · lda + kk] for r < rows (<= 12), kk < kc.
void pack_a12(float* dst, const float* src, int64_t lda, int64_t rows, int64_t kc, float alpha);
// dst[d · 16 + j] = alpha · src[j · ld + d] for j < 16 (0 for j >= rows), d < count: up to 16 rows
// transposed into one 16-column B panel (rows of K into panels of Kᵀ), 16 × 16 blocks in registers.
void pack_rows16(float* dst, const float* src, int64_t ld, int64_t rows, int64_t count, float alpha);
void packed_pair_kernel(float* c, int64_t ldc, const float* apack, const float* panel0, const float* panel1,
                        int64_t ldb, int64_t rows, int64_t cols, int64_t kc, bool load, const float* bias = nullptr);
// The same two with a pointer per row: C row r at c_rows[r], A row r at src_rows[r] (contiguous in k).
void packed_pair_kernel_rows(float* const* c_rows, const float* apack, const float* panel0, const float* panel1,
                             int64_t ldb, int64_t rows, int64_t cols, int64_t kc, bool load, const float* bias);
void pack_a12_rows(float* dst, const float* const* src_rows, int64_t rows, int64_t kc, float alpha);
}
namespace avx2 {
void panel_kernel(float* c, int64_t ldc, const float* a, int64_t lda, const float* panel, int64_t rows,
                  int64_t cols, int64_t kc, bool load);
}
namespace baseline {
void panel_kernel(float* c, int64_t ldc, const float* a, int64_t lda, const float* panel, int64_t rows,
                  int64_t cols, int64_t kc, bool load);
}

}  // namespace microsr::onnx_fast
