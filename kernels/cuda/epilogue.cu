// The convolution epilogue as one pass over the output: bias, LeakyReLU, scale and the residual
// add in registers, converting type and layout on the way (acc may be a packed NHWC half buffer
// and y an NCHW float tensor, or a channel slice of the dense block's buffer).
#include "common.cuh"
#include "epilogue.h"

namespace microsr::cuda {
namespace {

// y, acc, residual: [n][c][h][w] views; bias: [c]
struct Epilogue {
  EpilogueParams p;
  __device__ void operator()(int n, int c, int h, int w) const {
    float v = load(p.acc, p.acc.offset(n, c, h, w));
    if (p.bias) v = __fadd_rn(v, p.bias[c]);
    if (p.lrelu && v < 0.f) v = __fmul_rn(v, p.slope);
    if (p.scale != 1.f) v = __fmul_rn(v, p.scale);
    if (p.residual.data) v = __fadd_rn(v, load(p.residual, p.residual.offset(n, c, h, w)));
    store(p.y, p.y.offset(n, c, h, w), v);
  }
};

}  // namespace

cudaError_t conv_epilogue(const EpilogueParams& p, cudaStream_t stream) {
  return launch_walk(p.y, Epilogue{p}, stream);
}

}  // namespace microsr::cuda
