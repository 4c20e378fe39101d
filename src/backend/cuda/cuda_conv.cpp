// CudaBackend::prepare_conv and conv2d: turning tensors into what a cuDNN engine can read, the
// fallbacks when it cannot, and the epilogue.
//
//   1. Input: used in place when it already is the computation's layout — fp32: NCHW float
//      (channel slices included: their batch stride goes into the descriptor); fp16: NHWC half
//      with a channel count and pixel stride that are multiples of 8 and 16-byte alignment.
//      Otherwise (the network's 3-channel input image, a 12-channel pixel_unshuffle output, a
//      slice cuDNN refused) it is copied into a packed buffer, zero-padded to the weights' Cin.
//   2. Output: cuDNN writes y itself when y is in that layout (fp16: Cout a multiple of 8) and
//      overlaps neither x nor the residual; otherwise a packed buffer that the epilogue reads.
//   3. graph_fused tries conv + bias + LeakyReLU + residual in one cuDNN engine (scale folded
//      into the weights); everything else is conv alone followed by the epilogue kernel
//      y = scale · act(acc + bias) + residual, one pass over y.
//   4. When the engine has no algorithm for the views, the output goes to a packed buffer, then
//      the input is packed too; then the legacy engine is asked; only then does conv2d fail,
//      naming the shapes.
#include <cuda_runtime.h>
#include <cstdint>

#include "backend/conv_shape.h"
#include "cuda/elementwise.h"
#include "cuda/epilogue.h"
#include "cuda_backend.h"
#include "cudnn_descriptors.h"

