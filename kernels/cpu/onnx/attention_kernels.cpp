// Attention variants 1 and 2 (attention.h): threading, packing and blocking. The AVX-512 pieces
// they call live in gemm_avx512.cpp (packing A, the 12×32 kernel) and attention_avx512.cpp (the
// bias + exp row pass); variant 2 runs only when kernels/cpu/cpu_isa.h reports AVX-512.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/attention.h"
#include "cpu/onnx/gemm.h"
#include "cpu/onnx/vector_math.h"

namespace microsr::onnx_fast {
namespace {

// The variant (attention.h): 2, or MICROSR_ONNX_ATTENTION=1 from the environment (A/B timing of
// whole models).
int attention_variant = [] {
  const char* v = std::getenv("MICROSR_ONNX_ATTENTION");
  return v && std::string(v) == "1" ? 1 : 2;
}();

constexpr int64_t kPanel = 16;    // columns per packed panel (gemm.h's layout)
constexpr int64_t kGroup = 12;    // query rows per kernel call (12 × 32 accumulators)
constexpr int64_t kBlockK = 256;  // k steps per packed A block (12 × 256 floats: 12 KiB, L1)

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Adds every bias to the score rows [i0, i0 + n) of batch index b (scores `ld` apart); plain loops.
void add_biases(const AttentionArgs& a, float* s, int64_t ld, int64_t b, int64_t i0, int64_t n) {
  for (const AttentionBias& w : a.biases)
    for (int64_t i = 0; i < n; ++i) {
      float* row = s + i * ld;
      const float* base = w.data + w.row_offset[b * a.nq + i0 + i];
      for (std::size_t r = 0; r < w.run_base.size(); ++r) {
        float* dst = row + static_cast<int64_t>(r) * w.run;
        const float* src = base + w.run_base[r];
        if (w.step == 1) {
          for (int64_t j = 0; j < w.run; ++j) dst[j] += src[j];
        } else {
          const float value = *src;
          for (int64_t j = 0; j < w.run; ++j) dst[j] += value;
        }
      }
    }
}

}  // namespace

void set_attention_variant(int variant) { attention_variant = variant == 1 ? 1 : 2; }

void attention_f32(const AttentionArgs& a) {
  if (attention_variant == 2 && a.dk > 0 && kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx512))
    attention_v2(a);
  else
    attention_v1(a);
}

// Variant 1: per (b, block of query rows) a scratch of about 1.5 MiB, two gemm_f32 calls
// (single-threaded inside the parallel loop: OpenMP does not nest here), biases and softmax between.
void attention_v1(const AttentionArgs& a) {
  const int64_t threads = omp_get_max_threads(), nq = a.nq, nk = a.nk;
  // Query rows per block: a scratch of about 1.5 MiB, and at least four blocks per thread when the
  // batch alone does not give them.
  int64_t block = std::clamp<int64_t>((384 * 1024) / nk, 12, std::max<int64_t>(nq, 1));
  while (block > 12 && a.batch * ((nq + block - 1) / block) < 4 * threads) block = std::max<int64_t>(12, block / 2);
  const int64_t blocks = (nq + block - 1) / block, items = a.batch * blocks;
  const auto softmax_rows =
      kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx2) ? avx2::softmax_rows : baseline::softmax_rows;
#pragma omp parallel if (items > 1 && nq * nk * (a.dk + a.dv) > 100000)
  {
    std::vector<float> s(static_cast<std::size_t>(block * nk));
#pragma omp for schedule(dynamic)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t b = item / blocks, i0 = (item % blocks) * block, n = std::min(block, nq - i0);
      GemmArgs g;  // scores = alpha · Q rows · Kᵀ
      g.m = n, g.n = nk, g.k = a.dk, g.alpha = a.alpha;
      g.a = a.q + a.q_off[b] + i0 * a.q_row, g.a_row = a.q_row, g.a_col = a.q_col;
      g.b = a.k + a.k_off[b], g.b_row = a.k_row, g.b_col = a.k_col;
      g.c = s.data(), g.ldc = nk;
      gemm_f32(g);
      add_biases(a, s.data(), nk, b, i0, n);
      softmax_rows(s.data(), s.data(), n, nk);
      GemmArgs h;  // out rows = probabilities · V
      h.m = n, h.n = a.dv, h.k = nk;
      h.a = s.data(), h.a_row = nk;
      h.b = a.v + a.v_off[b], h.b_row = a.v_row, h.b_col = a.v_col;
      h.c = a.out + a.out_off[b] + i0 * a.out_row, h.ldc = a.out_row;
      gemm_f32(h);
    }
  }
}

