// Variants v3 graph and v4 graph_fused (see cudnn_conv.h): the cuDNN graph (backend) API.
//
// Per shape: an operation graph (conv; for v4 also + bias, LeakyReLU and + residual as pointwise
// nodes on float virtual tensors), engine configurations from heuristics mode A then the
// fallback list, filtered by numerical notes (fp32: no tensor cores = no TF32; fp16: no
// Winograd; both: no FFT, no down-converted inputs, no reduced-precision accumulation), up to
// kMaxPlans execution plans
// finalized, and — when several finalize — the fastest by timing on the real buffers. A graph
// no engine takes is remembered as unsupported and the caller falls back (v4 → v3 + epilogue
// kernel → packed copies → legacy). Set MICROSR_CUDA_VERBOSE=1 to hear why a graph was refused.
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <map>
#include <vector>

#include "cuda_allocator.h"
#include "cuda_check.h"
#include "cuda_tensor.h"
#include "cudnn_conv.h"
#include "cudnn_descriptors.h"

namespace microsr {
namespace {

constexpr int kMaxPlans = 3;  // finalized plans timed per shape (runtime-fusion plans compile at finalize)
constexpr int kTimedRuns = 3;

// One backend descriptor, destroyed with its owner.
class Descriptor {
 public:
  Descriptor(cudnnBackendDescriptorType_t type, const char* what) : what_(what) {
    MICROSR_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &d_), std::string("creating the descriptor of ") + what);
  }
  ~Descriptor() { cudnnBackendDestroyDescriptor(d_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  cudnnBackendDescriptor_t get() const { return d_; }

  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count, const void* values) {
    MICROSR_CUDNN_CHECK(cudnnBackendSetAttribute(d_, name, type, count, values),
                        std::string("setting attribute ") + std::to_string(int(name)) + " of " + what_);
  }
  void set(cudnnBackendAttributeName_t name, const Descriptor& other) {
    cudnnBackendDescriptor_t raw = other.get();
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
  }
  void finalize() { MICROSR_CUDNN_CHECK(cudnnBackendFinalize(d_), std::string("finalizing ") + what_); }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
  const char* what_;
};
using DescriptorPtr = std::unique_ptr<Descriptor>;

enum Uid : int64_t { kX = 1, kW = 2, kY = 3, kBias = 4, kResidual = 5, kVirtual = 100 };

DescriptorPtr tensor(int64_t uid, cudnnDataType_t type, const int64_t dims[4], const int64_t strides[4],
                     int64_t alignment, bool is_virtual) {
  auto t = std::make_unique<Descriptor>(CUDNN_BACKEND_TENSOR_DESCRIPTOR, "a graph tensor");
  t->set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
  t->set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
  t->set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
  t->set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  t->set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
  t->set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
  t->finalize();
  return t;
}

// Dims are always given in NCHW order; the strides say the layout (NHWC: channel stride 1).
DescriptorPtr view_tensor(int64_t uid, const cuda::View& v) {
  const int64_t dims[4] = {v.n, v.c, v.h, v.w};
  const int64_t strides[4] = {cudnn::described_batch_stride(v), v.sc, v.sh, v.sw};
  return tensor(uid, v.half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT, dims, strides, view_alignment(v), false);
}

// A float intermediate shaped like y, packed in y's order.
DescriptorPtr virtual_like(int64_t uid, const cuda::View& y) {
  const int64_t dims[4] = {y.n, y.c, y.h, y.w};
  const int64_t c = y.c, h = y.h, w = y.w;
  int64_t strides[4] = {c * h * w, h * w, w, 1};
  if (y.channels_last()) strides[1] = 1, strides[2] = w * c, strides[3] = c;
  return tensor(uid, CUDNN_DATA_FLOAT, dims, strides, 16, true);
}

struct Plan {
  std::vector<DescriptorPtr> keep;   // everything the plan refers to
  std::vector<DescriptorPtr> plans;  // finalized, best first after timing
  std::vector<int64_t> workspace;
  std::string refusal;  // why there is no plan
};

class GraphEngine final : public ConvEngine {
 public:
  GraphEngine(const ConvContext& context, bool fused) : ctx_(context), fused_(fused) {}
  std::string name() const override { return fused_ ? "graph_fused" : "graph"; }
  bool can_fuse() const override { return fused_; }

