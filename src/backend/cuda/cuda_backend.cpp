// The CUDA backend: construction, memory, host ↔ device copies and the inference ops besides
// the convolution (cuda_conv.cpp) and the training ops (cuda_training.cpp).
#include "cuda_backend.h"

#include <cstdlib>
#include <cstring>

#include "cuda/elementwise.h"
#include "cuda/reduce.h"
#include "cuda/resample.h"

namespace microsr {

namespace {
bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && *v != '0';
}
bool env_off(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "0") == 0;
}

void expect_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  require(a.shape() == b.shape(), std::string(what) + ": shapes differ, " + a.describe() + " vs " + b.describe());
}
}  // namespace

CudaBackend::CudaBackend(int device_index, const CudaOptions& options)
    : device_(device_index),
      options_(options),
      graphs_(options.graphs && !env_off("MICROSR_CUDA_GRAPHS")),
      sync_each_op_(options.sync_each_op || env_flag("MICROSR_CUDA_SYNC")) {
  std::string why;
  if (!cuda_available(&why)) throw Error("the CUDA backend needs a CUDA device: " + why);
  require(options.precision != Precision::bf16,
          "precision bf16 is CPU only (AMX); the CUDA backend computes in fp32 or fp16");
  int count = 0;
  MICROSR_CUDA_CHECK(cudaGetDeviceCount(&count), "counting CUDA devices");
  require(device_index >= 0 && device_index < count, "there is no CUDA device " + std::to_string(device_index) +
                                                         " (this machine has " + std::to_string(count) + ")");
  const std::string conv_name = !options.conv.empty()                  ? options.conv
                                : options.precision == Precision::fp16 ? "graph_fused"
                                                                       : "graph";
  const ConvVariant& variant = conv_variant(conv_name);  // validates the name first
  MICROSR_CUDA_CHECK(cudaSetDevice(device_), "selecting cuda:" + std::to_string(device_));
  cudaDeviceProp prop{};
  MICROSR_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_),
                     "reading the properties of cuda:" + std::to_string(device_));
  device_name_ = prop.name;
  allocator_ = std::make_shared<CudaAllocator>(device_);
  if (options.memory_limit) {
    allocator_->set_limit(options.memory_limit);
  } else if (const char* limit = std::getenv("MICROSR_CUDA_MEMORY_LIMIT"); limit && *limit) {
    allocator_->set_limit(parse_memory_size(limit, "MICROSR_CUDA_MEMORY_LIMIT"));
  }
  allocator_->set_pressure_handler([this] { return drop_recordings_for_memory(); });
  MICROSR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating the CUDA stream");
  MICROSR_CUDNN_CHECK(cudnnCreate(&cudnn_),
                      "creating the cuDNN handle (is libcudnn 9 installed and on the "
                      "library path?)");
  MICROSR_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_), "binding cuDNN to the backend's stream");
  conv_context_.handle = cudnn_;
  conv_context_.stream = stream_;
  conv_context_.allocator = allocator_.get();
  conv_context_.workspace_limit = options.workspace_limit;
  conv_context_.fp16 = options.precision == Precision::fp16;
  conv_ = variant.make(conv_context_);
  if (conv_name != "legacy_heuristic") fallback_ = make_legacy_conv_engine(conv_context_, false);
  backward_ = std::make_unique<ConvBackward>(conv_context_);
}

CudaBackend::~CudaBackend() {
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  allocator_->set_pressure_handler(nullptr);  // the allocator may outlive us
  recordings_.clear();
  backward_.reset();
  fallback_.reset();
  conv_.reset();
  if (cudnn_) cudnnDestroy(cudnn_);
  if (stream_) cudaStreamDestroy(stream_);
  // The allocator lives on while tensors of this backend do (their storage holds it).
}

std::string CudaBackend::name() const {
  return "cuda:" + std::to_string(device_) + " " + device_name_ + " (" + precision_name(options_.precision) +
         ", conv " + conv_->name() + ")";
}

void CudaBackend::activate() const {
  int current = -1;
  if (cudaGetDevice(&current) != cudaSuccess || current != device_)
    MICROSR_CUDA_CHECK(cudaSetDevice(device_), "selecting cuda:" + std::to_string(device_));
}

void CudaBackend::synchronize(const std::string& what) {
  activate();
  MICROSR_CUDA_CHECK(cudaStreamSynchronize(stream_), what);
}

Tensor CudaBackend::empty(const Shape& shape, DType dtype) {
  activate();
  // fp16: feature maps become NHWC half (tensor cores); images (< 8 channels) stay NCHW float.
  if (options_.precision == Precision::fp16 && dtype == DType::f32 && shape.size() == 4 && shape[1] >= 8)
    return allocator_->tensor(shape, DType::f16, Layout::nhwc, "an activation");
  return allocator_->tensor(shape, dtype, Layout::nchw, "a tensor");
}

cuda::View CudaBackend::any_view(const Tensor& t, const char* what) const {
  require(t.defined() && t.device() == device(),
          std::string(what) + ": expected a tensor on " + device().str() + ", found " + t.describe());
  return t.rank() == 4 ? view_of(t, what) : flat_view_of(t, what);
}

