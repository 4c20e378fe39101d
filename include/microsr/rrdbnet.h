// RRDBNet — the generator of ESRGAN / Real-ESRGAN (basicsr.archs.rrdbnet_arch.RRDBNet).
//
//   x ─(pixel_unshuffle for scale 2/1)─► conv_first ─► feat
//   feat ─► 23 × RRDB ─► conv_body ─(+ feat)─► nearest×2 → conv_up1 → lrelu
//        ─► nearest×2 → conv_up2 → lrelu ─► conv_hr → lrelu ─► conv_last ─► out (×4 size)
//   RRDB(x)  = x + 0.2 · RDB3(RDB2(RDB1(x)))
//   RDB(x)   = x + 0.2 · conv5([x, x1, x2, x3, x4]),  xi = lrelu(convi([x, x1 … x(i-1)]))
//
// Parameters are named by the PyTorch state_dict keys and live in one contiguous arena in the
// order listed by RRDBNetConfig::parameter_table(). docs/rrdbnet.md walks through it.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "microsr/backend.h"
#include "microsr/tensor.h"
#include "microsr/weights.h"

namespace microsr {

// The two constants of the architecture, fixed by ESRGAN (not in any weight file): every
// activation is LeakyReLU with this negative slope, and dense blocks and RRDBs add their
// residual branch scaled by this factor. Forward and backward both read them from here.
inline constexpr float kRRDBLeakySlope = 0.2f;
inline constexpr float kRRDBResidualScale = 0.2f;

struct RRDBNetConfig {
  int num_in_ch = 3;
  int num_out_ch = 3;
  int scale = 4;  // 4, 2 or 1 (2 and 1 pixel_unshuffle the input by 2 and 4)
  int num_feat = 64;
  int num_block = 23;
  int num_grow_ch = 32;

  struct Param {
    std::string name;  // PyTorch key, e.g. "body.3.rdb2.conv4.weight"
    Shape shape;
  };
  std::vector<Param> parameter_table() const;
  int64_t parameter_count() const;
  // Input channels seen by conv_first (num_in_ch × 4 for scale 2, × 16 for scale 1).
  int first_conv_in_ch() const;
  // Multiply-accumulates of one forward pass on an h×w input (for GFLOP/s figures: ×2).
  double macs(int h, int w) const;
  std::string describe() const;
};

// Reads the architecture off basicsr-named weights: channel counts, num_feat, num_block,
// num_grow_ch and the scale (from conv_first's input channels). Throws on inconsistent shapes.
RRDBNetConfig infer_rrdbnet_config(const StateDict& basicsr_named);

// What a training forward pass keeps for the backward pass: the input of every convolution and
// the output of every LeakyReLU (its sign is all the LeakyReLU's gradient needs). The dense
// block's buffer holds both at once: its first num_feat channels are the block's input, the next
// four groups of num_grow_ch are x1..x4 (each conv's input is a prefix of it).
struct RRDBNetTape {
  Tensor input;               // what conv_first saw (after pixel_unshuffle for scale 2 / 1)
  std::vector<Tensor> dense;  // one per dense block, in forward order: [N][nf + 4·g][h][w]
  Tensor body_out;            // the last RRDB's output = conv_body's input
  Tensor up1_in, up1_out;     // nearest ×2 of (conv_body + feat), and lrelu(conv_up1(·))
  Tensor up2_in, up2_out;     // nearest ×2 of up1_out, and lrelu(conv_up2(·))
  Tensor hr_out;              // lrelu(conv_hr(up2_out)) = conv_last's input
};

class RRDBNet {
 public:
  // Copies the weights (basicsr names) onto the backend's device; validates every shape.
  RRDBNet(const RRDBNetConfig& config, const StateDict& weights, Backend& backend);
  ~RRDBNet();  // drops the backend's recordings of this network
  RRDBNet(RRDBNet&&) = default;
  const RRDBNetConfig& config() const { return config_; }

