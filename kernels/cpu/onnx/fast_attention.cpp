// Fast MicrosrAttention (src/onnx/runtime_fuse.h; the reference, kernels/cpu/ref/onnx_fused_ref.cpp,
// runs the replaced chain op by op):
//
//   out[b] = softmax(scale · Q[b] · Kᵀ[b] + Σ bias) · V[b]      Q [.., Nq, d], Kᵀ [.., d, Nk], V [.., Nk, dv]
//
// The compute (blocks of query rows, the scores never whole; variants 1 and 2) is in
// attention_kernels.cpp (attention.h); this file resolves the node into its arguments. Folded
// Transposes of Q, K and V are strided views: nothing is copied here.
//
// The biases are added in the shape between the chain's two Reshapes (SAM's decomposed relative
// positions: scores viewed as [B·heads, qh, qw, kh, kw], rel_h [.., kh, 1] and rel_w [.., 1, kw]
// broadcast into it). A score row's columns are the trailing dimensions of that shape whose
// product is Nk; along them each bias steps in runs of contiguous or repeated elements.
//
// Declines (the reference then runs) when the operands' batch dimensions differ (broadcast), when
// the Reshapes do not return to the scores' shape, on a non-float operand, or when a folded output
// Reshape or Transpose (out_shape_input, out_perm) changes the last axis.
#include <algorithm>
#include <stdexcept>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/attention.h"
#include "cpu/onnx/fast_ops.h"

namespace microsr::onnx_fast {
namespace {

using onnx_ref::OpContext;

// An operand as its folded Split part and Transpose present it: dimensions, element strides into
// the value and the offset of its first element.
struct View {
  std::vector<int64_t> dims, strides;
  int64_t offset = 0;
};

// Operand `i` before its Transpose: the value itself, or with qkv_* attributes part qkv_index[i] of
// input qkv_source (default 0) split in 3 along qkv_axis and squeezed (only parts of size 1: the
// axis is dropped); qkv_index[i] = -1: operand i is input i itself.
bool base_view(const OpContext& c, std::size_t i, View& out) {
  const std::vector<int64_t> index = c.attr_ints("qkv_index");
  const bool part = c.has_attr("qkv_axis") && index.size() == 3 && index[i] >= 0;
  if (c.has_attr("qkv_axis") && index.size() != 3) return false;
  const OnnxValue& v = c.in(part ? static_cast<std::size_t>(c.attr_int("qkv_source", 0)) : i);
  out = {v.shape, onnx_ref::strides_of(v.shape), 0};
  if (!part) return true;
  const auto rank = static_cast<int64_t>(v.shape.size());
  int64_t axis = c.attr_int("qkv_axis", 0);
  const std::vector<int64_t> squeeze = c.attr_ints("qkv_squeeze");
  axis += axis < 0 ? rank : 0;
  if (axis < 0 || axis >= rank || v.shape[axis] != 3 || squeeze.size() != 1 ||
      (squeeze[0] < 0 ? squeeze[0] + rank : squeeze[0]) != axis || index[i] > 2)
    return false;
  out.offset = index[i] * out.strides[axis];
  out.dims.erase(out.dims.begin() + axis), out.strides.erase(out.strides.begin() + axis);
  return true;
}

bool view_of(const OpContext& c, std::size_t i, const std::vector<int64_t>& perm, View& out) {
  View base;
  if (!base_view(c, i, base)) return false;
  if (perm.empty()) {
    out = base;
    return true;
  }
  if (perm.size() != base.dims.size()) return false;
  std::vector<bool> seen(perm.size(), false);
  out.offset = base.offset;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(perm.size()) || seen[p]) return false;
    seen[p] = true;
    out.dims.push_back(base.dims[p]);
    out.strides.push_back(base.strides[p]);
  }
  return true;
}

// The shape Reshape(input of `in`, spec) gives, as the Reshape op defines it (0 copies a dimension
// unless allowzero, one -1 is inferred); false when it does not resolve.
bool resolve_reshape(const std::vector<int64_t>& in, const OnnxValue& spec, bool allowzero, std::vector<int64_t>& out) {
  const std::vector<int64_t> want = onnx_ref::as_integers(spec);
  int64_t total = 1, known = 1, infer = -1;
  for (int64_t d : in) total *= d;
  out.assign(want.size(), 0);
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == -1) {
      if (infer >= 0) return false;
      infer = static_cast<int64_t>(i);
      continue;
    }
    if (want[i] < 0) return false;
    out[i] = (want[i] == 0 && !allowzero) ? (i < in.size() ? in[i] : -1) : want[i];
    if (out[i] < 0) return false;
    known *= out[i];
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0) return false;
    out[infer] = total / known;
    known = total;
  }
  return known == total;
}

