// Nearest ×2 upsampling (and its gradient), pixel_unshuffle / pixel_shuffle: gathers, one thread
// per output element, walking the output in its memory order (common.cuh).
#include "common.cuh"
#include "resample.h"

namespace microsr::cuda {
namespace {

// y: [n][c][2h][2w], x: [n][c][h][w]
struct Upsample2x {
  View y, x;
  __device__ void operator()(int n, int c, int h, int w) const {
    store(y, y.offset(n, c, h, w), load(x, x.offset(n, c, h >> 1, w >> 1)));
  }
};

// dx: [n][c][h][w], dy: [n][c][2h][2w]; summed as the CPU reference, (top row) + (bottom row):
// (dy[2h][2w] + dy[2h][2w+1]) + (dy[2h+1][2w] + dy[2h+1][2w+1]), so fp32 results are bit-identical
struct Upsample2xBackward {
  View dx, dy;
  __device__ void operator()(int n, int c, int h, int w) const {
    const float top = __fadd_rn(load(dy, dy.offset(n, c, 2 * h, 2 * w)), load(dy, dy.offset(n, c, 2 * h, 2 * w + 1)));
    const float bottom =
        __fadd_rn(load(dy, dy.offset(n, c, 2 * h + 1, 2 * w)), load(dy, dy.offset(n, c, 2 * h + 1, 2 * w + 1)));
    store(dx, dx.offset(n, c, h, w), __fadd_rn(top, bottom));
  }
};

// y: [n][c·r²][h/r][w/r], x: [n][c][h][w]
struct PixelUnshuffle {
  View y, x;
  int r;
  __device__ void operator()(int n, int oc, int oh, int ow) const {
    const Source s = pixel_unshuffle_source(oc, oh, ow, r);  // indexing.h
    store(y, y.offset(n, oc, oh, ow), load(x, x.offset(n, s.c, s.h, s.w)));
  }
};

// y: [n][c][h·r][w·r], x: [n][c·r²][h][w]
struct PixelShuffle {
  View y, x;
  int r;
  __device__ void operator()(int n, int c, int h, int w) const {
    const Source s = pixel_shuffle_source(c, h, w, r);  // indexing.h
    store(y, y.offset(n, c, h, w), load(x, x.offset(n, s.c, s.h, s.w)));
  }
};

}  // namespace

cudaError_t upsample_nearest2x_view(const View& y, const View& x, cudaStream_t stream) {
  return launch_walk(y, Upsample2x{y, x}, stream);
}

cudaError_t upsample_nearest2x_backward_view(const View& dx, const View& dy, cudaStream_t stream) {
  return launch_walk(dx, Upsample2xBackward{dx, dy}, stream);
}

cudaError_t pixel_unshuffle_view(const View& y, const View& x, int r, cudaStream_t stream) {
  return launch_walk(y, PixelUnshuffle{y, x, r}, stream);
}

cudaError_t pixel_shuffle_view(const View& y, const View& x, int r, cudaStream_t stream) {
  return launch_walk(y, PixelShuffle{y, x, r}, stream);
}

}  // namespace microsr::cuda
