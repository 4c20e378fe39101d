// Fast MatMul, Gemm and Einsum (fast_ops.h) on the packed GEMM of gemm.h.
#include <omp.h>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/fast_ops.h"
#include "cpu/onnx/gemm.h"

namespace microsr::onnx_fast {
namespace {

using onnx_ref::OpContext;

// Runs `count` independent GEMMs: in parallel over the GEMMs when there are at least as many as
// threads (each one then runs on one thread), else one after another, each threaded inside.
template <class MakeArgs>
void batched_gemm(int64_t count, int64_t flops_each, MakeArgs make_args) {
  const bool outer = count >= omp_get_max_threads() && count * flops_each > 100000;
#pragma omp parallel for schedule(dynamic) if (outer)
  for (int64_t p = 0; p < count; ++p) gemm_f32(make_args(p));
}

// MatMul(A [..., M, K], B [..., K, N]) with numpy batch broadcasting and 1-D operands.
bool matmul(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &a = c.in(0), &b = c.in(1);
  if (!a.is_float() || !b.is_float() || a.shape.empty() || b.shape.empty()) return false;
  std::vector<int64_t> as = a.shape, bs = b.shape;
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) return false;  // the reference names the mismatch
  const std::vector<int64_t> a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const std::vector<int64_t> batch = onnx_ref::broadcast_shapes(a_batch, b_batch);
  const std::vector<int64_t> ia = onnx_ref::broadcast_index(a_batch, batch), ib = onnx_ref::broadcast_index(b_batch, batch);
  std::vector<int64_t> shape = batch;
  if (!a_vec) shape.push_back(m);
  if (!b_vec) shape.push_back(n);
  OnnxValue out = onnx_ref::make_output(a.type, shape);
  int64_t b_elements = 1;
  for (int64_t d : b_batch) b_elements *= d;
  if (b_elements == 1) {  // one B for every batch (a weight): A's batches are just more rows
    GemmArgs g;
    g.m = m * static_cast<int64_t>(ia.size()), g.n = n, g.k = k;
    g.a = a.floats.data(), g.a_row = k;
    g.b = b.floats.data(), g.b_row = n;
    g.c = out.floats.data(), g.ldc = n;
    // A broadcast over batches it lacks (a_batch smaller than batch) repeats its rows: not foldable.
    if (static_cast<int64_t>(ia.size()) == 1 || ia.back() == static_cast<int64_t>(ia.size()) - 1) {
      gemm_f32(g);
      outputs = onnx_ref::outputs_of(std::move(out));
      return true;
    }
  }
  batched_gemm(static_cast<int64_t>(ia.size()), m * n * k, [&](int64_t p) {
    GemmArgs g;
    g.m = m, g.n = n, g.k = k;
    g.a = a.floats.data() + ia[p] * m * k, g.a_row = k;
    g.b = b.floats.data() + ib[p] * k * n, g.b_row = n;
    g.c = out.floats.data() + p * m * n, g.ldc = n;
    return g;
  });
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// Gemm(A, B, C?) = alpha · op(A) · op(B) + beta · C, C broadcast to [M, N].
bool gemm(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const OnnxValue &a = c.in(0), &b = c.in(1);
  if (!a.is_float() || !b.is_float() || a.shape.size() != 2 || b.shape.size() != 2) return false;
  const bool ta = c.attr_int("transA", 0) != 0, tb = c.attr_int("transB", 0) != 0;
  const float alpha = c.attr_float("alpha", 1.0f), beta = c.attr_float("beta", 1.0f);
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t n = tb ? b.shape[0] : b.shape[1];
  if ((tb ? b.shape[1] : b.shape[0]) != k) return false;
  OnnxValue out = onnx_ref::make_output(a.type, {m, n});
  GemmArgs g;
  g.m = m, g.n = n, g.k = k, g.alpha = alpha;
  g.a = a.floats.data(), g.a_row = ta ? 1 : k, g.a_col = ta ? m : 1;
  g.b = b.floats.data(), g.b_row = tb ? 1 : n, g.b_col = tb ? k : 1;
  g.c = out.floats.data(), g.ldc = n;
  if (c.has(2)) {  // beta · C broadcast into the output first, then accumulate
    const OnnxValue& bias = c.in(2);
    if (!bias.is_float()) return false;
    const std::vector<int64_t> index = onnx_ref::broadcast_index(bias.shape, {m, n});
    for (int64_t i = 0; i < m * n; ++i) out.floats[i] = beta * bias.floats[index[i]];
    g.accumulate = true;
  }
  gemm_f32(g);
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

// The AVX-512 path of the einsum below: r[h] (or r[w]), the GEMM's B, is the same for every b, so
// per h (w) it is packed once into 16-column panels [K/16][C][16] and every b's rows run on it,
// packed 12 at a time k-major (rows of tens of values: gemm_f32 would repack B per (b, h) and
// spend more on packing than on the product). Parallel over h (w). C up to 256.
//   out[b][h][w][k] = Σ_c q[b][h][w][c] · r[h or w][k][c]
void rel_pos_einsum_avx512(float* out, const float* q, const float* r, int64_t nb, int64_t nh, int64_t nw, int64_t nc,
                           int64_t nk, bool by_h) {
  constexpr int64_t kPanel = 16, kGroup = 12;
  const int64_t panels = (nk + kPanel - 1) / kPanel, outer = by_h ? nh : nw, rows = by_h ? nw : nh;
  // rows of one (b, outer index): stride in q and in out
  const int64_t q_row = by_h ? nc : nw * nc, o_row = by_h ? nk : nw * nk;
#pragma omp parallel if (nb * nh * nw * nk * nc > 200000)
  {
    std::vector<float> bpack(static_cast<std::size_t>(panels * nc * kPanel));
    std::vector<float> apack(static_cast<std::size_t>(kGroup * nc));
#pragma omp for schedule(dynamic)
    for (int64_t x = 0; x < outer; ++x) {
      for (int64_t p = 0; p < panels; ++p)
        avx512::pack_rows16(bpack.data() + p * nc * kPanel, r + (x * nk + p * kPanel) * nc, nc,
                            std::min(kPanel, nk - p * kPanel), nc, 1.0f);
      for (int64_t b = 0; b < nb; ++b) {
        // first row of (b, x): by h, q[b][x][0]; by w, q[b][0][x]
        const int64_t first = by_h ? (b * nh + x) * nw : b * nh * nw + x;
        for (int64_t i0 = 0; i0 < rows; i0 += kGroup) {
          const int64_t n = std::min(kGroup, rows - i0);
          avx512::pack_a12(apack.data(), q + first * nc + i0 * q_row, q_row, n, nc, 1.0f);
          for (int64_t p = 0; p < panels; p += 2) {
            const int64_t cols = std::min(2 * kPanel, nk - p * kPanel);
            const float* panel0 = bpack.data() + p * nc * kPanel;
            avx512::packed_pair_kernel(out + first * nk + i0 * o_row + p * kPanel, o_row, apack.data(), panel0,
                                       cols > kPanel ? panel0 + nc * kPanel : panel0, kPanel, n, cols, nc, false);
          }
        }
      }
    }
  }
}

// Einsum of SAM's decomposed relative positions: "bhwc,hkc->bhwk" (rel_h) and "bhwc,wkc->bhwk"
// (rel_w), any letters: q [B, H, W, C] times r [H or W, K, C] over c. With AVX-512 (and C <= 256)
// rel_pos_einsum_avx512; else one GEMM per (b, h) or (b, w).
bool einsum(const OpContext& c, std::vector<OnnxValue>& outputs) {
  std::string eq;
  for (char ch : c.attr_string("equation", "")) if (ch != ' ') eq += ch;
  if (eq.size() != 14 || eq.substr(4, 1) != "," || eq.substr(8, 2) != "->" || c.inputs.size() != 2) return false;
  const std::string t0 = eq.substr(0, 4), t1 = eq.substr(5, 3), to = eq.substr(10, 4);
  const char B = t0[0], H = t0[1], W = t0[2], C = t0[3], K = t1[1];
  const bool distinct = B != H && B != W && B != C && H != W && H != C && W != C && t0.find(K) == std::string::npos;
  if (!distinct || t1[2] != C || (t1[0] != H && t1[0] != W) || to != std::string{B, H, W, K}) return false;
  const OnnxValue &q = c.in(0), &r = c.in(1);
  if (!q.is_float() || !r.is_float() || q.shape.size() != 4 || r.shape.size() != 3) return false;
  const int64_t nb = q.shape[0], nh = q.shape[1], nw = q.shape[2], nc = q.shape[3], nk = r.shape[1];
  const bool by_h = t1[0] == H;
  if (r.shape[0] != (by_h ? nh : nw) || r.shape[2] != nc) return false;
  OnnxValue out = onnx_ref::make_output(q.type, {nb, nh, nw, nk});
  if (kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx512) && nc > 0 && nc <= 256 && nk > 0) {
    rel_pos_einsum_avx512(out.floats.data(), q.floats.data(), r.floats.data(), nb, nh, nw, nc, nk, by_h);
    outputs = onnx_ref::outputs_of(std::move(out));
    return true;
  }
  const int64_t groups = by_h ? nb * nh : nb * nw;
  batched_gemm(groups, (by_h ? nw : nh) * nk * nc, [&](int64_t p) {
    GemmArgs g;
    g.n = nk, g.k = nc;
    g.b_row = 1, g.b_col = nc;  // B[c][k] = r[.][k][c]
    if (by_h) {  // p = (b, h): rows w
      const int64_t h = p % nh;
      g.m = nw, g.a = q.floats.data() + p * nw * nc, g.a_row = nc;
      g.b = r.floats.data() + h * nk * nc;
      g.c = out.floats.data() + p * nw * nk, g.ldc = nk;
    } else {  // p = (b, w): rows h, nw * nc apart
      const int64_t b = p / nw, w = p % nw;
      g.m = nh, g.a = q.floats.data() + (b * nh * nw + w) * nc, g.a_row = nw * nc;
      g.b = r.floats.data() + w * nk * nc;
      g.c = out.floats.data() + (b * nh * nw + w) * nk, g.ldc = nw * nk;
    }
    return g;
  });
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

}  // namespace

void add_fast_matmul_ops(FastTable& t) {
  t["MatMul"] = matmul;
  t["Gemm"] = gemm;
  t["Einsum"] = einsum;
}

}  // namespace microsr::onnx_fast