Tensor CudaBackend::to_device(const Tensor& host) {
  activate();
  require(host.defined(), "to_device: undefined tensor");
  if (host.device() == device()) return host;  // already here (views share storage, as on the CPU)
  require(host.device().kind == DeviceKind::cpu, "to_device: " + host.describe() + " is on another device");
  const Tensor dense = host.is_contiguous() ? host : host.clone();
  Tensor t = allocator_->tensor(dense.shape(), dense.dtype(), Layout::nchw, "to_device");
  // Pageable host memory: the call returns once the bytes are staged, so `dense` may go.
  MICROSR_CUDA_CHECK(cudaMemcpyAsync(t.raw(), dense.raw(), dense.bytes(), cudaMemcpyHostToDevice, stream_),
                     "to_device " + dense.describe());
  launched(cudaSuccess, [&] { return "to_device " + dense.describe(); });
  return t;
}

Tensor CudaBackend::to_host(const Tensor& t) {
  activate();
  require(t.defined(), "to_host: undefined tensor");
  if (t.device().kind == DeviceKind::cpu) return t.clone();
  require(t.device() == device(), "to_host: " + t.describe() + " belongs to another device");
  const std::string what = "to_host " + t.describe();
  if (t.rank() != 4) {  // parameters and other flat buffers: the bytes as they are
    require(t.is_contiguous(), what + ": not contiguous");
    Tensor host = Tensor::empty(t.shape(), t.dtype());
    MICROSR_CUDA_CHECK(cudaMemcpyAsync(host.raw(), t.raw(), t.bytes(), cudaMemcpyDeviceToHost, stream_), what);
    synchronize(what);
    return host;
  }
  // Images and activations come back NCHW float32, whatever their layout and type here.
  const cuda::View src = view_of(t, "to_host");
  Tensor dense = t;
  if (t.dtype() != DType::f32 || t.layout() != Layout::nchw || !t.is_contiguous()) {
    dense = allocator_->tensor(t.shape(), DType::f32, Layout::nchw, "to_host");
    launched(cuda::copy_view(view_of(dense, "to_host"), src, 1.f, stream_), [&] { return what; });
  }
  // fp16 inference: an overflow shows as NaN/Inf; refuse it rather than return a black image.
  const bool check = options_.precision == Precision::fp16;
  DeviceScratch counter(allocator_.get(), check ? sizeof(unsigned long long) : 0, what);
  if (check) {
    MICROSR_CUDA_CHECK(cudaMemsetAsync(counter.ptr, 0, sizeof(unsigned long long), stream_), what);
    launched(cuda::count_nonfinite(static_cast<unsigned long long*>(counter.ptr), view_of(dense, "to_host"), stream_),
             [&] { return what + " (NaN/Inf check)"; });
  }
  Tensor host = Tensor::empty(t.shape(), DType::f32);
  unsigned long long bad = 0;
  MICROSR_CUDA_CHECK(cudaMemcpyAsync(host.raw(), dense.raw(), host.bytes(), cudaMemcpyDeviceToHost, stream_), what);
  if (check) MICROSR_CUDA_CHECK(cudaMemcpyAsync(&bad, counter.ptr, sizeof bad, cudaMemcpyDeviceToHost, stream_), what);
  synchronize(what);
  if (bad)
    throw Error("fp16 overflow: " + std::to_string(bad) + " of " + std::to_string(t.numel()) + " values of " +
                t.describe() +
                " are NaN or infinite (activations beyond the fp16 range of "
                "±65504). Run this model with --precision fp32");
  return host;
}

void CudaBackend::scaled_add(Tensor& y, const Tensor& a, float s, const Tensor& b) {
  activate();
  expect_same_shape(y, a, "scaled_add");
  expect_same_shape(y, b, "scaled_add");
  launched(cuda::scaled_add_view(any_view(y, "scaled_add"), any_view(a, "scaled_add"), s, any_view(b, "scaled_add"),
                                 stream_),
           [&] { return "scaled_add " + y.describe() + " = " + a.describe() + " · s + " + b.describe(); });
}

void CudaBackend::upsample_nearest2x(Tensor& y, const Tensor& x) {
  activate();
  const cuda::View xv = any_view(x, "upsample input"), yv = any_view(y, "upsample output");
  require(y.shape() == Shape({x.dim(0), x.dim(1), 2 * x.dim(2), 2 * x.dim(3)}),
          "upsample output " + y.describe() + " is not twice " + x.describe());
  launched(cuda::upsample_nearest2x_view(yv, xv, stream_),
           [&] { return "upsample_nearest2x " + x.describe() + " -> " + y.describe(); });
}

void CudaBackend::pixel_unshuffle(Tensor& y, const Tensor& x, int r) {
  activate();
  const cuda::View xv = any_view(x, "pixel_unshuffle input"), yv = any_view(y, "pixel_unshuffle output");
  require(r >= 1 && x.dim(2) % r == 0 && x.dim(3) % r == 0,
          "pixel_unshuffle by " + std::to_string(r) + " needs H and W divisible by it, got " + x.describe());
  require(y.shape() == Shape({x.dim(0), x.dim(1) * r * r, x.dim(2) / r, x.dim(3) / r}),
          "pixel_unshuffle output " + y.describe() + " does not fit " + x.describe());
  launched(cuda::pixel_unshuffle_view(yv, xv, r, stream_),
           [&] { return "pixel_unshuffle " + x.describe() + " -> " + y.describe(); });
}

void CudaBackend::copy_channels(Tensor& y, int64_t c0, const Tensor& x) {
  activate();
  Tensor dst = y.channel_slice(c0, x.dim(1));
  expect_same_shape(dst, x, "copy_channels");
  launched(cuda::copy_view(any_view(dst, "copy_channels"), any_view(x, "copy_channels"), 1.f, stream_),
           [&] { return "copy_channels " + x.describe() + " into " + y.describe() + " at " + std::to_string(c0); });
}

}  // namespace microsr
