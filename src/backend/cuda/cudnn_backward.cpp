// The convolution's gradients for training (fp32, legacy API): cudnnConvolutionBackwardData and
// cudnnConvolutionBackwardFilter, with descriptors and an ordered list of candidate algorithms
// cached per shape (cudnnGet…Algorithm_v7's ranking, FMA math only: no TF32, no FFT). Where cuDNN
// refuses the strides of a channel slice, the slice is copied to a packed buffer (and the
// result copied or added back). The order of the tries (backward_order.h): deterministic
// algorithms on the views, then on packed copies, and only then nondeterministic ones, so that a
// resumed training run repeats the same bits wherever cuDNN has a deterministic way.
#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include "backward_order.h"
#include "cuda/elementwise.h"
#include "cuda_allocator.h"
#include "cuda_tensor.h"
#include "cudnn_conv.h"
#include "cudnn_descriptors.h"

namespace microsr {
namespace {

template <class Algo>
struct Candidate {
  Algo algo;
  std::size_t workspace_bytes;
  bool deterministic;
};

// "3 (nondeterministic)", "1": an algorithm as the verbose lines name it.
template <class Algo>
std::string algo_str(Algo algo, bool deterministic) {
  return std::to_string(int(algo)) + (deterministic ? "" : " (nondeterministic)");
}

template <class Algo>
struct Plan {
  cudnn::TensorDescriptor a, b;  // data: dy, dx; filter: x, dy
  cudnn::FilterDescriptor w;
  cudnn::ConvolutionDescriptor conv;
  std::vector<Candidate<Algo>> candidates;  // best first
  std::string refusal;                      // what cuDNN said, when nothing is left
  bool ran = false;                         // MICROSR_CUDA_VERBOSE named the algorithm run
  bool passed_over = false;                 // … or said that none of the wanted kind is left
  bool reported = false;                    // … or said that none is left
};

cuda::View packed_like(const cuda::View& v, void* data) { return cuda::nchw_view(data, false, v.n, v.c, v.h, v.w); }

// A view and its alignment, for plan keys: an algorithm refused for one alignment may run at
// another, so refusals are remembered per alignment.
std::string key_part(const cuda::View& v) { return view_str(v) + " a" + std::to_string(view_alignment(v)); }

// The forward pass's numerical promise holds for the gradients too: FFT algorithms (error
// growing with the image size) are not used.
bool fft(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING;
}
bool fft(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING;
}

}  // namespace

struct ConvBackward::Impl {
  ConvContext ctx;
  std::string last_refusal;  // why the last try_* returned false
  std::map<std::string, std::unique_ptr<Plan<cudnnConvolutionBwdDataAlgo_t>>> data_plans;
  std::map<std::string, std::unique_ptr<Plan<cudnnConvolutionBwdFilterAlgo_t>>> filter_plans;

  void check(cudaError_t status, const std::string& what) { MICROSR_CUDA_CHECK(status, what); }

  // dx = conv_transpose(dy, w) + beta·dx. False when cuDNN has no algorithm (deterministic_only:
  // no deterministic one) for these strides.
  bool try_data(const cuda::View& dx, const cuda::View& dy, const float* w, int k, float beta,
                bool deterministic_only) {
    const std::string key =
        "conv2d_backward_data dy " + key_part(dy) + " -> dx " + key_part(dx) + " k" + std::to_string(k);
    auto it = data_plans.find(key);
    if (it == data_plans.end()) {
      auto p = std::make_unique<Plan<cudnnConvolutionBwdDataAlgo_t>>();
      cudnn::set_tensor(p->a, dy, key);
      cudnn::set_tensor(p->b, dx, key);
      cudnn::set_filter(p->w, false, dy.c, dx.c, k, key);
      cudnn::set_same_conv(p->conv, k, false, key);
      int max_algos = 0, returned = 0;
      MICROSR_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(ctx.handle, &max_algos), key);
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(std::max(1, max_algos));
      const cudnnStatus_t status = cudnnGetConvolutionBackwardDataAlgorithm_v7(
          ctx.handle, p->w.d, p->a.d, p->conv.d, p->b.d, int(perf.size()), &returned, perf.data());
      rank_candidates(*p, status, perf.data(), returned, key,
                      [&](cudnnConvolutionBwdDataAlgo_t algo, std::size_t* bytes) {
                        return cudnnGetConvolutionBackwardDataWorkspaceSize(ctx.handle, p->w.d, p->a.d, p->conv.d,
                                                                            p->b.d, algo, bytes);
                      });
      it = data_plans.emplace(key, std::move(p)).first;
    }
    auto& p = *it->second;
    const float alpha = 1.f;
    return run_candidates(p, key, deterministic_only,
                          [&](cudnnConvolutionBwdDataAlgo_t algo, void* workspace, std::size_t bytes) {
                            return cudnnConvolutionBackwardData(ctx.handle, &alpha, p.w.d, w, p.a.d, dy.data, p.conv.d,
                                                                algo, workspace, bytes, &beta, p.b.d, dx.data);
                          });
  }

