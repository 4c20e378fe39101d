// ONNX matrix products: MatMul (numpy batching), Gemm, Einsum (one or two operands, no ellipsis).
// Plain loops that accumulate in float in k order (MatMul, Gemm) or double (Einsum).
#include <algorithm>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {
namespace {

// MatMul(A [..., M, K], B [..., K, N]) -> [..., M, N]; a 1-D A is [1, K] and a 1-D B [K, 1], the
// added axis dropped from the result.
std::vector<OnnxValue> matmul(const OpContext& c) {
  const OnnxValue &a = c.in(0), &b = c.in(1);
  require(a.is_float() && b.is_float(), "MatMul takes floats, found " + a.describe() + " and " + b.describe());
  require(!a.shape.empty() && !b.shape.empty(), "MatMul: scalar operand");
  std::vector<int64_t> as = a.shape, bs = b.shape;
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  require(bs[bs.size() - 2] == k, "MatMul: " + a.describe() + " times " + b.describe() + ": inner sizes differ");
  const std::vector<int64_t> a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const std::vector<int64_t> batch = broadcast_shapes(a_batch, b_batch);
  const std::vector<int64_t> ia = broadcast_index(a_batch, batch), ib = broadcast_index(b_batch, batch);
  std::vector<int64_t> shape = batch;
  if (!a_vec) shape.push_back(m);
  if (!b_vec) shape.push_back(n);
  OnnxValue out = make_value(a.type, shape);
  const auto batches = static_cast<int64_t>(ia.size());
#pragma omp parallel for collapse(2) if (batches * m * n * k > 100000)
  for (int64_t p = 0; p < batches; ++p)
    for (int64_t i = 0; i < m; ++i) {
      const float* arow = a.floats.data() + ia[p] * m * k + i * k;
      const float* bmat = b.floats.data() + ib[p] * k * n;
      float* y = out.floats.data() + (p * m + i) * n;
      for (int64_t kk = 0; kk < k; ++kk) {
        const float av = arow[kk];
        for (int64_t j = 0; j < n; ++j) y[j] += av * bmat[kk * n + j];
      }
    }
  return outputs_of(std::move(out));
}

// Gemm(A, B, C?) = alpha · op(A) · op(B) + beta · C, op transposing when transA/transB; C broadcasts
// to [M, N].
std::vector<OnnxValue> gemm(const OpContext& c) {
  const OnnxValue &a = c.in(0), &b = c.in(1);
  require(a.shape.size() == 2 && b.shape.size() == 2, "Gemm takes 2-D A and B, found " + a.describe() + ", " + b.describe());
  const bool ta = c.attr_int("transA", 0) != 0, tb = c.attr_int("transB", 0) != 0;
  const float alpha = c.attr_float("alpha", 1.0f), beta = c.attr_float("beta", 1.0f);
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t n = tb ? b.shape[0] : b.shape[1];
  require((tb ? b.shape[1] : b.shape[0]) == k, "Gemm: " + a.describe() + " and " + b.describe() + " do not multiply");
  OnnxValue out = make_value(a.type, {m, n});
  std::vector<int64_t> ic;
  if (c.has(2)) ic = broadcast_index(c.in(2).shape, {m, n});
#pragma omp parallel for if (m * n * k > 100000)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (int64_t kk = 0; kk < k; ++kk)
        sum += a.floats[ta ? kk * m + i : i * k + kk] * b.floats[tb ? j * k + kk : kk * n + j];
      float y = alpha * sum;
      if (c.has(2)) y += beta * c.in(2).floats[ic[i * n + j]];
      out.floats[i * n + j] = y;
    }
  return outputs_of(std::move(out));
}

