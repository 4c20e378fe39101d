// Backend: the operations RRDBNet needs, separated from the device that runs them.
//
// The network (src/nn/rrdbnet.cpp) is written once against this interface. The cpu backend is
// always built (reference and fallback); the cuda backend is built when nvcc and cuDNN are found.
// All tensors passed to one backend live on its device. Activations are NCHW float32.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "microsr/tensor.h"

namespace microsr {

// A convolution's weights turned once into whatever form the backend computes fastest with
// (the CPU packs them into register-blocked panels or Winograd tiles). A network prepares each
// layer when it is built and again whenever the weights change (after an optimizer step).
class PreparedConv {
 public:
  virtual ~PreparedConv() = default;
};

// out = scale * act(conv(x) + bias) + residual   (act = LeakyReLU(slope) when lrelu is set)
struct ConvOptions {
  bool lrelu = false;
  float lrelu_slope = 0.2f;
  float scale = 1.0f;
  const Tensor* residual = nullptr;        // same shape as the output, or null
  const PreparedConv* prepared = nullptr;  // from prepare_conv(w, b) of this backend, or null
};

// One Adam step, exactly as torch.optim.Adam (weight_decay adds wd·p to the gradient) or AdamW
// (decoupled: p −= lr·wd·p first), with t the 1-based step number:
//   g = grad (+ wd·p for Adam);  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p −= lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + eps)
// The hyperparameters are doubles, as torch keeps them (Python floats): 1 − 0.999 must be 0.001,
// not the 0.00099998713 a float β would give.
struct AdamStep {
  double lr = 1e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;
  bool decoupled = false;  // AdamW
  int64_t t = 1;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;

  // A new tensor on this backend's device (uninitialised).
  virtual Tensor empty(const Shape& shape, DType dtype = DType::f32) = 0;
  // Copies between host and device (for the cpu backend: a plain copy).
  virtual Tensor to_device(const Tensor& host) = 0;
  virtual Tensor to_host(const Tensor& t) = 0;

  // Prepares w [Cout][Cin][k][k] and b [Cout] (or undefined) for repeated conv2d calls. The
  // result reflects the values at this moment: prepare again after changing them.
  virtual std::unique_ptr<PreparedConv> prepare_conv(const Tensor& w, const Tensor& b) = 0;
  // y[N][Cout][H][W] = conv_same(x[N][Cin][H][W], w[Cout][Cin][k][k], b[Cout]) with the options.
  // With opt.prepared set, w and b still give the shapes, the prepared form gives the values.
  virtual void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& opt) = 0;
  // y = a * s + b (same shapes; y may alias a or b).
  virtual void scaled_add(Tensor& y, const Tensor& a, float s, const Tensor& b) = 0;
  // y[N][C][2H][2W] = nearest ×2 of x[N][C][H][W].
  virtual void upsample_nearest2x(Tensor& y, const Tensor& x) = 0;
  // y[N][C·r²][H/r][W/r] = pixel_unshuffle(x[N][C][H][W], r).
  virtual void pixel_unshuffle(Tensor& y, const Tensor& x, int r) = 0;
  // Copy x into channels [c0, c0 + x.C) of y (same N, H, W): the dense block's concatenation.
  virtual void copy_channels(Tensor& y, int64_t c0, const Tensor& x) = 0;
  // A whole Residual Dense Block for inference, where a backend fuses it (the CPU in bf16 and fp16):
  //   xj = LeakyReLU(convj([x, x1, ..., x(j-1)]), slope) for j = 1..4,
  //   out = x + residual_scale · conv5([x, x1, x2, x3, x4])
  // With skip (same shape as x), the RRDB's residual around its last block is added too:
  //   out = skip + residual_scale · (x + residual_scale · conv5(...))
  // convs: the five layers' prepare_conv results. Returns the undefined Tensor where the backend
  // has no fused form (the default): the caller then runs the five convolutions itself.
  virtual Tensor fused_dense_block(const Tensor& /*x*/, const PreparedConv* const /*convs*/[5], float /*slope*/,
                                   float /*residual_scale*/, const Tensor* /*skip*/ = nullptr) {
    return {};
  }
  // conv(upsample_nearest2x(x)) for inference, where a backend fuses the two (the CPU in bf16: the
  // conv's bf16 input copy is filled from x, the 4x larger fp32 tensor is never made), with
  // opt.prepared from prepare_conv and no residual: y [N][Cout][2H][2W]. With `then` (prepared,
  // no residual; opt's scale 1), a second conv on that output: y = then(conv(upsample(x))), the
  // intermediate kept in the backend's own form (the CPU: bf16, or fp16 storage, which also returns
  // y as an f16 tensor that its conv2d reads: RRDBNet's conv_last). Returns the undefined Tensor
  // where the backend has no fused form (the default): the caller then runs the ops itself.
  virtual Tensor fused_upsample2x_conv(const Tensor& /*x*/, const ConvOptions& /*opt*/,
                                       const ConvOptions* /*then*/ = nullptr) {
    return {};
  }

