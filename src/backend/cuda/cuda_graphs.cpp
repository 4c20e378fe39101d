// CUDA graphs for the forward pass (Backend::run_replayable).
//
// A forward pass of RealESRGAN_x4plus is ~700 kernel and cuDNN launches; at small tiles the GPU
// finishes each faster than the CPU can enqueue the next. A CUDA graph enqueues them all with one
// call. Per (network, input shape):
//
//   call 1   runs normally: every lazy choice happens here (cuDNN algorithm searches, graph-API
//            plans, folded weights, the allocator's first cudaMalloc calls) — none of which may
//            happen while capturing.
//   call 2   captures the pass on the backend's stream (cudaStreamBeginCapture … EndCapture) into
//            a graph reading a fixed input buffer, inside an allocator pool: every block the pass
//            takes stays the recording's, because a replay writes into exactly those addresses.
//            The capture only records; the graph is then launched for this call's input.
//   call 3…  copy the input into the fixed buffer, launch the graph, copy the output out (so the
//            caller's tensor is not overwritten by the next replay).
//
// If capturing fails (an op that cannot be captured, an unexpected algorithm search), the pass is
// run normally and graphs are off for the rest of this backend's life (the recordings made so far
// are dropped: graphs off means none are kept), with one line on stderr.
// When memory runs out, the allocator's pressure handler drops every recording (their pools go
// back to the cache) and no new ones are made.
#include <cstdio>

#include "cuda_backend.h"

namespace microsr {

namespace {
constexpr std::size_t kMaxRecordings = 4;  // tile shapes: full, right edge, bottom edge, corner
}

struct CudaBackend::Recording {
  std::shared_ptr<CudaAllocator> allocator;
  cudaStream_t stream = nullptr;
  int pool = 0;
  Tensor input, output;  // what the graph reads and writes
  cudaGraphExec_t exec = nullptr;

  Recording(std::shared_ptr<CudaAllocator> a, cudaStream_t s) : allocator(std::move(a)), stream(s) {}
  ~Recording() {
    cudaStreamSynchronize(stream);  // no replay of ours may still be running
    if (exec) cudaGraphExecDestroy(exec);
    output = Tensor();
    if (pool) allocator->release_pool(pool);
  }
};

CudaBackend::RecordingSlot::RecordingSlot() = default;
CudaBackend::RecordingSlot::~RecordingSlot() = default;

Tensor CudaBackend::run_replayable(const void* owner, const Tensor& x, const Forward& forward) {
  activate();
  const bool replayable = graphs_ && !capturing_ && x.defined() && x.device() == device() && x.dtype() == DType::f32 &&
                          x.layout() == Layout::nchw && x.is_contiguous();
  if (!replayable) return forward(x);
  RecordingSlot& slot = recordings_[{owner, x.shape()}];
  if (++slot.calls == 1) return forward(x);  // the warm-up: every choice is made here
  if (!slot.recording) {
    std::size_t recorded = 0;
    for (const auto& [key, s] : recordings_) recorded += s.recording ? 1 : 0;
    if (recorded >= kMaxRecordings) return forward(x);
    synchronize("before recording a CUDA graph");  // an earlier op's error is that op's, not the capture's
    try {
      slot.recording = record(x, forward);
    } catch (const Error& e) {
      // Graphs off means no recordings: one kept would hold a pass's worth of memory, unused.
      for (auto& [key, s] : recordings_) s.recording.reset();
      graphs_ = false;
      std::fprintf(stderr, "microsr: CUDA graph capture failed, running without graphs (%s)\n", e.what());
      return forward(x);
    }
    if (!slot.recording) return forward(x);  // memory ran out while it was prepared: graphs are off
  }
  // The output tensor first: allocating it may drop every recording (memory pressure), so
  // nothing of the recording is referred to while it is made.
  const Shape shape = slot.recording->output.shape();
  const DType dtype = slot.recording->output.dtype();
  const Layout layout = slot.recording->output.layout();
  Tensor y = allocator_->tensor(shape, dtype, layout, "a replayed forward's output");
  if (!slot.recording) return forward(x);
  replay(*slot.recording, y, x);
  return y;
}

std::unique_ptr<CudaBackend::Recording> CudaBackend::record(const Tensor& x, const Forward& forward) {
  const std::string what = "recording a CUDA graph of the forward pass on " + x.describe();
  auto r = std::make_unique<Recording>(allocator_, stream_);
  r->input = allocator_->tensor(x.shape(), x.dtype(), Layout::nchw, "a recorded forward's input");
  // Allocating it may have run the pressure handler, which drops the recordings and turns graphs off.
  if (!graphs_) return nullptr;
  r->pool = allocator_->begin_pool();
  // Relaxed: the allocator may still call cudaMalloc while capturing (a pool that grows).
  MICROSR_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), what);
  capturing_ = true;
  cudaGraph_t graph = nullptr;
  auto end_capture = [&] {
    const cudaError_t status = cudaStreamEndCapture(stream_, &graph);
    capturing_ = false;
    allocator_->end_pool();
    return status;
  };
  try {
    r->output = forward(r->input);
  } catch (...) {
    end_capture();
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();  // capture errors are not sticky: clear them
    throw;
  }
  const cudaError_t ended = end_capture();
  if (ended != cudaSuccess) {
    if (graph) cudaGraphDestroy(graph);
    cuda_detail::throw_cuda_error(ended, "cudaStreamEndCapture", what);
  }
  const cudaError_t made = cudaGraphInstantiate(&r->exec, graph, 0);
  cudaGraphDestroy(graph);
  MICROSR_CUDA_CHECK(made, what);
  require(r->output.defined() && r->output.device() == device() && r->output.is_contiguous(),
          what + ": the pass returned " + r->output.describe() + ", not a dense tensor of this device");
  return r;
}

void CudaBackend::replay(Recording& r, Tensor& y, const Tensor& x) {
  const auto what = [&] { return "replaying the CUDA graph of the forward pass on " + x.describe(); };
  MICROSR_CUDA_CHECK(cudaMemcpyAsync(r.input.raw(), x.raw(), x.bytes(), cudaMemcpyDeviceToDevice, stream_), what());
  MICROSR_CUDA_CHECK(cudaGraphLaunch(r.exec, stream_), what());
  MICROSR_CUDA_CHECK(cudaMemcpyAsync(y.raw(), r.output.raw(), r.output.bytes(), cudaMemcpyDeviceToDevice, stream_),
                     what());
  launched(cudaSuccess, what);
}

void CudaBackend::forget_recordings(const void* owner) {
  for (auto it = recordings_.begin(); it != recordings_.end();)
    it = it->first.first == owner ? recordings_.erase(it) : std::next(it);
}

bool CudaBackend::drop_recordings_for_memory() {
  if (capturing_) return false;
  bool freed = false;
  for (auto& [key, slot] : recordings_)
    if (slot.recording) slot.recording.reset(), freed = true;
  if (freed) {
    graphs_ = false;  // memory is tight: no more recordings for this backend
    std::fprintf(stderr,
                 "microsr: device memory is short: dropped the recorded CUDA graphs, running without them from "
                 "now on\n");
  }
  return freed;
}

}  // namespace microsr