namespace {

// Variant 2's packing of one batch index. Layouts:
//   kp  alpha · Kᵀ[b] as panels [nk/16 rounded up][dk][16] (keys past nk zero)
//   vp  V[b] as panels [dv/16 rounded up][nk][16] (values past dv zero)
void pack_k_panels(const AttentionArgs& a, int64_t b, float* kp) {
  const float* ks = a.k + a.k_off[b];
  for (int64_t p = 0; p * kPanel < a.nk; ++p) {
    const int64_t keys = std::min(kPanel, a.nk - p * kPanel);
    float* dst = kp + p * a.dk * kPanel;
    if (a.k_row == 1) {  // K's rows (one key, dk contiguous values) transposed 16 at a time
      avx512::pack_rows16(dst, ks + p * kPanel * a.k_col, a.k_col, keys, a.dk, a.alpha);
      continue;
    }
    for (int64_t d = 0; d < a.dk; ++d)
      for (int64_t j = 0; j < kPanel; ++j)
        dst[d * kPanel + j] = j < keys ? a.alpha * ks[d * a.k_row + (p * kPanel + j) * a.k_col] : 0.0f;
  }
}

void pack_v_panels(const AttentionArgs& a, int64_t b, float* vp) {
  const float* vs = a.v + a.v_off[b];
  for (int64_t p = 0; p * kPanel < a.dv; ++p) {
    const int64_t cols = std::min(kPanel, a.dv - p * kPanel);
    float* dst = vp + p * a.nk * kPanel;
    for (int64_t key = 0; key < a.nk; ++key) {
      const float* src = vs + key * a.v_row + p * kPanel * a.v_col;
      float* d = dst + key * kPanel;
      if (cols == kPanel && a.v_col == 1) {
        std::memcpy(d, src, kPanel * sizeof(float));
      } else {
        for (int64_t j = 0; j < kPanel; ++j) d[j] = j < cols ? src[j * a.v_col] : 0.0f;
      }
    }
  }
}

}  // namespace

