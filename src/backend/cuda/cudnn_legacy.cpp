// Variants v1 legacy_find and v2 legacy_heuristic (see cudnn_conv.h): cudnnConvolutionForward,
// deprecated in cuDNN 9 but present in every 9.x, with descriptors and the algorithm cached per
// shape. Per shape the plan keeps an ordered list of candidate algorithms; one that cuDNN refuses
// when it runs is dropped and the next is tried, and a shape with no candidate left is
// remembered as unsupported (the caller then packs the channel slice and asks again).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include "cuda_allocator.h"
#include "cuda_tensor.h"
#include "cudnn_conv.h"
#include "cudnn_descriptors.h"

namespace microsr {
namespace {

struct Candidate {
  cudnnConvolutionFwdAlgo_t algo;
  std::size_t workspace;
};

struct ForwardPlan {
  cudnn::TensorDescriptor x, y;
  cudnn::FilterDescriptor w;
  cudnn::ConvolutionDescriptor conv;
  std::vector<Candidate> candidates;  // best first; empty: cuDNN cannot run this shape
  std::string refusal;                // what cuDNN said about the candidates it did not give
};

std::string plan_key(const ConvTensors& t) {
  return view_str(t.x) + " a" + std::to_string(view_alignment(t.x)) + " -> " + view_str(t.y) + " a" +
         std::to_string(view_alignment(t.y)) + " k" + std::to_string(t.k);
}

bool algo_allowed(const cudnnConvolutionFwdAlgoPerf_t& p, bool half, std::size_t limit) {
  if (p.status != CUDNN_STATUS_SUCCESS || p.memory > limit || !cudnn::math_allowed(p.mathType, half)) return false;
  // fp32 is promised to match the CPU to 1e-4 over 350 layers and fp16 to stay ≥ 50 dB from
  // fp32: keep the FFT algorithms (error growing with the image size) out of both, and
  // Winograd out of fp16 (its transforms amplify half-precision rounding).
  if (p.algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT || p.algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING) return false;
  if (half && (p.algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD || p.algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED))
    return false;
  return true;
}

class LegacyEngine final : public ConvEngine {
 public:
  LegacyEngine(const ConvContext& context, bool measure) : ctx_(context), measure_(measure) {}
  std::string name() const override { return measure_ ? "legacy_find" : "legacy_heuristic"; }

  bool forward(const ConvTensors& t, const FusedEpilogue*) override {
    if (!cudnn::fits_int(t.x) || !cudnn::fits_int(t.y)) {
      // The legacy API's int strides: one image at a time, or refuse outright.
      require(t.x.n > 1, "conv2d: one image of " + view_str(t.x) +
                             " is too large for cuDNN's 32-bit descriptors; use a smaller --tile");
      for (int i = 0; i < t.x.n; ++i) {
        ConvTensors one = t;
        one.x.n = one.y.n = 1;
        one.x.data = static_cast<char*>(t.x.data) + i * t.x.sn * (t.x.half ? 2 : 4);
        one.y.data = static_cast<char*>(t.y.data) + i * t.y.sn * (t.y.half ? 2 : 4);
        if (!forward(one, nullptr)) return false;
      }
      return true;
    }
    const std::string key = plan_key(t);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      require(!cudnn::capturing(ctx_.stream), "conv2d " + key + " (" + name() +
                                                  "): no algorithm chosen yet for this shape, and the stream is being "
                                                  "captured into a CUDA graph (the warm-up pass did not run it)");
      it = plans_.emplace(key, make_plan(t, key)).first;
    }
    ForwardPlan& p = *it->second;
    const float alpha = 1.f, beta = 0.f;  // float for float and half data alike
    while (!p.candidates.empty()) {
      const Candidate c = p.candidates.front();
      DeviceScratch workspace(ctx_.allocator, c.workspace, "the cuDNN workspace of conv2d " + key);
      const cudnnStatus_t status = cudnnConvolutionForward(ctx_.handle, &alpha, p.x.d, t.x.data, p.w.d, t.w, p.conv.d,
                                                           c.algo, workspace.ptr, c.workspace, &beta, p.y.d, t.y.data);
      if (status == CUDNN_STATUS_SUCCESS) return true;
      const std::string what = "conv2d " + key + " (" + name() + ", algorithm " + std::to_string(int(c.algo)) + ")";
      // During capture a refusal may be the capture's doing: fail the capture, remember nothing.
      if (!cuda_detail::cudnn_refused(status) || cudnn::capturing(ctx_.stream)) MICROSR_CUDNN_CHECK(status, what);
      p.refusal += "; algorithm " + std::to_string(int(c.algo)) + " refused at run time: " + cudnn::status_str(status);
      if (cudnn::verbose())
        std::fprintf(stderr, "microsr: %s refused: %s\n", what.c_str(), cudnn::status_str(status).c_str());
      p.candidates.erase(p.candidates.begin());  // refused at run time: never offer it again
    }
    last_refusal_ = name() + ": " + p.refusal;
    return false;
  }