// One bias as a score row sees it (attention.h's AttentionBias).
bool bias_walk(const OnnxValue& bias, const std::vector<int64_t>& t, std::size_t split, int64_t rows, int64_t nk,
               AttentionBias& w) {
  if (!bias.is_float() || bias.shape.size() > t.size()) return false;
  try {
    if (onnx_ref::broadcast_shapes(t, bias.shape) != t) return false;
  } catch (const std::exception&) {
    return false;
  }
  // Broadcast strides of the bias over t's dimensions.
  const std::size_t rank = t.size();
  std::vector<int64_t> st(rank, 0);
  int64_t step = 1;
  for (std::size_t i = 0; i < bias.shape.size(); ++i) {
    const std::size_t d = rank - 1 - i, bd = bias.shape.size() - 1 - i;
    st[d] = bias.shape[bd] == 1 ? 0 : step;
    step *= bias.shape[bd];
  }
  auto offset = [&](int64_t index, std::size_t from, std::size_t to) {  // index over dims [from, to)
    int64_t off = 0;
    for (std::size_t d = to; d-- > from;) {
      off += (index % t[d]) * st[d];
      index /= t[d];
    }
    return off;
  };
  w.data = bias.floats.data();
  w.row_offset.resize(rows);
  for (int64_t r = 0; r < rows; ++r) w.row_offset[r] = offset(r, 0, split);
  // The innermost column dimension longer than 1 gives the run, when it steps by 0 or 1.
  w.run = 1, w.step = 0;
  for (std::size_t d = rank; d-- > split;) {
    if (t[d] == 1) continue;
    if (st[d] <= 1) w.run = t[d], w.step = st[d];
    break;
  }
  w.run_base.resize(nk / w.run);
  for (int64_t s = 0; s < nk / w.run; ++s) w.run_base[s] = offset(s * w.run, split, rank);
  return true;
}