  // ---- training: the gradients of the ops above, and the optimizer's flat loops ----------------
  // A backend that cannot train leaves these as they are: each throws an Error naming the op.
  // dx, dy, x may be channel slices (batch stride ≠ C·H·W), like the forward's dense buffer.
  //
  // Gradient of y = conv_same(x, w) w.r.t. x: dx[N][Cin][H][W] (+)= conv_same(dy, w^T flipped),
  // dy [N][Cout][H][W], w [Cout][Cin][k][k]. accumulate: add into dx instead of overwriting it.
  virtual void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, bool accumulate);
  // Gradients of the conv's weight and bias, always ADDED to dw [Cout][Cin][k][k] and
  // db [Cout] (db may be undefined): dw += Σ_n,y,x dy ⊗ x_shifted, db += Σ_n,y,x dy.
  virtual void conv2d_backward_weight(Tensor& dw, Tensor& db, const Tensor& x, const Tensor& dy);
  // Gradient through y = LeakyReLU(z, slope), given the OUTPUT y (same sign as z for slope > 0):
  // dz = dy · (y > 0 ? 1 : slope). dz may alias dy.
  virtual void leaky_relu_backward(Tensor& dz, const Tensor& dy, const Tensor& y, float slope);
  // Gradient of nearest ×2: dx[N][C][H][W] = Σ of each 2×2 block of dy[N][C][2H][2W].
  virtual void upsample_nearest2x_backward(Tensor& dx, const Tensor& dy);
  // The inverse of pixel_unshuffle (and its gradient): y[N][C][H·r][W·r] ← x[N][C·r²][H][W].
  virtual void pixel_shuffle(Tensor& y, const Tensor& x, int r);
  // Mean absolute error over all elements; when dpred is given, also its gradient
  // dpred = sign(pred − target) / numel (0 where equal, as torch's L1Loss). Returns the loss.
  virtual double l1_loss(Tensor* dpred, const Tensor& pred, const Tensor& target);
  // Σ t² over all elements (for gradient-norm clipping and logs), accumulated in double.
  virtual double sum_squares(const Tensor& t);
  // t = value, every element.
  virtual void fill(Tensor& t, float value);
  // t *= s, every element.
  virtual void scale(Tensor& t, float s);
  // One Adam(W) step over flat, same-sized buffers (see AdamStep for the formula).
  virtual void adam_step(Tensor& param, Tensor& m, Tensor& v, const Tensor& grad, const AdamStep& step);
  // ema = decay · ema + (1 − decay) · param (same sizes).
  virtual void ema_update(Tensor& ema, const Tensor& param, double decay);

  // ---- memory for tiles (cf. ggml's get_memory) -----------------------------------------------
  // The bytes one forward pass over a batch of tiles may take on this backend now: what the tile
  // planner (auto_tile_size in microsr/tiler.h) sizes tiles by, whatever the device. The default
  // (and the CPU backend) gives half of the host's available memory, leaving room for the image and
  // the rest of the system; the CUDA backend gives 80% of what its allocator can still obtain
  // (free device memory + its cached blocks) less one cuDNN workspace.
  virtual int64_t memory_for_tiles() const;
  // Bytes per activation value in this backend's forward pass, which a tile's memory scales with:
  // 4 for float32 (the CPU, CUDA fp32), 2 for CUDA fp16.
  virtual int bytes_per_activation() const { return 4; }

  // ---- replaying a whole forward pass (CUDA graphs) -------------------------------------------
  // forward(x) must issue the same operations for every input of x's shape and depend on nothing
  // but x and what `owner` stands for (RRDBNet::forward_inference passes the network). A backend
  // may record it once per (owner, shape) and replay the recording: the CUDA backend runs the
  // first call at a shape normally (every algorithm choice is made there), captures the second
  // into a CUDA graph and replays that from then on. The default just calls forward(x).
  // The result is a tensor of its own (a later call does not overwrite it).
  using Forward = std::function<Tensor(const Tensor&)>;
  virtual Tensor run_replayable(const void* owner, const Tensor& x, const Forward& forward) { return forward(x); }
  // Drops the recordings of `owner` (its weights changed, or it is going away).
  virtual void forget_recordings(const void* /*owner*/) {}
};