  bool forward(const ConvTensors& t, const FusedEpilogue* epi) override {
    if (!fused_) epi = nullptr;
    std::string key = view_str(t.x) + " a" + std::to_string(view_alignment(t.x)) + " -> " + view_str(t.y) + " a" +
                      std::to_string(view_alignment(t.y)) + " k" + std::to_string(t.k);
    if (epi)
      key += std::string(" +bias") + (epi->lrelu ? " lrelu" + std::to_string(epi->slope) : "") +
             (epi->residual.data
                  ? " +res " + view_str(epi->residual) + " a" + std::to_string(view_alignment(epi->residual))
                  : "");
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      require(!cudnn::capturing(ctx_.stream), "conv2d " + key + " (" + name() +
                                                  "): no execution plan made yet for this shape, and the stream is "
                                                  "being captured into a CUDA graph (the warm-up pass did not run it)");
      auto p = std::make_unique<Plan>();
      try {
        build(*p, t, epi, key);
      } catch (const OutOfMemory&) {  // the tiler's cue, not a refusal
        throw;
      } catch (const DeviceError&) {  // a CUDA failure is no refusal either (it may be sticky)
        throw;
      } catch (const Error& e) {  // an attribute this cuDNN lacks, a graph it cannot finalize
        p->plans.clear();
        p->workspace.clear();
        p->refusal = e.what();
      }
      // Timing runs the plans, outside the try: a CUDA error there is real, not a refusal.
      if (!p->plans.empty()) rank_by_time(*p, t, epi, key);
      if (p->plans.empty() && cudnn::verbose())
        std::fprintf(stderr, "microsr: cuDNN graph API: no plan for %s: %s\n", key.c_str(), p->refusal.c_str());
      it = plans_.emplace(key, std::move(p)).first;
    }
    Plan& p = *it->second;
    while (!p.plans.empty()) {
      const cudnnStatus_t status = execute(*p.plans.front(), p.workspace.front(), t, epi, key);
      if (status == CUDNN_STATUS_SUCCESS) return true;
      // During capture a refusal may be the capture's doing: fail the capture, remember nothing.
      if (!cuda_detail::cudnn_refused(status) || cudnn::capturing(ctx_.stream))
        MICROSR_CUDNN_CHECK(status, "conv2d " + key + " (" + name() + ", graph execute)");
      p.refusal += "; a plan refused at run time: " + cudnn::status_str(status);
      p.plans.erase(p.plans.begin());
      p.workspace.erase(p.workspace.begin());
    }
    last_refusal_ = name() + ": " + p.refusal;
    return false;
  }

