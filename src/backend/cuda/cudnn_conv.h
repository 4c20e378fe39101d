// The one place cuDNN convolutions are called (src/backend/cuda/cudnn_*.cpp), behind one interface.
//
// A ConvEngine runs y = conv(x, w) for 'same' convolutions (stride 1, padding k/2, odd k) on
// views whose element type is the computation's (f32 NCHW, or f16 NHWC with channel counts that
// are multiples of 8), caching per shape whatever it chose (algorithm, execution plan,
// descriptors) — including "cuDNN cannot do this", so a refused layout costs one search only.
// The caller (cuda_conv.cpp) turns tensors into such views, converts or pads what does not fit,
// and applies the epilogue with a custom kernel unless the engine fused it.
//
// Variants (numbered in the order they were written; the table below is what tests, benchmarks
// and `--conv` iterate over). The default is per precision (CudaOptions::conv in
// include/microsr/backend.h: graph_fused for fp16, graph for fp32, the fastest on an H200;
// timings in docs/cuda_backend.md).
//   v1 legacy_find       legacy API (cudnnConvolutionForward); algorithm chosen by measurement,
//                        cudnnFindConvolutionForwardAlgorithmEx on the real buffers with a bounded
//                        workspace; epilogue by kernels/cuda/epilogue.cu.
//   v2 legacy_heuristic  as v1, algorithm from cudnnGetConvolutionForwardAlgorithm_v7's ranking
//                        (no trial runs; first that executes within the workspace bound).
//   v3 graph             graph (backend) API, conv alone; engine configs from heuristics mode A
//                        plus fallback, the fastest of the first few finalized plans by timing.
//   v4 graph_fused       graph API with conv + bias + LeakyReLU + residual add in one engine
//                        (runtime fusion), the residual scale folded into the weights; falls
//                        back to v3's conv + the epilogue kernel where no engine takes the graph.
#pragma once
#include <cudnn.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "cuda/view.h"

namespace microsr {

class CudaAllocator;

// What the engines share with the backend that owns them.
struct ConvContext {
  cudnnHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  CudaAllocator* allocator = nullptr;
  std::size_t workspace_limit = 0;
  bool fp16 = false;  // f16 NHWC data with f32 accumulation (else f32 NCHW, no TF32)
};

// One forward convolution: x [n][cin][h][w], w, y [n][cout][h][w]; x and y of the computation's
// element type; w f32 [cout][cin][k][k] (fp32) or f16 [cout][k][k][cin] (fp16).
struct ConvTensors {
  cuda::View x, y;
  const void* w = nullptr;
  int k = 3;
};

// The epilogue an engine may fuse: y = LeakyReLU(conv + bias) + residual (the caller folds the
// scale into w and bias). bias has cout elements of the computation's element type.
struct FusedEpilogue {
  const void* bias = nullptr;
  bool lrelu = false;
  float slope = 0.2f;
  cuda::View residual;  // data == nullptr: none
};

class ConvEngine {
 public:
  virtual ~ConvEngine() = default;
  virtual std::string name() const = 0;
  virtual bool can_fuse() const { return false; }
  // y = conv(x, w), or with epi (only when can_fuse()) the fused epilogue too. Returns false —
  // having written nothing — when cuDNN has no algorithm/engine for these views (e.g. the
  // strides of a channel slice); throws Error on real failures. y must not overlap x.
  // New shapes search, time and cache; doing that while the stream is captured into a CUDA
  // graph throws Error instead (the warm-up pass must have made every choice).
  virtual bool forward(const ConvTensors& t, const FusedEpilogue* epi) = 0;
  // Why the last forward() returned false (the cuDNN statuses seen), for error messages.
  const std::string& last_refusal() const { return last_refusal_; }

 protected:
  std::string last_refusal_;
};

struct ConvVariant {
  const char* name;
  const char* description;
  std::unique_ptr<ConvEngine> (*make)(const ConvContext& context);
};
// v1 … v4 above, in order.
const std::vector<ConvVariant>& conv_variant_table();
const ConvVariant& conv_variant(const std::string& name);  // throws Error listing the names

std::unique_ptr<ConvEngine> make_legacy_conv_engine(const ConvContext& context, bool measure);
std::unique_ptr<ConvEngine> make_graph_conv_engine(const ConvContext& context, bool fused);

// The gradients of the fp32 convolution through the legacy API (training runs in fp32):
//   dx (+)= conv_transpose(dy, w)        dx [n][cin][h][w], dy [n][cout][h][w], w f32 [cout][cin][k][k]
//   dw  += Σ_n x ⋆ dy                     dw f32 [cout][cin][k][k] (dense), x [n][cin][h][w]
// Views may be channel slices; where cuDNN refuses their strides, packed copies are used.
class ConvBackward {
 public:
  explicit ConvBackward(const ConvContext& context);
  ~ConvBackward();
  void data(const cuda::View& dx, const cuda::View& dy, const float* w, int k, bool accumulate);
  void weight(float* dw, const cuda::View& x, const cuda::View& dy, int k);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace microsr