// fp32 everywhere; fp16 on CUDA (tensor cores) and on the CPU (fp16 storage, AVX2: CpuOptions);
// bf16 on the CPU (AMX or AVX512_BF16, kernels/cpu/conv/bf16.h).
enum class Precision { fp32, fp16, bf16 };
const char* precision_name(Precision p);
// "fp32", "fp16" or "bf16"; anything else throws Error naming the choices.
Precision parse_precision(const std::string& name);

// The CPU backend's options, per instance: two CPU backends with different options can live side
// by side (nothing process-wide is set; OpenMP's default team size is left as it is).
struct CpuOptions {
  // Threads for this backend's parallel regions (kernels/cpu/threads.h); 0: OpenMP's default
  // (every core, unless OMP_NUM_THREADS says otherwise).
  int threads = 0;
  // Convolution variant, by name from the CPU table (kernels/cpu/conv/variants.h:
  // "conv_v1_direct" ... "conv_v4_winograd43_3x32"), run on the raw weights at every call (for
  // tests and benchmarks); empty = weights packed once per layer in the fastest format (production).
  // An unknown name makes make_cpu_backend throw an Error naming the known ones.
  std::string conv;
  // fp32, or bf16: every convolution with 16 or more channels in and out rounds its input and
  // weights to bf16 and accumulates in fp32 on AMX tiles, or with AVX512_BF16's vdpbf16ps on CPUs
  // without AMX (kernels/cpu/conv/bf16.h); the
  // image-facing ones (RRDBNet's conv_first and conv_last: 3 channels) stay fp32, and so do the
  // residual trunk, the residual adds and the interface. Inside a dense block the activations
  // x1..x4 exist only in bf16 (Backend::fused_dense_block). bf16 needs a CPU with AMX or AVX512_BF16 (make_cpu_backend
  // throws an Error naming the missing feature otherwise) and no `conv` variant.
  // fp16 on the CPU is fp16 *storage* (kernels/cpu/conv/fp16.h): fp32 arithmetic on conv_v3's AVX2
  // Winograd kernels, with each dense block's x and x1..x4 kept in fp16 (half the memory traffic of
  // the body's convolutions), and conv_up2's and conv_hr's outputs too (the 4x larger activations
  // before conv_last); the rest stays fp32. Needs AVX2 with F16C
  // and no `conv` variant; to_host throws an Error when the output holds NaN or infinity (an fp16 overflow).
  Precision precision = Precision::fp32;
};
std::unique_ptr<Backend> make_cpu_backend(const CpuOptions& options = {});
// Why the CPU backend cannot compute in `precision` on this machine now (fp16 storage: no AVX2 with
// F16C; bf16: neither AMX nor AVX512_BF16; or MICROSR_CPU_ISA lowered below them), as a clause
// naming the missing feature; empty when it can.
std::string cpu_precision_unavailable(Precision precision);
// A sentence for the user when `precision` runs on this CPU but another would serve better (fp16
// storage runs the AVX2 kernels: on an AVX-512 CPU fp32 is faster); empty otherwise.
std::string cpu_precision_advice(Precision precision);

// ---- the CUDA backend (docs/cuda_backend.md) ------------------------------------------------
// Declared in every build; without the CUDA backend compiled in, make_cuda_backend and
// cuda_device_info throw an Error saying so, and the memory statistics are zero.

