// The compute of the fused MicrosrAttention op (fast_attention.cpp resolves the node, its folded
// Transposes, Reshapes and biases into AttentionArgs):
//
//   out[b] = softmax(alpha · Q[b] · Kᵀ[b] + Σ bias) · V[b]
//   Q [batch, nq, dk], Kᵀ [batch, dk, nk], V [batch, nk, dv], out [batch, nq, dv], all strided views
//
// The scores never exist whole (SAM ViT-B's global attention would hold 12 × 4096 × 4096 floats,
// 805 MB): each thread takes a block of query rows of one batch index at a time.
//
// Variants (numbered and kept; tests and bench/bench_onnx_attention.cpp walk both):
//   1  gemm_f32 per block for both products (any instruction set). Each call packs its B again:
//      Kᵀ (and V) are repacked for every query block of every head.
//   2  (default with AVX-512) Kᵀ and V packed once per batch index into 16-column GEMM panels
//      (alpha folded into K), shared by every block of that index; per block the Q rows are
//      packed k-major, scores written by the AVX-512 12×32 kernel into a block scratch that stays
//      in L2, biases added and exp(x - max) taken per row in one AVX-512 pass while the row is in
//      L1, the unnormalised probabilities packed per 256 keys and multiplied by V, and only the
//      narrow output rows scaled by 1 / sum.
#pragma once
#include <cstdint>
#include <vector>

namespace microsr::onnx_fast {

// One bias as a score row sees it: the element offset of each score row (over batch · nq rows),
// and along the row runs of `run` columns that start at run_base[s] and step by `step`
// (1: contiguous, 0: one repeated value).
struct AttentionBias {
  const float* data = nullptr;
  std::vector<int64_t> row_offset, run_base;
  int64_t run = 1, step = 0;
};

struct AttentionArgs {
  int64_t batch = 0, nq = 0, nk = 0, dk = 0, dv = 0;
  // Element (b, i, j) of each operand is at base + off[b] + i · row + j · col.
  const float* q = nullptr;  // Q [b][query][d]
  const float* k = nullptr;  // Kᵀ [b][d][key]
  const float* v = nullptr;  // V [b][key][e]
  std::vector<int64_t> q_off, k_off, v_off;
  int64_t q_row = 0, q_col = 1, k_row = 0, k_col = 1, v_row = 0, v_col = 1;
  float alpha = 1.0f;
  std::vector<AttentionBias> biases;
  // out [batch][nq][dv]: row (b, i) at out + out_off[b] + i · out_row, its dv values contiguous
  // (out_row = dv and out_off[b] = b · nq · dv, or the layout of a folded output Transpose).
  float* out = nullptr;
  std::vector<int64_t> out_off;
  int64_t out_row = 0;
};

// Runs the variant in use (2 when the CPU has AVX-512, else 1).
void attention_f32(const AttentionArgs& a);
void attention_v1(const AttentionArgs& a);
void attention_v2(const AttentionArgs& a);  // AVX-512 only
// 1 or 2 (2 falls back to 1 without AVX-512); tests and benchmarks, not while an attention runs.
// MICROSR_ONNX_ATTENTION=1 in the environment starts at 1.
void set_attention_variant(int variant);

namespace avx512 {
// One bias along one score row: runs of `run` columns at base + run_base[s], stepping by `step`.
struct BiasRun {
  const float* base;
  const int64_t* run_base;
  int64_t runs, run, step;
};
// row[0..width) += every bias, then row = exp(row - max(row)); returns 1 / Σ row.
float bias_exp_row(float* row, int64_t width, const BiasRun* biases, int64_t count);
}  // namespace avx512

}  // namespace microsr::onnx_fast
