// The CUDA backend: every Backend op on one device and ONE stream, memory from a caching
// allocator, convolutions through cuDNN (cudnn_conv.h), everything else through the custom
// kernels of kernels/cuda. Design notes: docs/cuda_backend.md.
//
// Precision fp32: activations are NCHW float, as on the CPU. Precision fp16: empty() hands out
// NHWC half tensors for activations with ≥ 8 channels (what tensor cores want); images (fewer
// channels) stay NCHW float, so the network's input and output — and the RRDBNet code — do not
// change. Every op accepts any mix of the two (the kernels read through strided views).
//
// run_replayable records a network's forward pass per input shape as a CUDA graph and replays it
// (cuda_graphs.cpp).
#pragma once
#include <cuda_runtime.h>
#include <cudnn.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cuda_allocator.h"
#include "cuda_check.h"
#include "cuda_tensor.h"
#include "cudnn_conv.h"
#include "microsr/backend.h"

namespace microsr {

// prepare_conv's result: the weights in the layout and type the convolution reads.
struct CudaPreparedConv final : PreparedConv {
  int cin = 0, cout = 0, k = 0;
  int cin_padded = 0, cout_padded = 0;  // fp16: channel counts rounded up to multiples of 8
  bool has_bias = false;
  Tensor weight;     // fp32: f32 [cout][cin][k][k]; fp16: f16 [cout_p][k][k][cin_p], zero-padded
  Tensor bias;       // f32 [cout_p], zeros where there is no bias (the epilogue kernel reads this)
  Tensor bias_data;  // the bias in the computation's type (f16 for fp16): what fused graphs read
  // graph_fused folds the epilogue's scale s into the weights: s·w and s·b, made on first use.
  struct Scaled {
    Tensor weight, bias;
  };
  mutable std::map<float, Scaled> scaled;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device_index, const CudaOptions& options);
  ~CudaBackend() override;

  Device device() const override { return Device::cuda(device_); }
  std::string name() const override;
  Tensor empty(const Shape& shape, DType dtype) override;
  Tensor to_device(const Tensor& host) override;
  Tensor to_host(const Tensor& t) override;

  std::unique_ptr<PreparedConv> prepare_conv(const Tensor& w, const Tensor& b) override;
  void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& opt) override;
  void scaled_add(Tensor& y, const Tensor& a, float s, const Tensor& b) override;
  void upsample_nearest2x(Tensor& y, const Tensor& x) override;
  void pixel_unshuffle(Tensor& y, const Tensor& x, int r) override;
  void copy_channels(Tensor& y, int64_t c0, const Tensor& x) override;

  void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, bool accumulate) override;
  void conv2d_backward_weight(Tensor& dw, Tensor& db, const Tensor& x, const Tensor& dy) override;
  void leaky_relu_backward(Tensor& dz, const Tensor& dy, const Tensor& y, float slope) override;
  void upsample_nearest2x_backward(Tensor& dx, const Tensor& dy) override;
  void pixel_shuffle(Tensor& y, const Tensor& x, int r) override;
  double l1_loss(Tensor* dpred, const Tensor& pred, const Tensor& target) override;
  double sum_squares(const Tensor& t) override;
  void fill(Tensor& t, float value) override;
  void scale(Tensor& t, float s) override;
  void adam_step(Tensor& param, Tensor& m, Tensor& v, const Tensor& grad, const AdamStep& step) override;
  void ema_update(Tensor& ema, const Tensor& param, double decay) override;

  Tensor run_replayable(const void* owner, const Tensor& x, const Forward& forward) override;
  void forget_recordings(const void* owner) override;
  int64_t memory_for_tiles() const override;
  int bytes_per_activation() const override;

  const CudaOptions& options() const { return options_; }
  CudaAllocator& allocator() { return *allocator_; }
  const CudaAllocator& allocator() const { return *allocator_; }
  cudaStream_t stream() const { return stream_; }
  // How the convolutions so far were run (tests check that a variant does what it says).
  const ConvPathCounts& conv_paths() const { return conv_paths_; }  // microsr/backend.h
  void synchronize(const std::string& what);

 private:
  // Makes this backend's device current (cheap when it already is).
  void activate() const;
  // After enqueueing work: throws with context() on a launch error; with sync_each_op, also
  // waits and throws on an asynchronous error, so that it is pinned to this op.
  template <class Context>
  void launched(cudaError_t status, const Context& context) {
    if (status != cudaSuccess) cuda_detail::throw_cuda_error(status, "a kernel launch", context());
    if (sync_each_op_ && !capturing_) {  // a capture records; there is nothing to wait for
      status = cudaStreamSynchronize(stream_);
      if (status != cudaSuccess) cuda_detail::throw_cuda_error(status, "cudaStreamSynchronize", context());
    }
  }
  // A view of a rank-4 tensor, or of a dense tensor of any other rank as [1][1][1][numel].
  cuda::View any_view(const Tensor& t, const char* what) const;
  // The reduction helpers: Σ over a view into a double on the host.
  double reduce(const char* what, const std::function<cudaError_t(double*, double*)>& launch);
  // Fused-graph weights: s·w and s·b of a prepared conv (made once per scale).
  const CudaPreparedConv::Scaled& scaled_weights(const CudaPreparedConv& p, float s);
  // The convolution proper on views (cuda_conv.cpp): layout decisions, fallbacks, epilogue.
  void run_conv(const cuda::View& y, const cuda::View& x, const cuda::View& residual, const CudaPreparedConv& p,
                const ConvOptions& opt);

  // CUDA graphs (cuda_graphs.cpp): one slot per (owner, input shape).
  struct Recording;
  struct RecordingSlot {
    RecordingSlot();
    ~RecordingSlot();
    int calls = 0;
    std::unique_ptr<Recording> recording;
  };
  std::unique_ptr<Recording> record(const Tensor& x, const Forward& forward);
  void replay(Recording& r, Tensor& y, const Tensor& x);
  // The allocator's pressure handler: drops every recording, and makes no new ones.
  bool drop_recordings_for_memory();

  int device_;
  CudaOptions options_;
  bool graphs_ = true;      // options.graphs, and no capture has failed
  bool capturing_ = false;  // between cudaStreamBeginCapture and EndCapture
  bool sync_each_op_ = false;
  std::string device_name_;
  std::shared_ptr<CudaAllocator> allocator_;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  ConvContext conv_context_;
  std::unique_ptr<ConvEngine> conv_;      // the chosen variant
  std::unique_ptr<ConvEngine> fallback_;  // legacy_heuristic, for shapes the chosen variant refuses
  std::unique_ptr<ConvBackward> backward_;
  std::map<std::pair<const void*, Shape>, RecordingSlot> recordings_;
  ConvPathCounts conv_paths_;
};

}  // namespace microsr
