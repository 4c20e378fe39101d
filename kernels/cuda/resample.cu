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

// dx: [n][c][h][w], dy: [n][c][2h][2w]; summed in the order (0,0) (0,1) (1,0) (1,1), as the CPU
struct Upsample2xBackward {
  View dx, dy;
  __device__ void operator()(int n, int c, int h, int w) const {
    float s = load(dy, dy.offset(n, c, 2 * h, 2 * w));
    s = __fadd_rn(s, load(dy, dy.offset(n, c, 2 * h, 2 * w + 1)));
    s = __fadd_rn(s, load(dy, dy.offset(n, c, 2 * h + 1, 2 * w)));
    s = __fadd_rn(s, load(dy, dy.offset(n, c, 2 * h + 1, 2 * w + 1)));
    store(dx, dx.offset(n, c, h, w), s);
  }
};

// y: [n][c·r²][h/r][w/r], x: [n][c][h][w]
struct PixelUnshuffle {
  View y, x;
  int r;
  __device__ void operator()(int n, int oc, int oh, int ow) const {
    const int c = oc / (r * r), i = (oc / r) % r, j = oc % r;
    store(y, y.offset(n, oc, oh, ow), load(x, x.offset(n, c, oh * r + i, ow * r + j)));
  }
};

// y: [n][c][h·r][w·r], x: [n][c·r²][h][w]
struct PixelShuffle {
  View y, x;
  int r;
  __device__ void operator()(int n, int c, int h, int w) const {
    const int i = h % r, j = w % r;
    store(y, y.offset(n, c, h, w), load(x, x.offset(n, (c * r + i) * r + j, h / r, w / r)));
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