namespace microsr {

namespace {
int round_up8(int c) { return (c + 7) / 8 * 8; }

// Is v already what the engines read (see 1. above) for a tensor of `channels` channels?
bool compute_ready(const cuda::View& v, int channels, bool fp16) {
  if (v.c != channels) return false;
  if (!fp16) return !v.half && v.sw == 1 && v.sh == v.w && v.sc == int64_t(v.h) * v.w;
  return v.half && v.sc == 1 && channels % 8 == 0 && v.sw % 8 == 0 && v.sh == int64_t(v.w) * v.sw &&
         view_alignment(v) >= 16;
}

// Can fp32 engines read t where it lies: dense f32 on this device, 16-byte aligned (what the
// graph API's weight and bias descriptors declare)? Then a prepared conv shares it.
bool readable_in_place(const Tensor& t) {
  return t.dtype() == DType::f32 && t.is_contiguous() && reinterpret_cast<std::uintptr_t>(t.raw()) % 16 == 0;
}

// A packed buffer in the computation's layout: fp32 NCHW [n][c][h][w], fp16 NHWC [n][h][w][c].
cuda::View packed_view(void* data, int n, int c, int h, int w, bool fp16) {
  return fp16 ? cuda::nhwc_view(data, true, n, c, h, w, c) : cuda::nchw_view(data, false, n, c, h, w);
}
}  // namespace

std::unique_ptr<PreparedConv> CudaBackend::prepare_conv(const Tensor& w_in, const Tensor& b_in) {
  activate();
  require(w_in.defined() && w_in.rank() == 4 && w_in.dtype() == DType::f32 && w_in.dim(2) == w_in.dim(3) &&
              w_in.dim(2) % 2 == 1,
          "prepare_conv: expected an f32 [Cout, Cin, k, k] weight with odd k, got " + w_in.describe());
  const Tensor w = to_device(w_in);  // no copy when it already is on this device
  const Tensor b = b_in.defined() ? to_device(b_in) : Tensor();
  auto p = std::make_unique<CudaPreparedConv>();
  p->cout = int(w.dim(0)), p->cin = int(w.dim(1)), p->k = int(w.dim(2));
  require(!b.defined() || (b.numel() == p->cout && b.dtype() == DType::f32 && b.is_contiguous()),
          "prepare_conv: bias " + b.describe() + " does not fit " + std::to_string(p->cout) + " output channels");
  const bool fp16 = options_.precision == Precision::fp16;
  p->cin_padded = fp16 ? round_up8(p->cin) : p->cin;
  p->cout_padded = fp16 ? round_up8(p->cout) : p->cout;
  p->has_bias = b.defined();
  const std::string what = "prepare_conv " + w.describe();
  const int k = p->k;

  // fp32 reads the caller's weights and bias in place when it can: no device work, so training's
  // re-prepare after every optimizer step is free (the optimizer updates them in place; the
  // prepared conv sees the new values, and weights_updated() drops recordings as before).
  if (!fp16 && readable_in_place(w) && b.defined() && readable_in_place(b)) {
    p->weight = w;
    p->bias = p->bias_data = b;
    return p;
  }

  // Weights: fp32 an exact dense copy; fp16 [cout_p][k][k][cin_p] half, zero-padded.
  const cuda::View src = cuda::nchw_view(w.raw(), false, p->cout, p->cin, k, k);
  if (fp16) {
    p->weight = allocator_->tensor({p->cout_padded, k, k, p->cin_padded}, DType::f16, Layout::nchw, what);
    MICROSR_CUDA_CHECK(cudaMemsetAsync(p->weight.raw(), 0, p->weight.bytes(), stream_), what);
    cuda::View dst;  // [cout][cin][k][k] indexed, stored [cout_p][k][k][cin_p]
    dst.data = p->weight.raw(), dst.half = true, dst.n = p->cout, dst.c = p->cin, dst.h = k, dst.w = k;
    dst.sn = int64_t(k) * k * p->cin_padded, dst.sc = 1, dst.sh = int64_t(k) * p->cin_padded, dst.sw = p->cin_padded;
    launched(cuda::copy_view(dst, src, 1.f, stream_), [&] { return what; });
  } else {
    p->weight = allocator_->tensor(w.shape(), DType::f32, Layout::nchw, what);
    launched(cuda::copy_view(cuda::nchw_view(p->weight.raw(), false, p->cout, p->cin, k, k), src, 1.f, stream_),
             [&] { return what; });
  }
  // Bias: f32 [cout_p] with zeros past cout (or everywhere), and the same in the data type.
  p->bias = allocator_->tensor({p->cout_padded}, DType::f32, Layout::nchw, what);
  MICROSR_CUDA_CHECK(cudaMemsetAsync(p->bias.raw(), 0, p->bias.bytes(), stream_), what);
  if (b.defined())
    MICROSR_CUDA_CHECK(cudaMemcpyAsync(p->bias.raw(), b.raw(), b.bytes(), cudaMemcpyDeviceToDevice, stream_), what);
  if (fp16) {
    p->bias_data = allocator_->tensor({p->cout_padded}, DType::f16, Layout::nchw, what);
    const cuda::View from = cuda::nchw_view(p->bias.raw(), false, 1, p->cout_padded, 1, 1);
    launched(cuda::copy_view(cuda::nchw_view(p->bias_data.raw(), true, 1, p->cout_padded, 1, 1), from, 1.f, stream_),
             [&] { return what; });
  } else {
    p->bias_data = p->bias;
  }
  return p;
}

const CudaPreparedConv::Scaled& CudaBackend::scaled_weights(const CudaPreparedConv& p, float s) {
  auto it = p.scaled.find(s);
  if (it != p.scaled.end()) return it->second;
  const std::string what = "scaling the weights of a fused conv by " + std::to_string(s);
  // Made while capturing, the scaling would only be recorded, not run: a failed capture would
  // leave unwritten weights in the cache. The warm-up pass makes them.
  require(!cudnn::capturing(stream_), what + ": not made by the warm-up pass, and the stream is being captured");
  CudaPreparedConv::Scaled sw;
  sw.weight = allocator_->tensor(p.weight.shape(), p.weight.dtype(), Layout::nchw, what);
  sw.bias = allocator_->tensor(p.bias_data.shape(), p.bias_data.dtype(), Layout::nchw, what);
  const bool half = p.weight.dtype() == DType::f16;
  const int wn = int(p.weight.numel()), bn = int(p.bias_data.numel());
  launched(cuda::copy_view(cuda::nchw_view(sw.weight.raw(), half, 1, 1, 1, wn),
                           cuda::nchw_view(p.weight.raw(), half, 1, 1, 1, wn), s, stream_),
           [&] { return what; });
  launched(cuda::copy_view(cuda::nchw_view(sw.bias.raw(), half, 1, 1, 1, bn),
                           cuda::nchw_view(p.bias_data.raw(), half, 1, 1, 1, bn), s, stream_),
           [&] { return what; });
  return p.scaled.emplace(s, std::move(sw)).first->second;
}

void CudaBackend::conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& opt) {
  activate();
  const cuda::View xv = view_of(x, "conv2d input"), yv = view_of(y, "conv2d output");
  require(x.device() == device() && y.device() == device(),
          "conv2d: tensors must be on " + device().str() + ", got " + x.describe() + " and " + y.describe());
  const Conv2dShape s = check_conv2d_shapes(y, x, w, b);
  cuda::View rv;
  if (opt.residual) {
    rv = view_of(*opt.residual, "conv2d residual");
    require(opt.residual->shape() == y.shape(),
            "conv2d residual " + opt.residual->describe() + " does not match the output " + y.describe());
  }
  std::unique_ptr<PreparedConv> prepared_here;
  const auto* p = dynamic_cast<const CudaPreparedConv*>(opt.prepared);
  if (!p) {
    require(!opt.prepared, "conv2d: the prepared weights come from another backend");
    prepared_here = prepare_conv(w, b);
    p = static_cast<const CudaPreparedConv*>(prepared_here.get());
  }
  require(p->cin == s.cin && p->cout == s.cout && p->k == s.k,
          "conv2d: the prepared weights do not belong to weight " + w.describe());
  run_conv(yv, xv, rv, *p, opt);
}

