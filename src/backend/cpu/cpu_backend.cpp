// The CPU backend: checks shapes, then loops over the images of a batch and calls the raw kernels
// of kernels/cpu (the optimized convolution chosen from the variant table, the reference
// elementwise loops, which are memory-bound and cheap next to the convolutions).
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backend/conv_shape.h"
#include "backend/cpu/cpu_checks.h"
#include "backend/cpu/cpu_training.h"
#include "cpu/conv/bf16.h"
#include "cpu/conv/fp16.h"
#include "cpu/conv/variants.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"
#include "microsr/backend.h"

namespace microsr {
namespace {

// The CPU's prepared form: weights packed for conv2d_packed (register-blocked or Winograd; in fp16
// storage conv_v3's format, conv/fp16.h), or for conv2d_bf16_packed when the backend computes in bf16.
struct CpuPreparedConv final : PreparedConv {
  kernels::PackedConvWeights packed;
  kernels::PackedBf16ConvWeights packed_bf16;
  bool bf16 = false;
  int cin() const { return bf16 ? packed_bf16.cin : packed.cin; }
  int cout() const { return bf16 ? packed_bf16.cout : packed.cout; }
  int k() const { return bf16 ? packed_bf16.k : packed.k; }
};

// The options' checks, before the backend exists: fp16 storage needs the AVX2 kernels (F16C);
// bf16 needs the CPU's AMX or AVX512_BF16 kernels.
const CpuOptions& checked(const CpuOptions& options) {
  const std::string why = cpu_precision_unavailable(options.precision);
  if (!why.empty())
    throw Error(std::string("precision ") + precision_name(options.precision) + " on the CPU: " + why + "; use fp32");
  if (options.precision != Precision::fp32) {
    const std::string name = precision_name(options.precision);
    require(options.conv.empty(), "a CPU convolution variant ('" + options.conv + "') is an fp32 kernel; " + name +
                                      " runs its own kernels (leave the variant empty)");
  }
  return options;
}

// In bf16, the image-facing layers stay fp32: the first conv (3 input channels) and the last (3
// outputs) are ~0.2% of RealESRGAN's multiply-adds, but conv_last's bf16 rounding of its 64 inputs
// lands on the output pixels unattenuated (and a 3-channel side fills a 16 x 32 AMX block to 1/5
// at best). MICROSR_BF16_THIN_LAYERS=bf16 rounds them too, for the comparison.
bool runs_in_bf16(int cin, int cout) {
  static const bool thin_in_bf16 = [] {
    const char* set = std::getenv("MICROSR_BF16_THIN_LAYERS");
    return set && std::strcmp(set, "bf16") == 0;
  }();
  return thin_in_bf16 || (cin >= 16 && cout >= 16);
}

bool env_is(const char* name, const char* value) {
  const char* set = std::getenv(name);
  return set && std::strcmp(set, value) == 0;
}

using cpu_checks::expect_nchw_f32_cpu;
using cpu_checks::expect_same_shape;

// Every operation that may run a parallel region opens a ThreadCount scope with this instance's
// thread count (kernels/cpu/threads.h), so the count belongs to the backend, not the process.
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuOptions& options)
      : threads_(std::max(0, checked(options).threads)),
        conv_(options.conv.empty() ? nullptr : &kernels::conv2d_variant(options.conv)),
        bf16_(options.precision == Precision::bf16),
        fp16_(options.precision == Precision::fp16),
        fuse_dense_blocks_(!env_is("MICROSR_DENSE_FUSION", "0") && !env_is("MICROSR_BF16_DENSE_FUSION", "0")),
        fuse_upsampling_(!env_is("MICROSR_UPSAMPLE_FUSION", "0") && !env_is("MICROSR_BF16_UPSAMPLE_FUSION", "0")) {}
  Device device() const override { return Device::cpu(); }
  std::string name() const override {
    // e.g. "cpu (2 threads, avx512 kernels, conv packed)": the instruction set the kernels run
    // with (kernels/cpu/cpu_isa.h; MICROSR_CPU_ISA may lower it), and which convolution; in bf16
    // "cpu (2 threads, amx kernels, conv bf16 conv_v9_pixel_major_amx)"; in fp16 "... conv fp16-storage
    // conv_v3_winograd43".
    const std::string conv = bf16_   ? std::string("bf16 ") + kernels::conv_bf16_kernel_name()
                             : fp16_ ? std::string("fp16-storage conv_v3_winograd43")
                                     : std::string(conv_ ? conv_->name : "packed");
    return "cpu (" + std::to_string(threads_ > 0 ? threads_ : omp_get_max_threads()) + " threads, " +
           kernels::cpu_isa_name(kernels::active_cpu_isa()) + " kernels, conv " + conv + ")";
  }
  Tensor empty(const Shape& shape, DType dtype) override { return Tensor::empty(shape, dtype); }
  Tensor to_device(const Tensor& host) override { return host.clone(); }
  // In fp16 storage an activation past ±65504 becomes infinite and the output NaN or infinite: said
  // here with its cause, as the CUDA backend does in fp16 (the tiler's own check names the tile).
  Tensor to_host(const Tensor& t) override {
    if (fp16_ && t.dtype() == DType::f32)
      if (const int64_t bad = find_non_finite(t).count)
        throw Error("fp16 overflow: " + std::to_string(bad) + " of " + std::to_string(t.numel()) + " values of " +
                    t.describe() +
                    " are NaN or infinite (activations beyond the fp16 range of ±65504). Run this model with "
                    "--precision fp32");
    return t.clone();
  }