 private:
  cudnnStatus_t execute(const Descriptor& plan, int64_t workspace_bytes, const ConvTensors& t, const FusedEpilogue* epi,
                        const std::string& key) {
    DeviceScratch workspace(ctx_.allocator, std::size_t(workspace_bytes), "the cuDNN workspace of conv2d " + key);
    std::vector<int64_t> uids = {kX, kW, kY};
    std::vector<void*> pointers = {t.x.data, const_cast<void*>(t.w), t.y.data};
    if (epi) {
      uids.push_back(kBias), pointers.push_back(const_cast<void*>(epi->bias));
      if (epi->residual.data) uids.push_back(kResidual), pointers.push_back(epi->residual.data);
    }
    Descriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "a variant pack");
    pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, int64_t(uids.size()), uids.data());
    pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, int64_t(pointers.size()), pointers.data());
    pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace.ptr);
    pack.finalize();
    return cudnnBackendExecute(ctx_.handle, plan.get(), pack.get());
  }

  void add_pointwise(Plan& p, std::vector<cudnnBackendDescriptor_t>& ops, cudnnPointwiseMode_t mode,
                     const Descriptor& in, const Descriptor* b, const Descriptor& out, double slope) {
    auto pw = std::make_unique<Descriptor>(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "a pointwise descriptor");
    const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
    pw->set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    pw->set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision);
    if (mode == CUDNN_POINTWISE_RELU_FWD) {
      // y = x above the lower clip (0), slope·x below it: LeakyReLU. The clips are set explicitly
      // (the upper one to the float maximum, as the math precision is float) rather than trusting
      // the defaults.
      const double lower = 0.0, upper = FLT_MAX;
      pw->set(CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, CUDNN_TYPE_DOUBLE, 1, &lower);
      pw->set(CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, CUDNN_TYPE_DOUBLE, 1, &upper);
      pw->set(CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP_SLOPE, CUDNN_TYPE_DOUBLE, 1, &slope);
    }
    pw->finalize();
    auto op = std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "a pointwise operation");
    op->set(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, *pw);
    op->set(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, in);
    if (b) op->set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
    op->set(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, out);
    op->finalize();
    ops.push_back(op->get());
    p.keep.push_back(std::move(pw));
    p.keep.push_back(std::move(op));
  }

  // True when the engine configuration keeps our numerical promises (see the file comment).
  bool acceptable(const Descriptor& config) {
    Descriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR, "an engine");
    cudnnBackendDescriptor_t raw = engine.get();
    int64_t count = 0;
    if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count,
                                 &raw) != CUDNN_STATUS_SUCCESS)
      return false;
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    if (cudnnBackendGetAttribute(raw, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, notes) != CUDNN_STATUS_SUCCESS)
      return false;
    for (int64_t i = 0; i < count; ++i) {
      switch (notes[i]) {
        case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION:
        case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS:
        case CUDNN_NUMERICAL_NOTE_FFT:
          return false;
        case CUDNN_NUMERICAL_NOTE_TENSOR_CORE:  // fp32 on tensor cores is TF32
          if (!ctx_.fp16) return false;
          break;
        case CUDNN_NUMERICAL_NOTE_WINOGRAD:  // amplifies half-precision rounding
        case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4:
        case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6:
        case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13:
          if (ctx_.fp16) return false;
          break;
        default:
          break;
      }
    }
    return true;
  }

  void build(Plan& p, const ConvTensors& t, const FusedEpilogue* epi, const std::string& key) {
    const cuda::View& x = t.x;
    const cuda::View& y = t.y;
    const int64_t k = t.k, cin = x.c, cout = y.c;
    // Weights: f32 [cout][cin][k][k], or f16 [cout][k][k][cin] (what prepare_conv made).
    const int64_t w_dims[4] = {cout, cin, k, k};
    int64_t w_strides[4] = {cin * k * k, k * k, k, 1};
    if (ctx_.fp16) w_strides[1] = 1, w_strides[2] = k * cin, w_strides[3] = cin;
    const cudnnDataType_t data = ctx_.fp16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;

    auto xt = view_tensor(kX, x);
    auto wt = tensor(kW, data, w_dims, w_strides, 16, false);
    auto yt = view_tensor(kY, y);
    std::vector<cudnnBackendDescriptor_t> ops;

    // The convolution: into y, or into a float virtual tensor the epilogue nodes read.
    auto conv_desc = std::make_unique<Descriptor>(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, "the convolution");
    const cudnnDataType_t accumulate = CUDNN_DATA_FLOAT;
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    const int64_t spatial = 2, pad[2] = {k / 2, k / 2}, one[2] = {1, 1};
    conv_desc->set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &accumulate);
    conv_desc->set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
    conv_desc->set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial);
    conv_desc->set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
    conv_desc->set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
    conv_desc->set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, one);
    conv_desc->set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, one);
    conv_desc->finalize();

    DescriptorPtr acc = epi ? virtual_like(kVirtual, y) : nullptr;
    auto conv = std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, "the conv node");
    const float alpha = 1.f, beta = 0.f;
    conv->set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, *xt);
    conv->set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, *wt);
    conv->set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, epi ? *acc : *yt);
    conv->set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, *conv_desc);
    conv->set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
    conv->set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
    conv->finalize();
    ops.push_back(conv->get());

    if (epi) {
      // acc → + bias → [LeakyReLU] → [+ residual] → y; the last node writes y.
      const int64_t b_dims[4] = {1, cout, 1, 1}, b_strides[4] = {cout, 1, cout, cout};
      auto bias = tensor(kBias, data, b_dims, b_strides, 16, false);
      const bool res = epi->residual.data != nullptr;
      DescriptorPtr biased = epi->lrelu || res ? virtual_like(kVirtual + 1, y) : nullptr;
      add_pointwise(p, ops, CUDNN_POINTWISE_ADD, *acc, bias.get(), biased ? *biased : *yt, 0.0);
      const Descriptor* last = biased.get();
      DescriptorPtr activated;
      if (epi->lrelu) {
        activated = res ? virtual_like(kVirtual + 2, y) : nullptr;
        add_pointwise(p, ops, CUDNN_POINTWISE_RELU_FWD, *biased, nullptr, activated ? *activated : *yt, epi->slope);
        last = activated.get();
      }
      if (res) {
        auto residual = view_tensor(kResidual, epi->residual);
        add_pointwise(p, ops, CUDNN_POINTWISE_ADD, *last, residual.get(), *yt, 0.0);
        p.keep.push_back(std::move(residual));
      }
      p.keep.push_back(std::move(bias));
      if (biased) p.keep.push_back(std::move(biased));
      if (activated) p.keep.push_back(std::move(activated));
      p.keep.push_back(std::move(acc));
    }

    auto graph = std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "the operation graph");
    graph->set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &ctx_.handle);
    graph->set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(ops.size()), ops.data());
    graph->finalize();

    // Engine configurations, heuristics mode A first, then the fallback list.
    std::vector<DescriptorPtr> configs;
    std::string heuristics;  // what each mode said, for the refusal message
    for (cudnnBackendHeurMode_t heur_mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
      const char* mode_name = heur_mode == CUDNN_HEUR_MODE_A ? "mode A" : "fallback";
      Descriptor heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "the engine heuristics");
      heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, *graph);
      heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode);
      const cudnnStatus_t finalized = cudnnBackendFinalize(heur.get());
      if (finalized != CUDNN_STATUS_SUCCESS) {
        heuristics += std::string(mode_name) + ": " + cudnn::status_str(finalized) + "; ";
        continue;
      }
      int64_t count = 0;
      const cudnnStatus_t counted = cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                             CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr);
      heuristics +=
          std::string(mode_name) + ": " +
          (counted == CUDNN_STATUS_SUCCESS ? std::to_string(count) + " configurations" : cudnn::status_str(counted)) +
          "; ";
      if (counted != CUDNN_STATUS_SUCCESS || count <= 0) continue;
      std::vector<DescriptorPtr> found;
      std::vector<cudnnBackendDescriptor_t> raw;
      for (int64_t i = 0; i < count; ++i) {
        found.push_back(std::make_unique<Descriptor>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "an engine configuration"));
        raw.push_back(found.back()->get());
      }
      int64_t got = 0;
      const cudnnStatus_t read = cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                          CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, raw.data());
      if (read != CUDNN_STATUS_SUCCESS) {
        heuristics += std::string("reading them: ") + cudnn::status_str(read) + "; ";
        continue;
      }
      if (got <= 0) heuristics += "handed out none; ";
      for (int64_t i = 0; i < got && i < count; ++i) configs.push_back(std::move(found[i]));
    }

    std::vector<DescriptorPtr> plans;
    std::vector<int64_t> workspaces;
    int refused_notes = 0, refused_finalize = 0, refused_workspace = 0;
    std::string finalize_status;  // the first plan finalisation failure
    for (auto& config : configs) {
      if (int(plans.size()) >= kMaxPlans) break;
      if (!acceptable(*config)) {
        ++refused_notes;
        continue;
      }
      auto plan = std::make_unique<Descriptor>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "an execution plan");
      plan->set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &ctx_.handle);
      plan->set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, *config);
      const cudnnStatus_t finalized = cudnnBackendFinalize(plan->get());
      if (finalized != CUDNN_STATUS_SUCCESS) {
        if (!refused_finalize++) finalize_status = " (first: " + cudnn::status_str(finalized) + ")";
        continue;
      }
      int64_t bytes = 0, n = 0;
      MICROSR_CUDNN_CHECK(cudnnBackendGetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                                   CUDNN_TYPE_INT64, 1, &n, &bytes),
                          "the workspace size of a plan for conv2d " + key);
      if (bytes < 0 || std::size_t(bytes) > ctx_.workspace_limit) {
        ++refused_workspace;
        continue;
      }
      plans.push_back(std::move(plan));
      workspaces.push_back(bytes);
      p.keep.push_back(std::move(config));
    }
    p.refusal = "heuristics " + heuristics + std::to_string(configs.size()) +
                " engine configurations; refused: " + std::to_string(refused_notes) + " by numerical notes, " +
                std::to_string(refused_finalize) + " at finalize" + finalize_status + ", " +
                std::to_string(refused_workspace) + " by the workspace bound";
    p.keep.push_back(std::move(xt));
    p.keep.push_back(std::move(wt));
    p.keep.push_back(std::move(yt));
    p.keep.push_back(std::move(conv_desc));
    p.keep.push_back(std::move(conv));
    p.keep.push_back(std::move(graph));
    p.plans = std::move(plans);
    p.workspace = std::move(workspaces);
  }

  // Orders p's plans fastest first by timing each on the real buffers (y is written; the caller
  // guarantees it overlaps neither x nor the residual). Plans that fail to run are dropped.
  void rank_by_time(Plan& p, const ConvTensors& t, const FusedEpilogue* epi, const std::string& key) {
    std::vector<DescriptorPtr>& plans = p.plans;
    std::vector<int64_t>& workspaces = p.workspace;
    if (plans.size() < 2) return;
    cudaEvent_t start, stop;
    MICROSR_CUDA_CHECK(cudaEventCreate(&start), "timing conv2d " + key);
    MICROSR_CUDA_CHECK(cudaEventCreate(&stop), "timing conv2d " + key);
    std::vector<std::pair<float, std::size_t>> times;  // ms, index
    for (std::size_t i = 0; i < plans.size(); ++i) {
      cudnnStatus_t status = execute(*plans[i], workspaces[i], t, epi, key);  // warm-up
      bool ok = status == CUDNN_STATUS_SUCCESS;
      float best = 1e30f;
      for (int r = 0; ok && r < kTimedRuns; ++r) {
        MICROSR_CUDA_CHECK(cudaEventRecord(start, ctx_.stream), "timing conv2d " + key);
        status = execute(*plans[i], workspaces[i], t, epi, key);
        ok = status == CUDNN_STATUS_SUCCESS;
        MICROSR_CUDA_CHECK(cudaEventRecord(stop, ctx_.stream), "timing conv2d " + key);
        MICROSR_CUDA_CHECK(cudaEventSynchronize(stop), "timing conv2d " + key);
        float ms = 0;
        MICROSR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop), "timing conv2d " + key);
        best = std::min(best, ms);
      }
      if (ok)
        times.emplace_back(best, i);
      else
        p.refusal += "; a plan failed while timed: " + cudnn::status_str(status);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    std::stable_sort(times.begin(), times.end());
    if (cudnn::verbose()) {  // the timed plans, fastest first: how much the choice matters at this shape
      std::string timed;
      for (const auto& [ms, i] : times) {
        char text[32];
        std::snprintf(text, sizeof text, "%s%.4f ms", timed.empty() ? "" : ", ", ms);
        timed += text;
      }
      std::fprintf(stderr, "microsr: conv2d %s (%s): %zu plans timed: %s\n", key.c_str(), name().c_str(), plans.size(),
                   timed.c_str());
    }
    std::vector<DescriptorPtr> ranked;
    std::vector<int64_t> ranked_workspace;
    for (const auto& [ms, i] : times) {
      ranked.push_back(std::move(plans[i]));
      ranked_workspace.push_back(workspaces[i]);
    }
    plans = std::move(ranked);
    workspaces = std::move(ranked_workspace);
  }

  ConvContext ctx_;
  bool fused_;
  std::map<std::string, std::unique_ptr<Plan>> plans_;
};

}  // namespace

std::unique_ptr<ConvEngine> make_graph_conv_engine(const ConvContext& context, bool fused) {
  return std::make_unique<GraphEngine>(context, fused);
}

}  // namespace microsr