  // y[N][out_ch][H·scale][W·scale] from x[N][in_ch][H][W] in [0,1]; both on the backend's device.
  // For scale 2 / 1, H and W must be divisible by 2 / 4.
  // With a tape, also keeps what backward() needs (about 3× the activations of a plain pass).
  Tensor forward(const Tensor& x, RRDBNetTape* tape = nullptr);
  // The same pass for inference, through Backend::run_replayable: the CUDA backend records it
  // once per input shape as a CUDA graph and replays it (no per-layer launch cost). Results equal
  // forward(x)'s. With an activation recorder set, this is plain forward(x).
  Tensor forward_inference(const Tensor& x);

  // The backward pass of the forward that filled `tape`: given dy = ∂loss/∂y, ADDS ∂loss/∂θ for
  // every parameter θ into `grads`, a flat buffer laid out like parameters() (zero it first).
  // Walks the network in exactly the reverse order of forward(); docs/rrdbnet.md explains it.
  void backward(const Tensor& dy, const RRDBNetTape& tape, Tensor& grads);

  // Every parameter in one flat buffer on the backend's device, in parameter_table() order.
  // An optimizer may change it in place; call weights_updated() afterwards.
  Tensor& parameters() { return arena_; }
  // The parameters as a basicsr-named state dict, copied to the host (for saving).
  StateDict state_dict() const;

  // Optional: record named intermediate activations during forward (copied to the host), for
  // parity tests and teaching. Names: "conv_first", "body.N", "conv_body", "conv_up1",
  // "conv_up2", "conv_hr".
  void set_activation_recorder(StateDict* recorder) { recorder_ = recorder; }

  const Tensor& param(const std::string& name) const;
  // Re-prepares every convolution from the current parameter values (call after changing them);
  // drops the backend's recordings of this network.
  void weights_updated();

 private:
  // conv `name` (weight and bias by their state_dict keys) of x into a new tensor, or into `out`.
  Tensor conv(const std::string& name, const Tensor& x, ConvOptions opt = {});
  void conv_into(Tensor& out, const std::string& name, const Tensor& x, ConvOptions opt);

  Tensor rrdb(const Tensor& x, int block);
  // skip: the RRDB's own residual around its last dense block, out = skip + 0.2 · rdb(x); only
  // where the backend fuses the block (the undefined Tensor otherwise, then rrdb adds it itself).
  Tensor rdb(const Tensor& x, const std::string& prefix, const Tensor* skip = nullptr);
  void record(const std::string& name, const Tensor& t);

  // Backward helpers (src/nn/rrdbnet_backward.cpp).
  Tensor grad_view(Tensor& grads, const std::string& name) const;
  // Adds layer `name`'s weight and bias gradients for y = conv(x), given dy.
  void conv_weight_grads(const std::string& name, const Tensor& x, const Tensor& dy, Tensor& grads);
  // The same, and returns ∂L/∂x (or adds it into *dx_accumulate and returns that).
  Tensor conv_backward(const std::string& name, const Tensor& x, const Tensor& dy, Tensor& grads,
                       Tensor* dx_accumulate = nullptr);
  // ∂L/∂x of one dense block, given ∂L/∂out; adds its five convs' gradients.
  Tensor rdb_backward(const Tensor& dy, const Tensor& dense, const std::string& prefix, Tensor& grads);
  Tensor scaled_copy(const Tensor& t, float s);  // a new tensor holding s · t

  RRDBNetConfig config_;
  Backend& backend_;
  Tensor arena_;                                        // every parameter, one buffer, in parameter_table() order
  std::vector<std::pair<std::string, Tensor>> params_;  // views into arena_
  std::map<std::string, std::unique_ptr<PreparedConv>> prepared_;  // by layer name ("conv_first")
  StateDict* recorder_ = nullptr;
  RRDBNetTape* tape_ = nullptr;   // set during a training forward
  std::vector<int64_t> offsets_;  // element offset of each params_ entry in the arena
};

}  // namespace microsr