  // The kernels' epilogue from a conv's options: LeakyReLU and scale (the residual is per image).
  static kernels::ConvEpilogue epilogue(const ConvOptions& opt) {
    kernels::ConvEpilogue epi;
    epi.has_lrelu = opt.lrelu;
    epi.lrelu_slope = opt.lrelu_slope;
    epi.scale = opt.scale;
    return epi;
  }

  void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& opt) override {
    const kernels::ThreadCount team(threads_);
    if (x.dtype() == DType::f16 && fp16_) return conv2d_fp16_input(y, x, w, b, opt);
    expect_nchw_f32_cpu(x, "conv2d input");
    expect_nchw_f32_cpu(y, "conv2d output");
    const auto [n, cin, cout, h, wd, k] = check_conv2d_shapes(y, x, w, b);
    if (opt.residual) {
      expect_nchw_f32_cpu(*opt.residual, "conv2d residual");
      expect_same_shape(*opt.residual, y, "conv2d residual");
    }
    // A variant chosen by name (tests, benchmarks) runs on raw weights; otherwise the packed
    // form is used — prepared by the caller once, or packed here for this call only.
    std::unique_ptr<PreparedConv> packed_here;
    const auto* prepared = dynamic_cast<const CpuPreparedConv*>(opt.prepared);
    if (!conv_ && !prepared) {
      packed_here = prepare_conv(w, b);
      prepared = static_cast<const CpuPreparedConv*>(packed_here.get());
    }
    require(!prepared || (prepared->cin() == cin && prepared->cout() == cout && prepared->k() == k),
            "conv2d: the prepared weights do not belong to weight " + w.describe());
    require(!prepared || prepared->bf16 == (bf16_ && runs_in_bf16(int(cin), int(cout))),
            "conv2d: the prepared weights were packed for another precision");
    for (int64_t i = 0; i < n; ++i) {
      kernels::ConvEpilogue epi = epilogue(opt);
      epi.residual = opt.residual ? opt.residual->image(i) : nullptr;
      if (prepared && prepared->bf16)
        kernels::conv2d_bf16_packed(y.image(i), x.image(i), prepared->packed_bf16, int(h), int(wd), epi);
      else if (conv_)
        conv_->fn(y.image(i), x.image(i), w.f32(), b.defined() ? b.f32() : nullptr, int(cin), int(cout), int(h),
                  int(wd), int(k), epi);
      else
        kernels::conv2d_packed(y.image(i), x.image(i), prepared->packed, int(h), int(wd), epi);
    }
  }

  // In fp16 storage, conv_hr's output comes back from fused_upsample2x_conv as an f16 tensor, which
  // conv_last reads here (kernels/cpu/conv/fp16.h: conv2d_packed_fp16_input).
  void conv2d_fp16_input(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& opt) {
    require(x.rank() == 4 && x.device().kind == DeviceKind::cpu && x.is_contiguous(),
            "conv2d input: expected a dense NCHW CPU tensor, found " + x.describe());
    expect_nchw_f32_cpu(y, "conv2d output");
    const auto [n, cin, cout, h, wd, k] = check_conv2d_shapes(y, x, w, b);
    const auto* prepared = dynamic_cast<const CpuPreparedConv*>(opt.prepared);
    require(prepared && !prepared->bf16 && prepared->cin() == cin && prepared->cout() == cout && !opt.residual,
            "conv2d: an fp16 input needs weights prepared by this backend and no residual");
    for (int64_t i = 0; i < n; ++i)
      kernels::conv2d_packed_fp16_input(y.image(i), x.data<uint16_t>() + i * x.batch_stride(), prepared->packed, int(h),
                                        int(wd), epilogue(opt));
  }

  std::unique_ptr<PreparedConv> prepare_conv(const Tensor& w, const Tensor& b) override {
    const kernels::ThreadCount team(threads_);
    require(w.rank() == 4 && w.dim(2) == w.dim(3) && w.dim(2) % 2 == 1,
            "prepare_conv: expected a [Cout, Cin, k, k] weight with odd k, got " + w.describe());
    auto p = std::make_unique<CpuPreparedConv>();
    p->bf16 = bf16_ && runs_in_bf16(int(w.dim(1)), int(w.dim(0)));
    const int cin = int(w.dim(1)), cout = int(w.dim(0)), k = int(w.dim(2));
    const float* bias = b.defined() ? b.f32() : nullptr;
    if (p->bf16)
      p->packed_bf16 = kernels::pack_conv_weights_bf16(w.f32(), bias, cin, cout, k);
    else if (fp16_)
      p->packed =
          kernels::pack_conv_weights(w.f32(), bias, cin, cout, k, kernels::fp16_storage_weight_format(cin, cout, k));
    else
      p->packed = kernels::pack_conv_weights(w.f32(), bias, cin, cout, k);
    return p;
  }

  void scaled_add(Tensor& y, const Tensor& a, float s, const Tensor& b) override {
    const kernels::ThreadCount team(threads_);
    expect_same_shape(y, a, "scaled_add");
    expect_same_shape(y, b, "scaled_add");
    const int64_t per_image = y.numel() / y.dim(0);
    for (int64_t i = 0; i < y.dim(0); ++i) kernels::scaled_add(y.image(i), a.image(i), s, b.image(i), per_image);
  }

  void upsample_nearest2x(Tensor& y, const Tensor& x) override {
    const kernels::ThreadCount team(threads_);
    expect_nchw_f32_cpu(x, "upsample input");
    require(y.shape() == Shape({x.dim(0), x.dim(1), 2 * x.dim(2), 2 * x.dim(3)}),
            "upsample output " + y.describe() + " is not twice " + x.describe());
    for (int64_t i = 0; i < x.dim(0); ++i)
      kernels::upsample_nearest2x_ref(y.image(i), x.image(i), int(x.dim(1)), int(x.dim(2)), int(x.dim(3)));
  }

  void pixel_unshuffle(Tensor& y, const Tensor& x, int r) override {
    const kernels::ThreadCount team(threads_);
    expect_nchw_f32_cpu(x, "pixel_unshuffle input");
    require(x.dim(2) % r == 0 && x.dim(3) % r == 0,
            "pixel_unshuffle by " + std::to_string(r) + " needs H and W divisible by it, got " + x.describe());
    require(y.shape() == Shape({x.dim(0), x.dim(1) * r * r, x.dim(2) / r, x.dim(3) / r}),
            "pixel_unshuffle output " + y.describe() + " does not fit " + x.describe());
    for (int64_t i = 0; i < x.dim(0); ++i)
      kernels::pixel_unshuffle_ref(y.image(i), x.image(i), int(x.dim(1)), int(x.dim(2)), int(x.dim(3)), r);
  }

  void copy_channels(Tensor& y, int64_t c0, const Tensor& x) override {
    const kernels::ThreadCount team(threads_);
    Tensor dst = y.channel_slice(c0, x.dim(1));
    expect_same_shape(dst, x, "copy_channels");
    const int64_t per_image = x.numel() / x.dim(0);
    for (int64_t i = 0; i < x.dim(0); ++i) kernels::copy_floats(dst.image(i), x.image(i), per_image);
  }

  // The dense block in one call, each input channel transformed once and the block run as a
  // wavefront over bands of rows: in bf16 kernels/cpu/conv/bf16.h's conv2d_bf16_dense_block, in
  // fp32 kernels/cpu/conv/variants.h's conv2d_dense_block_packed (the Winograd formats, not with a
  // chosen conv variant, and only where it pays: images up to ~64x64). Both give the same bits as
  // the five convolutions. In fp16 storage, at every size, kernels/cpu/conv/fp16.h's
  // conv2d_dense_block_fp16: five convolutions on x, x1..x4 kept in fp16.
  // MICROSR_DENSE_FUSION=0 (or the older MICROSR_BF16_DENSE_FUSION=0) turns it off, for A/B runs.
  Tensor fused_dense_block(const Tensor& x, const PreparedConv* const convs[5], float slope, float residual_scale,
                           const Tensor* skip) override {
    if (!fuse_dense_blocks_ || (!bf16_ && conv_)) return {};
    const CpuPreparedConv* prepared[5];
    const kernels::PackedBf16ConvWeights* packed_bf16[5];
    const kernels::PackedConvWeights* packed[5];
    for (int j = 0; j < 5; ++j) {
      prepared[j] = dynamic_cast<const CpuPreparedConv*>(convs[j]);
      require(prepared[j] && prepared[j]->bf16 == bf16_,
              "fused_dense_block: conv" + std::to_string(j + 1) + " was not prepared by this backend");
      packed_bf16[j] = &prepared[j]->packed_bf16;
      packed[j] = &prepared[j]->packed;
    }
    if (!bf16_ && !fp16_ && !kernels::dense_block_fusable(packed, int(x.dim(2)), int(x.dim(3)))) return {};
    const kernels::ThreadCount team(threads_);
    expect_nchw_f32_cpu(x, "fused_dense_block input");
    if (skip) {
      expect_nchw_f32_cpu(*skip, "fused_dense_block skip");
      expect_same_shape(*skip, x, "fused_dense_block skip");
    }
    require(prepared[0]->cin() == x.dim(1) && prepared[4]->cout() == x.dim(1),
            "fused_dense_block: the layers take " + std::to_string(prepared[0]->cin()) + " channels, the input is " +
                x.describe());
    Tensor out = Tensor::empty(x.shape());
    // fp16 storage: x, x1..x4 as halves, in a tensor's memory, which the allocator hands on to the
    // next large activation (a per-thread buffer would add its 74 MB at a 440² tile to the peak).
    Tensor halves;
    if (fp16_)
      halves = Tensor::empty(
          {kernels::dense_block_fp16_halves(int(x.dim(1)), prepared[0]->cout(), int(x.dim(2)), int(x.dim(3)))},
          DType::f16);
    for (int64_t i = 0; i < x.dim(0); ++i) {
      const int h = int(x.dim(2)), w = int(x.dim(3));
      const float* skip_image = skip ? skip->image(i) : nullptr;
      if (bf16_)
        kernels::conv2d_bf16_dense_block(out.image(i), x.image(i), packed_bf16, h, w, slope, residual_scale,
                                         skip_image);
      else if (fp16_)
        kernels::conv2d_dense_block_fp16(out.image(i), x.image(i), packed, h, w, slope, residual_scale,
                                         halves.data<uint16_t>(), skip_image);
      else
        kernels::conv2d_dense_block_packed(out.image(i), x.image(i), packed, h, w, slope, residual_scale, skip_image);
    }
    return out;
  }

  // In bf16 the nearest x2 upsampling goes into the conv's bf16 input copy (kernels/cpu/conv/bf16.h:
  // conv2d_bf16_packed_upsampled2x), and with `then` the conv's output goes in bf16 straight into
  // the next conv's (conv2d_bf16_upsampled2x_pair; not with conv_v10, whose activations are fp32:
  // `then` is refused, and the caller runs it as a plain conv). In fp32 it goes into the Winograd kernels' padded
  // input copy (conv2d_packed_upsampled2x; no `then`): the 4x larger upsampled tensor is never made
  // (793 MB at a 440² tile's last stage). The same bits as the separate ops. In fp16 storage, with
  // `then`, the conv's output goes in fp16 to the next conv (kernels/cpu/conv/fp16.h:
  // conv2d_upsampled2x_pair_fp16): 397 MB instead of 793 MB there; and that conv's output comes
  // back as an f16 tensor (conv_hr's, which conv_last reads through conv2d).
  // MICROSR_UPSAMPLE_FUSION=0 (or the older MICROSR_BF16_UPSAMPLE_FUSION=0) turns them off, for A/B runs.
  Tensor fused_upsample2x_conv(const Tensor& x, const ConvOptions& opt, const ConvOptions* then) override {
    const auto* prepared = dynamic_cast<const CpuPreparedConv*>(opt.prepared);
    const auto* next = then ? dynamic_cast<const CpuPreparedConv*>(then->prepared) : nullptr;
    if (!fuse_upsampling_ || !prepared || opt.residual) return {};
    const auto check_input = [&] {
      expect_nchw_f32_cpu(x, "fused_upsample2x_conv input");
      require(prepared->cin() == x.dim(1), "fused_upsample2x_conv: the layer takes " + std::to_string(prepared->cin()) +
                                               " channels, the input is " + x.describe());
    };
    if (!prepared->bf16) {
      if (conv_) return {};
      // fp32 fuses the upsampling only, with the packed weights; fp16 storage also the next conv,
      // the 4x larger activation between them in fp16, and returns that conv's output in fp16 too
      // (an f16 tensor, which conv2d reads: conv_last) (kernels/cpu/conv/fp16.h).
      if (then && (!fp16_ || !next || then->residual || next->cin() != prepared->cout())) return {};
      const kernels::ThreadCount team(threads_);
      check_input();
      const int64_t h = x.dim(2), w = x.dim(3);
      if (!next) {
        Tensor y = Tensor::empty({x.dim(0), prepared->cout(), 2 * h, 2 * w});
        for (int64_t i = 0; i < x.dim(0); ++i)
          kernels::conv2d_packed_upsampled2x(y.image(i), x.image(i), prepared->packed, int(h), int(w), epilogue(opt));
        return y;
      }
      Tensor y = Tensor::empty({x.dim(0), next->cout(), 2 * h, 2 * w}, DType::f16);
      Tensor between = Tensor::empty({prepared->cout(), 2 * h, 2 * w}, DType::f16);  // reused by the allocator
      for (int64_t i = 0; i < x.dim(0); ++i)
        kernels::conv2d_upsampled2x_pair_fp16(y.data<uint16_t>() + i * y.batch_stride(), x.image(i), prepared->packed,
                                              epilogue(opt), next->packed, epilogue(*then), int(h), int(w),
                                              between.data<uint16_t>());
      return y;
    }
    if (!bf16_) return {};
    if (then && (!next || !next->bf16 || then->residual || opt.scale != 1.0f || next->cin() != prepared->cout() ||
                 prepared->cout() % 2 != 0 || !kernels::conv_bf16_pair_stays_bf16()))
      return {};
    const kernels::ThreadCount team(threads_);
    check_input();
    Tensor y = Tensor::empty({x.dim(0), (next ? next : prepared)->cout(), 2 * x.dim(2), 2 * x.dim(3)});
    for (int64_t i = 0; i < x.dim(0); ++i)
      if (next)
        kernels::conv2d_bf16_upsampled2x_pair(y.image(i), x.image(i), prepared->packed_bf16, epilogue(opt),
                                              next->packed_bf16, epilogue(*then), int(x.dim(2)), int(x.dim(3)));
      else
        kernels::conv2d_bf16_packed_upsampled2x(y.image(i), x.image(i), prepared->packed_bf16, int(x.dim(2)),
                                                int(x.dim(3)), epilogue(opt));
    return y;
  }

  // ---- training (cpu_training.cpp) ----
  void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, bool accumulate) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::conv2d_backward_data(dx, dy, w, accumulate);
  }
  void conv2d_backward_weight(Tensor& dw, Tensor& db, const Tensor& x, const Tensor& dy) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::conv2d_backward_weight(dw, db, x, dy);
  }
  void leaky_relu_backward(Tensor& dz, const Tensor& dy, const Tensor& y, float slope) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::leaky_relu_backward(dz, dy, y, slope);
  }
  void upsample_nearest2x_backward(Tensor& dx, const Tensor& dy) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::upsample_nearest2x_backward(dx, dy);
  }
  void pixel_shuffle(Tensor& y, const Tensor& x, int r) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::pixel_shuffle(y, x, r);
  }
  double l1_loss(Tensor* dpred, const Tensor& pred, const Tensor& target) override {
    const kernels::ThreadCount team(threads_);
    return cpu_training::l1_loss(dpred, pred, target);
  }
  double sum_squares(const Tensor& t) override {
    const kernels::ThreadCount team(threads_);
    return cpu_training::sum_squares(t);
  }
  void fill(Tensor& t, float value) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::fill(t, value);
  }
  void scale(Tensor& t, float s) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::scale(t, s);
  }
  void adam_step(Tensor& param, Tensor& m, Tensor& v, const Tensor& grad, const AdamStep& step) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::adam_step(param, m, v, grad, step);
  }
  void ema_update(Tensor& ema, const Tensor& param, double decay) override {
    const kernels::ThreadCount team(threads_);
    cpu_training::ema_update(ema, param, decay);
  }

 private:
  int threads_;                         // 0: OpenMP's default
  const kernels::Conv2dVariant* conv_;  // null: packed weights in the best format
  bool bf16_;                           // Precision::bf16: the bf16 convolutions (AMX or AVX512_BF16)
  bool fp16_;                           // Precision::fp16: fp32 arithmetic, dense blocks stored in fp16
  bool fuse_dense_blocks_;              // fused_dense_block runs (MICROSR_DENSE_FUSION != 0)
  bool fuse_upsampling_;                // fused_upsample2x_conv runs (MICROSR_UPSAMPLE_FUSION != 0)
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuOptions& options) { return std::make_unique<CpuBackend>(options); }

std::string cpu_precision_unavailable(Precision precision) {
  if (precision == Precision::fp16) {
    const char* why = kernels::fp16_storage_unavailable_reason();
    return why ? why : "";
  }
  if (precision == Precision::bf16) {
    const char* why = kernels::conv_bf16_unavailable_reason();
    return why ? why : "";
  }
  return "";
}

std::string cpu_precision_advice(Precision precision) {
  if (precision != Precision::fp16 || !kernels::cpu_isa_at_least(kernels::CpuIsa::kAvx512)) return "";
  // Zen 4, whole 1600x1200 image (docs/performance.md): fp32 on conv_v5 133 s, fp16 storage 158 s.
  return std::string(
             "--precision fp16 on the CPU stores activations in fp16 for CPUs without AVX-512; it runs the "
             "AVX2 kernels, and on this CPU --precision fp32 (AVX-512 kernels) is faster") +
         (kernels::conv_bf16_unavailable_reason() ? "" : ", --precision bf16 faster still");
}

}  // namespace microsr