bool attention(const OpContext& c, std::vector<OnnxValue>& outputs) {
  const std::size_t bias_end = c.inputs.size() - (c.attr_int("out_shape_input", 0) ? 1 : 0);  // shapes: 3, 4, last
  for (std::size_t i = 0; i < bias_end; ++i)
    if (i != 3 && i != 4 && c.has(i) && !c.in(i).is_float()) return false;
  const OnnxValue &q = c.in(0), &k = c.in(1), &v = c.in(2);
  View vq, vk, vv;
  if (!view_of(c, 0, c.attr_ints("q_perm"), vq) || !view_of(c, 1, c.attr_ints("k_perm"), vk) ||
      !view_of(c, 2, c.attr_ints("v_perm"), vv))
    return false;
  const std::size_t rank = vq.dims.size();
  if (rank < 2 || vk.dims.size() != rank || vv.dims.size() != rank) return false;
  const std::vector<int64_t> batch_dims(vq.dims.begin(), vq.dims.end() - 2);
  for (std::size_t d = 0; d + 2 < rank; ++d)
    if (vk.dims[d] != batch_dims[d] || vv.dims[d] != batch_dims[d]) return false;
  const int64_t nq = vq.dims[rank - 2], dk = vq.dims[rank - 1], nk = vk.dims[rank - 1], dv = vv.dims[rank - 1];
  if (vk.dims[rank - 2] != dk || vv.dims[rank - 2] != nk || nk == 0) return false;

  // The scores' shape, the shape the biases are added in (t), and the Softmax's (must be the scores').
  std::vector<int64_t> scores = batch_dims;
  scores.push_back(nq), scores.push_back(nk);
  std::vector<int64_t> t = scores, u;
  if (c.has(3) && !resolve_reshape(scores, c.in(3), c.attr_int("allowzero1", 0) != 0, t)) return false;
  u = t;
  if (c.has(4) && !resolve_reshape(t, c.in(4), c.attr_int("allowzero2", 0) != 0, u)) return false;
  if (u != scores) return false;
  int64_t batch = 1;
  for (int64_t d : batch_dims) batch *= d;
  const int64_t rows = batch * nq;
  std::size_t split = t.size();  // t's trailing dimensions from `split` on hold one score row
  for (int64_t prod = 1; prod != nk;) {
    if (split == 0 || prod > nk) return false;
    prod *= t[--split];
  }
  std::vector<AttentionBias> biases(bias_end > 5 ? bias_end - 5 : 0);
  for (std::size_t i = 0; i < biases.size(); ++i)
    if (!bias_walk(c.in(5 + i), t, split, rows, nk, biases[i])) return false;

  // Each operand's offset per batch index (batch dims walked in its own strides).
  auto batch_offsets = [&](const View& view) {
    std::vector<int64_t> off(batch);
    for (int64_t b = 0; b < batch; ++b) {
      int64_t index = b, o = view.offset;
      for (std::size_t d = rank - 2; d-- > 0;) o += (index % view.dims[d]) * view.strides[d], index /= view.dims[d];
      off[b] = o;
    }
    return off;
  };
  const std::string scale_op = c.attr_string("scale_op", "");
  const float scale = c.attr_float("scale", 1.0f);
  const float alpha = scale_op == "Mul" ? scale : scale_op == "Div" ? 1.0f / scale : 1.0f;
  if (!scale_op.empty() && scale_op != "Mul" && scale_op != "Div") return false;

  // The output [batch dims, nq, dv] (logical), maybe reshaped by the last input (r), stored as
  // out_perm orders r's axes (the last axis stays last, so each output row is dv contiguous
  // floats): axis out_perm[j] of r steps by the stored tensor's stride j.
  std::vector<int64_t> logical = batch_dims, r, stored, perm = c.attr_ints("out_perm");
  logical.push_back(nq), logical.push_back(dv);
  r = logical;
  if (c.attr_int("out_shape_input", 0)) {
    if (!c.has(c.inputs.size() - 1) ||
        !resolve_reshape(logical, c.in(c.inputs.size() - 1), c.attr_int("out_allowzero", 0) != 0, r) || r.empty() ||
        r.back() != dv)
      return false;
  }
  const std::size_t out_rank = r.size();
  if (perm.empty())
    for (std::size_t d = 0; d < out_rank; ++d) perm.push_back(static_cast<int64_t>(d));
  if (perm.size() != out_rank || perm.back() != static_cast<int64_t>(out_rank) - 1) return false;
  std::vector<bool> seen(out_rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(out_rank) || seen[p]) return false;
    seen[p] = true, stored.push_back(r[p]);
  }
  const std::vector<int64_t> stored_strides = onnx_ref::strides_of(stored);
  std::vector<int64_t> r_strides(out_rank);
  for (std::size_t j = 0; j < out_rank; ++j) r_strides[perm[j]] = stored_strides[j];
  // Where each output row (b, i) starts, row index b · nq + i unravelled over r's leading axes.
  std::vector<int64_t> row_at(static_cast<std::size_t>(batch * nq));
  for (int64_t row = 0; row < batch * nq; ++row) {
    int64_t index = row, o = 0;
    for (std::size_t d = out_rank - 1; d-- > 0;) o += (index % r[d]) * r_strides[d], index /= r[d];
    row_at[row] = o;
  }
  // The kernels take a start per batch index and one row stride: when the layout has them, rows
  // are written in place; else (a Reshape that mixes batch and rows oddly) they are written
  // contiguously and then moved.
  const int64_t row_step = nq > 1 && batch > 0 ? row_at[1] - row_at[0] : dv;
  bool regular = true;
  for (int64_t row = 0; row < batch * nq && regular; ++row)
    regular = row_at[row] == row_at[row - row % nq] + (row % nq) * row_step;
  OnnxValue out = onnx_ref::make_output(q.type, stored);
  std::vector<float> scratch(regular ? 0 : static_cast<std::size_t>(batch * nq * dv));
  AttentionArgs a;
  a.batch = batch, a.nq = nq, a.nk = nk, a.dk = dk, a.dv = dv;
  a.q = q.floats.data(), a.k = k.floats.data(), a.v = v.floats.data();
  a.q_off = batch_offsets(vq), a.k_off = batch_offsets(vk), a.v_off = batch_offsets(vv);
  a.q_row = vq.strides[rank - 2], a.q_col = vq.strides[rank - 1];
  a.k_row = vk.strides[rank - 2], a.k_col = vk.strides[rank - 1];
  a.v_row = vv.strides[rank - 2], a.v_col = vv.strides[rank - 1];
  a.alpha = alpha;
  a.biases = std::move(biases);
  if (regular) {
    a.out = out.floats.data(), a.out_row = row_step;
    for (int64_t b = 0; b < batch; ++b) a.out_off.push_back(row_at[b * nq]);
  } else {
    a.out = scratch.data(), a.out_row = dv;
    for (int64_t b = 0; b < batch; ++b) a.out_off.push_back(b * nq * dv);
  }
  attention_f32(a);
  if (!regular)
    for (int64_t row = 0; row < batch * nq; ++row)
      std::copy_n(scratch.data() + row * dv, dv, out.floats.data() + row_at[row]);
  outputs = onnx_ref::outputs_of(std::move(out));
  return true;
}

}  // namespace

void add_fast_attention_ops(FastTable& t) { t["MicrosrAttention"] = attention; }

}  // namespace microsr::onnx_fast