  // dw += Σ x ⋆ dy. False when cuDNN has no algorithm (deterministic_only: no deterministic
  // one) for these strides.
  bool try_filter(float* dw, const cuda::View& x, const cuda::View& dy, int k, bool deterministic_only) {
    const std::string key =
        "conv2d_backward_weight x " + key_part(x) + " dy " + key_part(dy) + " k" + std::to_string(k);
    auto it = filter_plans.find(key);
    if (it == filter_plans.end()) {
      auto p = std::make_unique<Plan<cudnnConvolutionBwdFilterAlgo_t>>();
      cudnn::set_tensor(p->a, x, key);
      cudnn::set_tensor(p->b, dy, key);
      cudnn::set_filter(p->w, false, dy.c, x.c, k, key);
      cudnn::set_same_conv(p->conv, k, false, key);
      int max_algos = 0, returned = 0;
      MICROSR_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(ctx.handle, &max_algos), key);
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(std::max(1, max_algos));
      const cudnnStatus_t status = cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          ctx.handle, p->a.d, p->b.d, p->conv.d, p->w.d, int(perf.size()), &returned, perf.data());
      rank_candidates(*p, status, perf.data(), returned, key,
                      [&](cudnnConvolutionBwdFilterAlgo_t algo, std::size_t* bytes) {
                        return cudnnGetConvolutionBackwardFilterWorkspaceSize(ctx.handle, p->a.d, p->b.d, p->conv.d,
                                                                              p->w.d, algo, bytes);
                      });
      it = filter_plans.emplace(key, std::move(p)).first;
    }
    auto& p = *it->second;
    const float alpha = 1.f, beta = 1.f;  // accumulate into dw
    return run_candidates(p, key, deterministic_only,
                          [&](cudnnConvolutionBwdFilterAlgo_t algo, void* workspace, std::size_t bytes) {
                            return cudnnConvolutionBackwardFilter(ctx.handle, &alpha, p.a.d, x.data, p.b.d, dy.data,
                                                                  p.conv.d, algo, workspace, bytes, &beta, p.w.d, dw);
                          });
  }

  // A plan's candidates from a heuristics ranking: deterministic algorithms first (a resumed
  // training run then repeats the same bits), the others after them; FMA math only (no TF32),
  // no FFT, workspace within the limit.
  template <class Algo, class Perf, class WorkspaceSize>
  void rank_candidates(Plan<Algo>& p, cudnnStatus_t status, const Perf* perf, int returned, const std::string& key,
                       WorkspaceSize workspace_size) {
    if (!cuda_detail::cudnn_refused(status)) MICROSR_CUDNN_CHECK(status, key);
    p.refusal = "the algorithm heuristics returned " + cudnn::status_str(status) + ", " + std::to_string(returned) +
                " ranked, none usable";
    if (status != CUDNN_STATUS_SUCCESS) return;
    for (int pass = 0; pass < 2; ++pass)
      for (int i = 0; i < returned; ++i) {
        std::size_t bytes = 0;
        if ((perf[i].determinism == CUDNN_DETERMINISTIC) != (pass == 0) || perf[i].status != CUDNN_STATUS_SUCCESS ||
            !cudnn::math_allowed(perf[i].mathType, false) || fft(perf[i].algo) ||
            workspace_size(perf[i].algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > ctx.workspace_limit)
          continue;
        p.candidates.push_back({perf[i].algo, bytes, pass == 0});
      }
    if (cudnn::verbose()) report_ranking(p, perf, returned, key);
  }

  // MICROSR_CUDA_VERBOSE=1: the heuristics' ranking and our order, once per shape, e.g.
  //   microsr: conv2d_backward_weight x … k3: ranked 0 (nondeterministic), 1, 3 (nondeterministic);
  //   our order 1, 0 (nondeterministic)
  // and, at the plan's first run, "running 1 (0.0 MiB workspace)", so that a profile can tell
  // whether putting deterministic algorithms first costs time, and a run whose bits do not repeat
  // can see where a nondeterministic algorithm ran.
  template <class Algo, class Perf>
  static void report_ranking(const Plan<Algo>& p, const Perf* perf, int returned, const std::string& key) {
    std::string ranked, ours;
    for (int i = 0; i < returned; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS)
        ranked += (ranked.empty() ? "" : ", ") + algo_str(perf[i].algo, perf[i].determinism == CUDNN_DETERMINISTIC);
    for (const Candidate<Algo>& c : p.candidates)
      ours += (ours.empty() ? "" : ", ") + algo_str(c.algo, c.deterministic);
    std::fprintf(stderr, "microsr: %s: ranked %s; %s\n", key.c_str(), ranked.c_str(),
                 ours.empty() ? "none usable" : ("our order " + ours).c_str());
  }

  // Runs the plan's best candidate that cuDNN accepts (deterministic_only: its best deterministic
  // one); one refused at run time is dropped for good.
  template <class Algo, class Run>
  bool run_candidates(Plan<Algo>& p, const std::string& key, bool deterministic_only, Run run) {
    const bool accepted =
        cudnn_order::run_first_accepted(p.candidates, deterministic_only, [&](const Candidate<Algo>& c) {
          DeviceScratch workspace(ctx.allocator, c.workspace_bytes, "the cuDNN workspace of " + key);
          const cudnnStatus_t status = run(c.algo, workspace.ptr, c.workspace_bytes);
          if (status == CUDNN_STATUS_SUCCESS) {
            if (cudnn::verbose() && !p.ran)
              std::fprintf(stderr, "microsr: %s: running %s (%.1f MiB workspace)\n", key.c_str(),
                           algo_str(c.algo, c.deterministic).c_str(), double(c.workspace_bytes) / (1 << 20));
            p.ran = true;
            return true;
          }
          if (!cuda_detail::cudnn_refused(status)) MICROSR_CUDNN_CHECK(status, key);
          p.refusal +=
              "; algorithm " + std::to_string(int(c.algo)) + " refused at run time: " + cudnn::status_str(status);
          if (cudnn::verbose())
            std::fprintf(stderr, "microsr: %s: algorithm %s refused at run time (%s)\n", key.c_str(),
                         algo_str(c.algo, c.deterministic).c_str(), cudnn::status_str(status).c_str());
          return false;
        });
    if (accepted) return true;
    const bool nondeterministic_left = !p.candidates.empty();
    last_refusal = p.refusal + (nondeterministic_left ? "; only nondeterministic algorithms are left" : "");
    if (cudnn::verbose() && nondeterministic_left && !p.passed_over)
      std::fprintf(stderr, "microsr: %s: no deterministic algorithm runs on these operands; trying the next way\n",
                   key.c_str());
    if (cudnn::verbose() && !nondeterministic_left && !p.reported)
      std::fprintf(stderr, "microsr: %s: %s\n", key.c_str(), p.refusal.c_str());
    (nondeterministic_left ? p.passed_over : p.reported) = true;
    return false;
  }
};

