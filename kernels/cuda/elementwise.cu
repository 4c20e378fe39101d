// Memory-bound elementwise kernels over views: __global__ walk (common.cuh) → launcher
// (elementwise.h). Each functor's operator() is one element (n, c, h, w) of the destination.
#include "common.cuh"
#include "elementwise.h"

namespace microsr::cuda {
namespace {

// y, a, b: [n][c][h][w] views. One fused multiply-add, a·s + b rounded once: what the CPU
// reference compiles to (kernels/cpu/ref/elementwise_ref.cpp, built with -mfma: GCC contracts
// a[i] * s + b[i] into vfmadd), so fp32 results are bit-identical (GpuOps tests exactly).
struct ScaledAdd {
  View y, a, b;
  float s;
  __device__ void operator()(int n, int c, int h, int w) const {
    store(y, y.offset(n, c, h, w), __fmaf_rn(load(a, a.offset(n, c, h, w)), s, load(b, b.offset(n, c, h, w))));
  }
};

// dst: [n][c][h][w] view
struct Fill {
  View dst;
  float value;
  __device__ void operator()(int n, int c, int h, int w) const { store(dst, dst.offset(n, c, h, w), value); }
};

// dst: [n][c][h][w] view, in place
struct Scale {
  View dst;
  float s;
  __device__ void operator()(int n, int c, int h, int w) const {
    const int64_t o = dst.offset(n, c, h, w);
    store(dst, o, __fmul_rn(load(dst, o), s));
  }
};

// dz, dy, y: [n][c][h][w] views (dz may be dy: each element is read before it is written)
struct LeakyReluBackward {
  View dz, dy, y;
  float slope;
  __device__ void operator()(int n, int c, int h, int w) const {
    const float g = load(dy, dy.offset(n, c, h, w));
    store(dz, dz.offset(n, c, h, w), load(y, y.offset(n, c, h, w)) > 0.f ? g : __fmul_rn(g, slope));
  }
};

}  // namespace

cudaError_t scaled_add_view(const View& y, const View& a, float s, const View& b, cudaStream_t stream) {
  return launch_walk(y, ScaledAdd{y, a, b, s}, stream);
}

cudaError_t fill_view(const View& dst, float value, cudaStream_t stream) {
  return launch_walk(dst, Fill{dst, value}, stream);
}

cudaError_t scale_view(const View& dst, float s, cudaStream_t stream) {
  return launch_walk(dst, Scale{dst, s}, stream);
}

cudaError_t leaky_relu_backward_view(const View& dz, const View& dy, const View& y, float slope, cudaStream_t stream) {
  return launch_walk(dz, LeakyReluBackward{dz, dy, y, slope}, stream);
}

}  // namespace microsr::cuda