struct CudaOptions {
  // fp32: NCHW float, no TF32 (bit-for-bit the arithmetic of the CPU reference, up to summation
  // order). fp16: activations NHWC half on tensor cores with fp32 accumulation; the interface
  // stays NCHW float32 (to_device/to_host convert), and to_host throws if the output holds
  // NaN/Inf (fp16 overflow) instead of returning a black image.
  Precision precision = Precision::fp32;  // bf16 is CPU only: make_cuda_backend throws
  // Convolution variant, by name from cuda_conv_variants(): "legacy_find", "legacy_heuristic",
  // "graph", "graph_fused"; empty = the fastest measured for the precision (H200, 2026-12-04,
  // 1600×1200 RealESRGAN_x4plus, docs/cuda_backend.md): graph_fused in fp16 (0.33 s; legacy_find
  // 1.00 s), graph in fp32 (2.19 s; legacy_find 2.42 s; cuDNN 9.19 has no fused fp32 engine
  // without TF32, so graph_fused would only try and fall back to graph at every shape).
  std::string conv;
  std::size_t workspace_limit = std::size_t(256) << 20;  // cuDNN workspace of one convolution
  // Synchronise after every operation so that an asynchronous CUDA error names the operation
  // that caused it (slow; also turned on by the environment variable MICROSR_CUDA_SYNC=1).
  bool sync_each_op = false;
  // Record each network's forward pass per input shape as a CUDA graph and replay it (see
  // Backend::run_replayable). Also turned off by the environment variable MICROSR_CUDA_GRAPHS=0.
  bool graphs = true;
  // At most this many bytes of device memory reserved by this backend (its caching allocator; what
  // cuDNN and the CUDA runtime keep for themselves comes on top). 0: no limit, or the environment
  // variable MICROSR_CUDA_MEMORY_LIMIT ("6G", "1536M"). Past it, allocations fail as on a full
  // device: the tiler halves its tiles, --tile/--batch auto plan within it.
  std::size_t memory_limit = 0;
};
std::unique_ptr<Backend> make_cuda_backend(int device_index = 0, const CudaOptions& options = {});
// The convolution variants make_cuda_backend accepts (empty without the CUDA backend).
std::vector<std::string> cuda_conv_variants();
// True when this build has the CUDA backend and a CUDA device is present. Otherwise `why_not`
// gets the reason, as a clause to follow "no CUDA device: " (the runtime's own words, or that
// this build has no CUDA backend).
bool cuda_available(std::string* why_not = nullptr);

struct CudaDeviceInfo {
  std::string name;
  int compute_major = 0, compute_minor = 0;
  int64_t free_bytes = 0, total_bytes = 0;  // device memory now
};
CudaDeviceInfo cuda_device_info(int device_index = 0);

// What a CUDA backend's caching allocator holds (zeros for any other backend): bytes in tensors
// now and at the peak, bytes reserved from the device (in use + cached for reuse), and what a
// new allocation could use (free device memory + this allocator's cached blocks).
struct DeviceMemoryStats {
  int64_t in_use = 0, peak_in_use = 0, reserved = 0, peak_reserved = 0, available = 0;
};
DeviceMemoryStats device_memory_stats(const Backend& backend);
// How a CUDA backend's convolutions have run so far (zeros on the CPU): so that a variant that
// keeps falling back shows in `microsr bench`'s JSON, not only with MICROSR_CUDA_VERBOSE=1.
struct ConvPathCounts {
  int64_t fused = 0;          // the chosen variant with the epilogue fused (graph_fused)
  int64_t unfused = 0;        // conv, then the epilogue kernel where needed
  int64_t packed_input = 0;   // … of those, with the input copied into a packed buffer
  int64_t packed_output = 0;  // … with cuDNN writing a packed buffer, copied out by the epilogue
  int64_t fallback = 0;       // … run by the legacy engine after the chosen variant refused
};
ConvPathCounts device_conv_paths(const Backend& backend);
// Restarts the peaks at the current values (e.g. after loading the weights).
void reset_device_memory_peaks(Backend& backend);
// What a CUDA backend took from the driver, oldest first (the last 256 allocations): "<bytes> B for
// <what>", e.g. "12288 B for a replayed forward's output f32[1, 3, 24, 36]". Empty on the CPU.
std::vector<std::string> device_driver_allocations(const Backend& backend);
// From now on, at most `bytes` reserved from the device (0: no limit), as CudaOptions::memory_limit.
// Does nothing on the CPU.
void set_device_memory_limit(Backend& backend, int64_t bytes);
// Waits until a CUDA backend has finished the work queued so far (nothing to wait for elsewhere);
// for timing. Errors of that work surface here.
void synchronize_device(Backend& backend);
// Opens (begin = true) or closes the span a profiler started with `ncu --profile-from-start off`
// looks at (cudaProfilerStart/Stop), so that it skips loading and warm-up. Does nothing without
// a profiler attached, or on the CPU.
void device_profiler_range(Backend& backend, bool begin);

}  // namespace microsr