ConvBackward::ConvBackward(const ConvContext& context) : impl_(std::make_unique<Impl>()) { impl_->ctx = context; }
ConvBackward::~ConvBackward() = default;

// Both gradients try the ways of backward_order.h in turn; a packed-copies attempt copies the
// channel slices to packed scratch buffers, runs there, and copies or adds the result back.
void ConvBackward::data(const cuda::View& dx, const cuda::View& dy, const float* w, int k, bool accumulate) {
  require(!dx.half && !dy.half, "conv2d_backward_data runs in fp32; got " + view_str(dx) + " and " + view_str(dy));
  require(cudnn::fits_int(dx) && cudnn::fits_int(dy), "conv2d_backward_data: dx " + view_str(dx) + " or dy " +
                                                          view_str(dy) + " is too large for cuDNN's int sizes");
  Impl& m = *impl_;
  const float beta = accumulate ? 1.f : 0.f;
  const auto on_packed_copies = [&] {
    return "conv2d_backward_data on packed copies of " + view_str(dy) + " -> " + view_str(dx);
  };
  const bool ran = cudnn_order::run_in_order([&](const cudnn_order::Attempt& attempt) {
    if (attempt.operands == cudnn_order::Operands::views)
      return m.try_data(dx, dy, w, k, beta, attempt.deterministic_only);
    const std::string what = on_packed_copies();
    DeviceScratch dy_buf(m.ctx.allocator, std::size_t(dy.count()) * 4, what);
    DeviceScratch dx_buf(m.ctx.allocator, std::size_t(dx.count()) * 4, what);
    const cuda::View dyp = packed_like(dy, dy_buf.ptr), dxp = packed_like(dx, dx_buf.ptr);
    m.check(cuda::copy_view(dyp, dy, 1.f, m.ctx.stream), what);
    if (!m.try_data(dxp, dyp, w, k, 0.f, attempt.deterministic_only)) return false;
    if (accumulate)
      m.check(cuda::scaled_add_view(dx, dxp, 1.f, dx, m.ctx.stream), what);
    else
      m.check(cuda::copy_view(dx, dxp, 1.f, m.ctx.stream), what);
    return true;
  });
  if (!ran) throw Error("cuDNN has no algorithm for " + on_packed_copies() + ": " + m.last_refusal);
}

