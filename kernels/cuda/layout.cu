// Layout and element-type conversion: one kernel copies any view into any other of the same
// n, c, h, w — NCHW f32 → NHWC f16 at the network's input, NHWC f16 → NCHW f32 at its output
// (to_host), channel slices to dense buffers and back, convolution weights into the padded
// [Cout][k][k][Cin] half layout tensor cores read. Walks the destination in its memory order,
// so writes coalesce; reads coalesce too when both sides share a layout.
#include "common.cuh"
#include "elementwise.h"

namespace microsr::cuda {
namespace {

// dst, src: [n][c][h][w] views of the same shape
struct Copy {
  View dst, src;
  float scale;
  __device__ void operator()(int n, int c, int h, int w) const {
    float v = load(src, src.offset(n, c, h, w));
    if (scale != 1.f) v = __fmul_rn(v, scale);
    store(dst, dst.offset(n, c, h, w), v);
  }
};

}  // namespace

cudaError_t copy_view(const View& dst, const View& src, float scale, cudaStream_t stream) {
  if (dst.n != src.n || dst.c != src.c || dst.h != src.h || dst.w != src.w) return cudaErrorInvalidValue;
  return launch_walk(dst, Copy{dst, src, scale}, stream);
}

}  // namespace microsr::cuda