// Variant 2. Per thread: kp and vp of the batch index it last worked on (repacked when an item of
// another index comes: items run index-major, so each thread packs each index at most once),
// s [block][ld] scores (ld = nk rounded up to 16, plus 16), qpack [groups][dk block][12] (Q rows k-major),
// ppack [groups][256][12] (one 256-key block of probabilities, k-major), inv_sum [block].
void attention_v2(const AttentionArgs& a) {
  const int64_t threads = omp_get_max_threads(), nq = a.nq, nk = a.nk, dk = a.dk, dv = a.dv;
  if (a.batch <= 0 || nq <= 0 || dv <= 0) return;
  const int64_t k_panels = (nk + kPanel - 1) / kPanel, v_panels = (dv + kPanel - 1) / kPanel;
  // Score rows one cache line longer than their panels: rows a multiple of 4 KiB apart would put a
  // 12-row tile's lines in one L1 set.
  const int64_t k_size = k_panels * dk * kPanel, v_size = v_panels * nk * kPanel, ld = k_panels * kPanel + kPanel;
  // Query rows per block: whole groups, a score scratch of at most 1 MiB (L2 keeps it beside the
  // head's packed K and V streaming through), and at least four blocks per thread when the batch
  // alone does not give them.
  int64_t block = std::clamp<int64_t>((256 * 1024) / ld / kGroup * kGroup, kGroup, round_up(nq, kGroup));
  while (block > kGroup && a.batch * ((nq + block - 1) / block) < 4 * threads)
    block = std::max<int64_t>(kGroup, block / 2 / kGroup * kGroup);
  const int64_t blocks = (nq + block - 1) / block, items = a.batch * blocks;
  const bool parallel = items > 1 && nq * nk * (dk + dv) > 100000;
#pragma omp parallel if (parallel)
  {
    // Left uninitialised (every element is written before it is read).
    const std::unique_ptr<float[]> kp(new float[k_size]), vp(new float[v_size]);
    int64_t packed_b = -1;
    const int64_t groups_max = block / kGroup, kc_q = std::min(kBlockK, std::max<int64_t>(dk, 1));
    const std::unique_ptr<float[]> s(new float[block * ld]);
    std::vector<float> inv_sum(static_cast<std::size_t>(block));
    std::vector<float> qpack(static_cast<std::size_t>(groups_max * kGroup * kc_q));
    std::vector<float> ppack(static_cast<std::size_t>(groups_max * kGroup * kBlockK));
    std::vector<avx512::BiasRun> runs(a.biases.size());
#pragma omp for schedule(dynamic)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t b = item / blocks, i0 = (item % blocks) * block, n = std::min(block, nq - i0);
      const int64_t groups = (n + kGroup - 1) / kGroup;
      auto group_rows = [&](int64_t g) { return std::min(kGroup, n - g * kGroup); };
      if (b != packed_b) pack_k_panels(a, b, kp.get()), pack_v_panels(a, b, vp.get()), packed_b = b;
      const float* kb = kp.get();
      const float* vb = vp.get();
      // scores s[i][key] = Q[i] · alpha·K[key], k blocks of 256 (one for SAM's 64 and 96)
      for (int64_t k0 = 0; k0 < dk; k0 += kBlockK) {
        const int64_t kc = std::min(kBlockK, dk - k0);
        for (int64_t g = 0; g < groups; ++g) {  // qpack[g][kk][r] = Q[i0 + 12g + r][k0 + kk]
          float* dst = qpack.data() + g * kGroup * kc;
          const float* src = a.q + a.q_off[b] + (i0 + g * kGroup) * a.q_row + k0 * a.q_col;
          if (a.q_col == 1) {
            avx512::pack_a12(dst, src, a.q_row, group_rows(g), kc, 1.0f);
          } else {
            for (int64_t kk = 0; kk < kc; ++kk)
              for (int64_t r = 0; r < group_rows(g); ++r) dst[kk * kGroup + r] = src[r * a.q_row + kk * a.q_col];
          }
        }
        for (int64_t p = 0; p < k_panels; p += 2) {  // a pair of K panels (kc × 32) stays in L1 over the groups
          const int64_t cols = std::min(2 * kPanel, nk - p * kPanel);
          const float* panel0 = kb + (p * dk + k0) * kPanel;
          const float* panel1 = cols > kPanel ? panel0 + dk * kPanel : panel0;
          for (int64_t g = 0; g < groups; ++g)
            avx512::packed_pair_kernel(s.get() + g * kGroup * ld + p * kPanel, ld, qpack.data() + g * kGroup * kc,
                                       panel0, panel1, kPanel, group_rows(g), cols, kc, k0 > 0);
        }
      }
      // biases, exp(x - max), 1 / sum, row by row
      for (int64_t i = 0; i < n; ++i) {
        for (std::size_t w = 0; w < a.biases.size(); ++w) {
          const AttentionBias& bias = a.biases[w];
          runs[w] = {bias.data + bias.row_offset[b * nq + i0 + i], bias.run_base.data(),
                     static_cast<int64_t>(bias.run_base.size()), bias.run, bias.step};
        }
        inv_sum[i] = avx512::bias_exp_row(s.get() + i * ld, nk, runs.data(), static_cast<int64_t>(runs.size()));
      }
      // out rows = exp scores · V, 256 keys at a time; then each row times 1 / sum
      float* ob = a.out + a.out_off[b] + i0 * a.out_row;
      for (int64_t k0 = 0; k0 < nk; k0 += kBlockK) {
        const int64_t kc = std::min(kBlockK, nk - k0);
        for (int64_t g = 0; g < groups; ++g)
          avx512::pack_a12(ppack.data() + g * kGroup * kc, s.get() + g * kGroup * ld + k0, ld, group_rows(g), kc, 1.0f);
        for (int64_t p = 0; p < v_panels; p += 2) {
          const int64_t cols = std::min(2 * kPanel, dv - p * kPanel);
          const float* panel0 = vb + (p * nk + k0) * kPanel;
          const float* panel1 = cols > kPanel ? panel0 + nk * kPanel : panel0;
          for (int64_t g = 0; g < groups; ++g)
            avx512::packed_pair_kernel(ob + g * kGroup * a.out_row + p * kPanel, a.out_row,
                                       ppack.data() + g * kGroup * kc, panel0, panel1, kPanel, group_rows(g), cols, kc,
                                       k0 > 0);
        }
      }
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = 0; e < dv; ++e) ob[i * a.out_row + e] *= inv_sum[i];
    }
  }
}

}  // namespace microsr::onnx_fast