 private:
  std::unique_ptr<ForwardPlan> make_plan(const ConvTensors& t, const std::string& key) {
    auto p = std::make_unique<ForwardPlan>();
    const std::string what = "conv2d " + key;
    cudnn::set_tensor(p->x, t.x, what);
    cudnn::set_tensor(p->y, t.y, what);
    cudnn::set_filter(p->w, t.x.half, t.y.c, t.x.c, t.k, what);
    cudnn::set_same_conv(p->conv, t.k, t.x.half, what);

    int max_algos = 0;
    MICROSR_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(ctx_.handle, &max_algos), what);
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(1, max_algos));
    int returned = 0;
    std::size_t limit = ctx_.workspace_limit;
    cudnnStatus_t status;
    if (measure_) {
      // Trial runs write y: the engine's contract says y does not overlap x, so that is harmless.
      std::unique_ptr<DeviceScratch> workspace;
      while (!workspace) {
        try {
          workspace = std::make_unique<DeviceScratch>(ctx_.allocator, limit, "the algorithm search of " + what);
        } catch (const OutOfMemory&) {  // not even the bounded workspace fits: search with less
          if (limit == 0) throw;
          limit = limit > (16u << 20) ? limit / 4 : 0;
        }
      }
      status = cudnnFindConvolutionForwardAlgorithmEx(ctx_.handle, p->x.d, t.x.data, p->w.d, t.w, p->conv.d, p->y.d,
                                                      t.y.data, int(perf.size()), &returned, perf.data(),
                                                      workspace->ptr, limit);
    } else {
      status = cudnnGetConvolutionForwardAlgorithm_v7(ctx_.handle, p->x.d, p->w.d, p->conv.d, p->y.d, int(perf.size()),
                                                      &returned, perf.data());
    }
    if (cuda_detail::cudnn_refused(status)) {  // no candidates: unsupported
      p->refusal =
          std::string(measure_ ? "cudnnFindConvolutionForwardAlgorithmEx" : "cudnnGetConvolutionForwardAlgorithm_v7") +
          " returned " + cudnn::status_str(status);
      if (cudnn::verbose()) std::fprintf(stderr, "microsr: %s: %s\n", what.c_str(), p->refusal.c_str());
      return p;
    }
    MICROSR_CUDNN_CHECK(status, what + (measure_ ? " (algorithm search)" : " (algorithm heuristics)"));
    int not_allowed = 0;
    for (int i = 0; i < returned; ++i) {
      if (!algo_allowed(perf[i], t.x.half, limit)) {
        ++not_allowed;
        continue;
      }
      // The call runs with the descriptor's math type: its workspace is what counts, and never
      // less than what the search measured with.
      std::size_t bytes = 0;
      if (cudnnGetConvolutionForwardWorkspaceSize(ctx_.handle, p->x.d, p->w.d, p->conv.d, p->y.d, perf[i].algo,
                                                  &bytes) != CUDNN_STATUS_SUCCESS ||
          std::max(bytes, perf[i].memory) > limit) {
        ++not_allowed;
        continue;
      }
      p->candidates.push_back({perf[i].algo, std::max(bytes, perf[i].memory)});
    }
    p->refusal = std::to_string(returned) + " algorithms ranked, " + std::to_string(not_allowed) +
                 " refused (status, FFT/Winograd, TF32 or workspace > " + std::to_string(limit >> 20) + " MiB)";
    if (p->candidates.empty() && cudnn::verbose())
      std::fprintf(stderr, "microsr: %s: %s\n", what.c_str(), p->refusal.c_str());
    return p;
  }

  ConvContext ctx_;
  bool measure_;
  std::map<std::string, std::unique_ptr<ForwardPlan>> plans_;
};

}  // namespace

std::unique_ptr<ConvEngine> make_legacy_conv_engine(const ConvContext& context, bool measure) {
  return std::make_unique<LegacyEngine>(context, measure);
}

}  // namespace microsr
