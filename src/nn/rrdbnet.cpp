// RRDBNet forward, written once against the Backend interface. Read it top to bottom: forward()
// is the whole network, rrdb() one Residual-in-Residual Dense Block, rdb() one dense block.
#include "microsr/rrdbnet.h"

#include <cstring>

namespace microsr {

namespace {
constexpr float kLeakySlope = kRRDBLeakySlope;        // every activation: LeakyReLU(0.2)
constexpr float kResidualScale = kRRDBResidualScale;  // dense blocks and RRDBs: x + 0.2 · branch
}  // namespace

RRDBNet::RRDBNet(const RRDBNetConfig& config, const StateDict& weights, Backend& backend)
    : config_(config), backend_(backend) {
  // One buffer holds every parameter, in parameter_table() order (the state_dict order), so a
  // gradient buffer or an optimizer moment with the same layout is one allocation, one memset.
  const auto table = config_.parameter_table();
  Tensor host = Tensor::empty({config_.parameter_count()});
  int64_t offset = 0;
  for (const auto& p : table) {
    const Tensor* src = weights.find(p.name);
    require(src, "RRDBNet: the weights have no " + p.name + " (expected for " + config_.describe() + ")");
    require(src->shape() == p.shape,
            "RRDBNet: " + p.name + " has shape " + shape_str(src->shape()) + ", expected " + shape_str(p.shape));
    std::memcpy(host.f32() + offset, src->f32(), src->bytes());
    offset += src->numel();
  }
  arena_ = backend_.to_device(host);
  offset = 0;
  for (const auto& p : table) {
    offsets_.push_back(offset);
    params_.emplace_back(p.name, Tensor::borrow(arena_.f32() + offset, p.shape, DType::f32, arena_.device()));
    offset += shape_numel(p.shape);
  }
  weights_updated();
}

RRDBNet::~RRDBNet() { backend_.forget_recordings(this); }

void RRDBNet::weights_updated() {
  backend_.forget_recordings(this);  // they read the prepared weights about to be replaced
  for (const auto& [name, t] : params_)
    if (name.ends_with(".weight")) {
      const std::string layer = name.substr(0, name.size() - 7);
      prepared_[layer] = backend_.prepare_conv(t, param(layer + ".bias"));
    }
}

StateDict RRDBNet::state_dict() const {
  StateDict sd;
  for (const auto& [name, t] : params_) sd.add(name, backend_.to_host(t));
  return sd;
}

const Tensor& RRDBNet::param(const std::string& name) const {
  for (const auto& [key, t] : params_)
    if (key == name) return t;
  throw Error("RRDBNet has no parameter " + name);
}

void RRDBNet::record(const std::string& name, const Tensor& t) {
  if (recorder_) recorder_->add(name, backend_.to_host(t));
}

void RRDBNet::conv_into(Tensor& out, const std::string& name, const Tensor& x, ConvOptions opt) {
  opt.prepared = prepared_.at(name).get();
  backend_.conv2d(out, x, param(name + ".weight"), param(name + ".bias"), opt);
}

Tensor RRDBNet::conv(const std::string& name, const Tensor& x, ConvOptions opt) {
  Tensor y = backend_.empty({x.dim(0), param(name + ".weight").dim(0), x.dim(2), x.dim(3)});
  conv_into(y, name, x, opt);
  return y;
}

static ConvOptions with_lrelu() {
  ConvOptions o;
  o.lrelu = true;
  o.lrelu_slope = kLeakySlope;
  return o;
}

// Residual Dense Block:  x1 = lrelu(conv1(x)),  x2 = lrelu(conv2([x, x1])),  ...,
//                        out = x + 0.2 · conv5([x, x1, x2, x3, x4])
// Instead of concatenating, one buffer `dense` [N][nf + 4·g][H][W] holds x and, after it, each
// xi as it is made: conv j reads the first nf + (j-1)·g channels and writes the next g.
Tensor RRDBNet::rdb(const Tensor& x, const std::string& prefix, const Tensor* skip) {
  if (!tape_) {  // inference: a backend may run the whole block at once (the CPU in bf16 and fp16)
    const PreparedConv* convs[5];
    for (int j = 0; j < 5; ++j) convs[j] = prepared_.at(prefix + ".conv" + std::to_string(j + 1)).get();
    Tensor fused = backend_.fused_dense_block(x, convs, kLeakySlope, kResidualScale, skip);
    if (fused.defined() || skip) return fused;
  }
  if (skip) return {};
  const int64_t nf = config_.num_feat, g = config_.num_grow_ch;
  Tensor dense = backend_.empty({x.dim(0), nf + 4 * g, x.dim(2), x.dim(3)});
  backend_.copy_channels(dense, 0, x);
  if (tape_) tape_->dense.push_back(dense);
  for (int j = 1; j <= 4; ++j) {
    Tensor in = dense.channel_slice(0, nf + (j - 1) * g);
    Tensor out = dense.channel_slice(nf + (j - 1) * g, g);
    conv_into(out, prefix + ".conv" + std::to_string(j), in, with_lrelu());
  }
  ConvOptions residual;
  residual.scale = kResidualScale;
  residual.residual = &x;
  return conv(prefix + ".conv5", dense, residual);
}

// Residual-in-Residual Dense Block: three dense blocks in a row, then a scaled skip around them.
//   out = x + 0.2 · RDB3(RDB2(RDB1(x)))
Tensor RRDBNet::rrdb(const Tensor& x, int block) {
  const std::string prefix = "body." + std::to_string(block);
  Tensor y = rdb(x, prefix + ".rdb1");
  y = rdb(y, prefix + ".rdb2");
  if (Tensor fused = rdb(y, prefix + ".rdb3", &x); fused.defined()) return fused;  // the skip added inside
  y = rdb(y, prefix + ".rdb3");
  backend_.scaled_add(y, y, kResidualScale, x);
  return y;
}

Tensor RRDBNet::forward_inference(const Tensor& x) {
  if (recorder_) return forward(x);  // the recorder copies to the host mid-pass: nothing to replay
  return backend_.run_replayable(this, x, [this](const Tensor& in) { return forward(in); });
}

Tensor RRDBNet::forward(const Tensor& x, RRDBNetTape* tape) {
  // The tape pointer lives only for this call (and is cleared on every exit path).
  struct TapeScope {
    RRDBNetTape*& slot;
    TapeScope(RRDBNetTape*& s, RRDBNetTape* t) : slot(s) {
      slot = t;
      if (t) *t = {};
    }
    ~TapeScope() { slot = nullptr; }
  } tape_scope(tape_, tape);

  require(x.rank() == 4 && x.dim(1) == config_.num_in_ch,
          "RRDBNet forward: input " + x.describe() + " should be [N, " + std::to_string(config_.num_in_ch) + ", H, W]");
  require(x.dim(2) > 0 && x.dim(3) > 0, "RRDBNet forward: empty input " + x.describe());

  // Scale 2 / 1 models: fold 2×2 / 4×4 pixel blocks into channels, so the body runs at ¼ of
  // the output size whatever the scale.
  Tensor in = x;
  if (config_.scale != 4) {
    const int r = config_.scale == 2 ? 2 : 4;
    require(x.dim(2) % r == 0 && x.dim(3) % r == 0, "RRDBNet x" + std::to_string(config_.scale) +
                                                        " needs H and W divisible by " + std::to_string(r) + ", got " +
                                                        x.describe());
    in = backend_.empty({x.dim(0), x.dim(1) * r * r, x.dim(2) / r, x.dim(3) / r});
    backend_.pixel_unshuffle(in, x, r);
  }

  // Shallow features.
  if (tape_) tape_->input = in;
  Tensor feat = conv("conv_first", in);
  record("conv_first", feat);

  // Deep features: the trunk of RRDB blocks, then conv_body, plus a long skip from `feat`.
  Tensor body = feat;
  for (int b = 0; b < config_.num_block; ++b) {
    body = rrdb(body, b);
    record("body." + std::to_string(b), body);
  }
  if (tape_) tape_->body_out = body;
  if (recorder_) record("conv_body", conv("conv_body", body));
  ConvOptions skip;
  skip.residual = &feat;
  feat = conv("conv_body", body, skip);

  // Upsampling: twice (nearest ×2, conv, LeakyReLU).
  bool hr_done = false;
  for (int stage = 1; stage <= 2; ++stage) {
    const std::string name = "conv_up" + std::to_string(stage);
    if (!tape_) {  // inference: a backend may fill the conv's input from feat directly (the CPU in bf16)
      ConvOptions opt = with_lrelu(), hr = with_lrelu();
      opt.prepared = prepared_.at(name).get();
      hr.prepared = prepared_.at("conv_hr").get();
      // After the last stage, conv_hr may read conv_up2's output in the backend's own form
      // (the CPU: bf16, or fp16 storage), unless conv_up2's output is to be recorded.
      bool with_hr = stage == 2 && !recorder_;
      Tensor fused = backend_.fused_upsample2x_conv(feat, opt, with_hr ? &hr : nullptr);
      if (!fused.defined() && with_hr) fused = backend_.fused_upsample2x_conv(feat, opt), with_hr = false;
      if (fused.defined()) {
        feat = fused;
        hr_done = with_hr;
        if (!with_hr) record(name, feat);
        continue;
      }
    }
    Tensor up = backend_.empty({feat.dim(0), feat.dim(1), 2 * feat.dim(2), 2 * feat.dim(3)});
    backend_.upsample_nearest2x(up, feat);
    feat = conv(name, up, with_lrelu());
    record(name, feat);
    if (tape_) {
      (stage == 1 ? tape_->up1_in : tape_->up2_in) = up;
      (stage == 1 ? tape_->up1_out : tape_->up2_out) = feat;
    }
  }

  // Reconstruction: one more conv + LeakyReLU (unless fused above), then the conv down to image channels.
  if (!hr_done) feat = conv("conv_hr", feat, with_lrelu());
  record("conv_hr", feat);
  if (tape_) tape_->hr_out = feat;
  return conv("conv_last", feat);
}

}  // namespace microsr
