// RRDBNet backward: the forward pass of rrdbnet.cpp read from the bottom up.
//
// Each forward line y = f(x) becomes, in reverse order, "given ∂L/∂y, add ∂L/∂θ to the gradient
// of f's parameters and pass ∂L/∂x on". Four rules cover the whole network:
//   conv        y = W ⋆ x + b       → ∂W += dy ⋆ x,  ∂b += Σ dy,  dx = Wᵀ ⋆ dy (flipped kernel)
//   LeakyReLU   y = lrelu(z)        → dz = dy · (y > 0 ? 1 : 0.2)
//   scaled add  y = x + 0.2 · r     → dx = dy,  dr = 0.2 · dy
//   nearest ×2  y = up(x)           → dx = Σ of each 2×2 block of dy
// and a value used twice (a skip connection, a dense block's input) gets the SUM of the
// gradients flowing back along both uses.
#include "microsr/rrdbnet.h"

namespace microsr {

namespace {
constexpr float kLeakySlope = kRRDBLeakySlope;
constexpr float kResidualScale = kRRDBResidualScale;
}  // namespace

Tensor RRDBNet::grad_view(Tensor& grads, const std::string& name) const {
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (params_[i].first == name)
      return Tensor::borrow(grads.data<float>() + offsets_[i], params_[i].second.shape(), DType::f32, grads.device());
  throw Error("RRDBNet has no parameter " + name);
}

void RRDBNet::conv_weight_grads(const std::string& name, const Tensor& x, const Tensor& dy, Tensor& grads) {
  Tensor dw = grad_view(grads, name + ".weight"), db = grad_view(grads, name + ".bias");
  backend_.conv2d_backward_weight(dw, db, x, dy);
}

Tensor RRDBNet::conv_backward(const std::string& name, const Tensor& x, const Tensor& dy, Tensor& grads,
                              Tensor* dx_accumulate) {
  conv_weight_grads(name, x, dy, grads);
  const Tensor& w = param(name + ".weight");
  if (dx_accumulate) {
    backend_.conv2d_backward_data(*dx_accumulate, dy, w, /*accumulate=*/true);
    return *dx_accumulate;
  }
  Tensor dx = backend_.empty(x.shape());
  backend_.conv2d_backward_data(dx, dy, w, /*accumulate=*/false);
  return dx;
}

Tensor RRDBNet::scaled_copy(const Tensor& t, float s) {
  Tensor out = backend_.empty(t.shape());
  backend_.copy_channels(out, 0, t);
  backend_.scale(out, s);
  return out;
}

// Dense block, forward:  xj = lrelu(convj(dense[:nf + (j-1)·g])) for j = 1..4 (written into
// dense), out = x + 0.2 · conv5(dense).  Backward, given dy = ∂L/∂out:
//   d_dense  = conv5ᵀ(0.2 · dy)                         (all nf + 4g channels)
//   for j = 4..1: the slice of d_dense that holds ∂L/∂xj is complete once every later conv has
//   added its share, so: dz = lrelu'(xj) · d_dense[xj]; ∂convj += dz ⋆ dense[:…];
//   d_dense[:nf + (j-1)·g] += convjᵀ(dz)
// and x, used by the skip and as the first nf channels of dense: dx = dy + d_dense[:nf].
Tensor RRDBNet::rdb_backward(const Tensor& dy, const Tensor& dense, const std::string& prefix, Tensor& grads) {
  const int64_t nf = config_.num_feat, g = config_.num_grow_ch;
  Tensor d_dense = conv_backward(prefix + ".conv5", dense, scaled_copy(dy, kResidualScale), grads);
  for (int j = 4; j >= 1; --j) {
    const int64_t in_ch = nf + (j - 1) * g;
    Tensor dz = d_dense.channel_slice(in_ch, g);
    backend_.leaky_relu_backward(dz, dz, dense.channel_slice(in_ch, g), kLeakySlope);
    Tensor d_in = d_dense.channel_slice(0, in_ch);
    conv_backward(prefix + ".conv" + std::to_string(j), dense.channel_slice(0, in_ch), dz, grads, &d_in);
  }
  Tensor dx = backend_.empty(dy.shape());
  backend_.scaled_add(dx, d_dense.channel_slice(0, nf), 1.f, dy);
  return dx;
}

void RRDBNet::backward(const Tensor& dy, const RRDBNetTape& tape, Tensor& grads) {
  require(tape.input.defined() && tape.hr_out.defined(),
          "RRDBNet backward: the tape is empty; run forward(x, &tape) first");
  require(dy.shape() == Shape({tape.hr_out.dim(0), config_.num_out_ch, tape.hr_out.dim(2), tape.hr_out.dim(3)}),
          "RRDBNet backward: dy " + dy.describe() + " does not match the forward's output");
  require(grads.numel() == arena_.numel() && grads.device() == arena_.device(),
          "RRDBNet backward: grads " + grads.describe() + " must be laid out like parameters() " + arena_.describe());

  // Reconstruction, reversed: out = conv_last(hr_out), hr_out = lrelu(conv_hr(up2_out)).
  Tensor d = conv_backward("conv_last", tape.hr_out, dy, grads);
  backend_.leaky_relu_backward(d, d, tape.hr_out, kLeakySlope);
  d = conv_backward("conv_hr", tape.up2_out, d, grads);

  // Upsampling, reversed: upN_out = lrelu(conv_upN(upN_in)), upN_in = nearest×2(previous).
  for (int stage = 2; stage >= 1; --stage) {
    const Tensor& out = stage == 2 ? tape.up2_out : tape.up1_out;
    const Tensor& in = stage == 2 ? tape.up2_in : tape.up1_in;
    backend_.leaky_relu_backward(d, d, out, kLeakySlope);
    Tensor d_up = conv_backward("conv_up" + std::to_string(stage), in, d, grads);
    d = backend_.empty({d_up.dim(0), d_up.dim(1), d_up.dim(2) / 2, d_up.dim(3) / 2});
    backend_.upsample_nearest2x_backward(d, d_up);
  }

  // Trunk, reversed: trunk = conv_body(body_out) + feat. `d` = ∂L/∂trunk flows to feat through
  // the skip (d_feat) and into the RRDB chain through conv_body (d_body).
  Tensor d_feat = d;
  Tensor d_body = conv_backward("conv_body", tape.body_out, d, grads);

  // RRDB blocks, last to first: out = x + 0.2 · rdb3(rdb2(rdb1(x))), so the dense blocks get
  // 0.2 · dy and x gets dy (skip) plus what comes back out of rdb1.
  for (int b = config_.num_block - 1; b >= 0; --b) {
    Tensor d_r = scaled_copy(d_body, kResidualScale);
    for (int r = 3; r >= 1; --r)
      d_r = rdb_backward(d_r, tape.dense[size_t(3 * b + r - 1)],
                         "body." + std::to_string(b) + ".rdb" + std::to_string(r), grads);
    backend_.scaled_add(d_body, d_body, 1.f, d_r);
  }

  // feat fed both the trunk and the long skip; conv_first's input needs no gradient.
  backend_.scaled_add(d_feat, d_feat, 1.f, d_body);
  conv_weight_grads("conv_first", tape.input, d_feat, grads);
}

}  // namespace microsr