void ConvBackward::weight(float* dw, const cuda::View& x, const cuda::View& dy, int k) {
  require(!x.half && !dy.half, "conv2d_backward_weight runs in fp32; got " + view_str(x) + " and " + view_str(dy));
  require(cudnn::fits_int(x) && cudnn::fits_int(dy), "conv2d_backward_weight: x " + view_str(x) + " or dy " +
                                                         view_str(dy) + " is too large for cuDNN's int sizes");
  Impl& m = *impl_;
  const auto on_packed_copies = [&] {
    return "conv2d_backward_weight on packed copies of " + view_str(x) + " and " + view_str(dy);
  };
  const bool ran = cudnn_order::run_in_order([&](const cudnn_order::Attempt& attempt) {
    if (attempt.operands == cudnn_order::Operands::views) return m.try_filter(dw, x, dy, k, attempt.deterministic_only);
    const std::string what = on_packed_copies();
    DeviceScratch x_buf(m.ctx.allocator, std::size_t(x.count()) * 4, what);
    DeviceScratch dy_buf(m.ctx.allocator, std::size_t(dy.count()) * 4, what);
    const cuda::View xp = packed_like(x, x_buf.ptr), dyp = packed_like(dy, dy_buf.ptr);
    m.check(cuda::copy_view(xp, x, 1.f, m.ctx.stream), what);
    m.check(cuda::copy_view(dyp, dy, 1.f, m.ctx.stream), what);
    return m.try_filter(dw, xp, dyp, k, attempt.deterministic_only);
  });
  if (!ran) throw Error("cuDNN has no algorithm for " + on_packed_copies() + ": " + m.last_refusal);
}

}  // namespace microsr
