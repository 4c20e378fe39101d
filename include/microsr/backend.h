// Backend: the operations RRDBNet needs, separated from the device that runs them.
//
// The network (src/nn/rrdbnet.cpp) is written once against this interface. The cpu backend is
// always built (reference and fallback); the cuda backend is built when nvcc and cuDNN are found.
// All tensors passed to one backend live on its device. Activations are NCHW float32.
#pragma once
#include <memory>
#include <string>

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
  virtual void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b,
                      const ConvOptions& opt) = 0;
  // y = a * s + b (same shapes; y may alias a or b).
  virtual void scaled_add(Tensor& y, const Tensor& a, float s, const Tensor& b) = 0;
  // y[N][C][2H][2W] = nearest ×2 of x[N][C][H][W].
  virtual void upsample_nearest2x(Tensor& y, const Tensor& x) = 0;
  // y[N][C·r²][H/r][W/r] = pixel_unshuffle(x[N][C][H][W], r).
  virtual void pixel_unshuffle(Tensor& y, const Tensor& x, int r) = 0;
  // Copy x into channels [c0, c0 + x.C) of y (same N, H, W): the dense block's concatenation.
  virtual void copy_channels(Tensor& y, int64_t c0, const Tensor& x) = 0;
};

// The CPU backend. `threads` = 0 uses every core (OpenMP).
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);
// Which CPU convolution kernel variant runs (see kernels/cpu/conv2d_variants.h); for tests/benches.
void set_cpu_conv_variant(const std::string& name);

#ifdef MICROSR_WITH_CUDA
std::unique_ptr<Backend> make_cuda_backend(int device_index = 0);
#endif
// True when this build has the CUDA backend and a CUDA device is present.
bool cuda_available(std::string* why_not = nullptr);

}  // namespace microsr