// Einsum: each letter is an axis; letters missing from the output are summed over. A letter
// repeated within an operand takes its diagonal. Without "->" the output is the letters that
// appear once, in alphabetical order.
std::vector<OnnxValue> einsum(const OpContext& c) {
  std::string eq;
  for (char ch : c.attr_string("equation", "")) if (ch != ' ') eq += ch;
  require(eq.find("...") == std::string::npos, "Einsum: ellipsis ('...') is not supported in '" + eq + "'");
  const std::size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (std::size_t start = 0;;) {
    const std::size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  require(terms.size() == c.inputs.size() && (terms.size() == 1 || terms.size() == 2),
          "Einsum: '" + eq + "' has " + std::to_string(terms.size()) + " operands, the node " +
              std::to_string(c.inputs.size()) + " (1 or 2 are supported)");
  std::string out_letters;
  if (arrow != std::string::npos) {
    out_letters = eq.substr(arrow + 2);
  } else {
    for (char ch = 'A'; ch <= 'z'; ++ch)
      if (std::count(lhs.begin(), lhs.end(), ch) == 1) out_letters += ch;
  }
  // Size and per-operand stride of each letter.
  std::map<char, int64_t> size;
  std::vector<std::map<char, int64_t>> stride(terms.size());
  for (std::size_t t = 0; t < terms.size(); ++t) {
    const OnnxValue& x = c.in(t);
    require(x.is_float(), "Einsum takes floats, found " + x.describe());
    require(terms[t].size() == x.shape.size(), "Einsum: term '" + terms[t] + "' for " + x.describe());
    const std::vector<int64_t> s = strides_of(x.shape);
    for (std::size_t d = 0; d < terms[t].size(); ++d) {
      const char l = terms[t][d];
      require(!size.count(l) || size[l] == x.shape[d], std::string("Einsum: letter '") + l + "' has two sizes");
      size[l] = x.shape[d];
      stride[t][l] += s[d];
    }
  }
  std::string sum_letters;
  for (const auto& [l, n] : size)
    if (out_letters.find(l) == std::string::npos) sum_letters += l;
  std::vector<int64_t> shape;
  for (char l : out_letters) {
    require(size.count(l), std::string("Einsum: output letter '") + l + "' is in no operand");
    shape.push_back(size[l]);
  }
  auto letter_walk = [&](const std::string& letters) {  // sizes and operand strides along `letters`
    std::vector<int64_t> dims, s0, s1;
    for (char l : letters) {
      dims.push_back(size[l]);
      s0.push_back(stride[0].count(l) ? stride[0][l] : 0);
      s1.push_back(terms.size() > 1 && stride[1].count(l) ? stride[1][l] : 0);
    }
    return std::tuple{dims, s0, s1};
  };
  const auto [out_dims, out_s0, out_s1] = letter_walk(out_letters);
  const auto [sum_dims, sum_s0, sum_s1] = letter_walk(sum_letters);
  int64_t out_n = 1, sum_n = 1;
  for (int64_t d : out_dims) out_n *= d;
  for (int64_t d : sum_dims) sum_n *= d;
  // Operand offsets of each summed position, computed once.
  std::vector<int64_t> sum_off0(sum_n), sum_off1(sum_n);
  for (int64_t s = 0; s < sum_n; ++s) {
    int64_t rest = s, o0 = 0, o1 = 0;
    for (int64_t d = static_cast<int64_t>(sum_dims.size()) - 1; d >= 0; --d) {
      const int64_t i = rest % sum_dims[d];
      rest /= sum_dims[d];
      o0 += i * sum_s0[d];
      o1 += i * sum_s1[d];
    }
    sum_off0[s] = o0, sum_off1[s] = o1;
  }
  OnnxValue out = make_value(c.in(0).type, shape);
  const float* x0 = c.in(0).floats.data();
  const float* x1 = terms.size() > 1 ? c.in(1).floats.data() : nullptr;
#pragma omp parallel for if (out_n * sum_n > 100000)
  for (int64_t e = 0; e < out_n; ++e) {
    int64_t rest = e, b0 = 0, b1 = 0;
    for (int64_t d = static_cast<int64_t>(out_dims.size()) - 1; d >= 0; --d) {
      const int64_t i = rest % out_dims[d];
      rest /= out_dims[d];
      b0 += i * out_s0[d];
      b1 += i * out_s1[d];
    }
    double acc = 0.0;
    for (int64_t s = 0; s < sum_n; ++s)
      acc += x1 ? static_cast<double>(x0[b0 + sum_off0[s]]) * x1[b1 + sum_off1[s]] : x0[b0 + sum_off0[s]];
    out.floats[e] = static_cast<float>(acc);
  }
  return outputs_of(std::move(out));
}

}  // namespace

void add_matmul_ops(KernelTable& t) {
  t["MatMul"] = matmul;
  t["Gemm"] = gemm;
  t["Einsum"] = einsum;
}

}  // namespace microsr::onnx_ref