void CudaBackend::run_conv(const cuda::View& yv, const cuda::View& xv, const cuda::View& rv, const CudaPreparedConv& p,
                           const ConvOptions& opt) {
  const bool fp16 = options_.precision == Precision::fp16;
  const int n = xv.n, h = xv.h, w = xv.w;
  const auto describe = [&] {
    return "conv2d " + view_str(xv) + " -> " + view_str(yv) + " (k " + std::to_string(p.k) + ", " +
           precision_name(options_.precision) + ", " + conv_->name() + ")";
  };
  const std::size_t elem = fp16 ? 2 : 4;

  // 1. The input as the engines read it.
  std::unique_ptr<DeviceScratch> x_buf;
  cuda::View xin = xv;
  const auto pack_input = [&] {
    const std::size_t bytes = std::size_t(n) * p.cin_padded * h * w * elem;
    x_buf = std::make_unique<DeviceScratch>(allocator_.get(), bytes, "a packed conv2d input");
    xin = packed_view(x_buf->ptr, n, p.cin_padded, h, w, fp16);
    if (p.cin_padded != p.cin) MICROSR_CUDA_CHECK(cudaMemsetAsync(x_buf->ptr, 0, bytes, stream_), describe());
    cuda::View real = xin;  // the first cin channels of the padded buffer
    real.c = p.cin;
    launched(cuda::copy_view(real, xv, 1.f, stream_), describe);
  };
  if (!compute_ready(xv, p.cin_padded, fp16)) pack_input();

  // 2. Where cuDNN writes.
  std::unique_ptr<DeviceScratch> y_buf;
  cuda::View yout = yv;
  const auto use_output_buffer = [&] {
    y_buf = std::make_unique<DeviceScratch>(allocator_.get(), std::size_t(n) * p.cout_padded * h * w * elem,
                                            "a packed conv2d output");
    yout = packed_view(y_buf->ptr, n, p.cout_padded, h, w, fp16);
  };
  const bool y_direct =
      compute_ready(yv, p.cout_padded, fp16) && views_disjoint(yv, xv) && (!rv.data || views_disjoint(yv, rv));
  if (!y_direct) use_output_buffer();

  // 3. Fused, when the variant can and the output is y itself.
  ConvTensors t{xin, yout, p.weight.raw(), p.k};
  if (conv_->can_fuse() && y_direct && opt.scale > 0.f) {
    const CudaPreparedConv::Scaled* scaled = opt.scale != 1.f ? &scaled_weights(p, opt.scale) : nullptr;
    FusedEpilogue epi;
    epi.bias = scaled ? scaled->bias.raw() : p.bias_data.raw();
    epi.lrelu = opt.lrelu;
    epi.slope = opt.lrelu_slope;
    epi.residual = rv;
    ConvTensors ts = t;
    if (scaled) ts.w = scaled->weight.raw();
    if (conv_->forward(ts, &epi)) {
      ++conv_paths_.fused;
      return launched(cudaSuccess, describe);
    }
  }

  // 4. Conv alone, with the fallbacks: a packed output first (no copy before the conv), then a
  //    packed input too, then the legacy engine. Engines remember refusals, so a refused layout
  //    costs a lookup per call, not a search.
  bool done = conv_->forward(t, nullptr);
  if (!done && !y_buf) {
    use_output_buffer();
    t.y = yout;
    done = conv_->forward(t, nullptr);
  }
  if (!done && !x_buf) {
    pack_input();
    t.x = xin;
    done = conv_->forward(t, nullptr);
  }
  if (!done && fallback_) {
    done = fallback_->forward(t, nullptr);
    conv_paths_.fallback += done ? 1 : 0;
  }
  require(done, "cuDNN has no algorithm for " + describe() + " within the workspace limit of " +
                    std::to_string(options_.workspace_limit >> 20) + " MiB (" + conv_->last_refusal() +
                    (fallback_ ? "; " + fallback_->last_refusal() : std::string()) + ")");

  ++conv_paths_.unfused;
  conv_paths_.packed_input += x_buf ? 1 : 0;
  conv_paths_.packed_output += y_buf ? 1 : 0;
  // Nothing left to do when cuDNN wrote y itself and there is no epilogue.
  if (!y_buf && !p.has_bias && !opt.lrelu && opt.scale == 1.f && !rv.data) return launched(cudaSuccess, describe);

  cuda::EpilogueParams e;
  e.y = yv;
  e.acc = yout;
  e.acc.c = yv.c;  // a padded buffer: read its first cout channels
  e.residual = rv;
  e.bias = p.has_bias ? static_cast<const float*>(p.bias.raw()) : nullptr;
  e.lrelu = opt.lrelu;
  e.slope = opt.lrelu_slope;
  e.scale = opt.scale;
  launched(cuda::conv_epilogue(e, stream_), describe);
}

}  // namespace microsr
