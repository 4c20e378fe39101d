// Memory-bound elementwise kernels: one thread per output element, grid-stride loops so any
// size launches with a bounded grid. Each op: __global__ kernel → launcher (elementwise.h).
#include "elementwise.h"

namespace microsr::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return unsigned(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

// y, a, b: [n]
__global__ void scaled_add_kernel(float* y, const float* a, float s, const float* b, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = a[i] * s + b[i];
}

// y: [c][2h][2w], x: [c][h][w]; thread per output element
__global__ void upsample_nearest2x_kernel(float* y, const float* x, int c, int h, int w) {
  const int64_t n = int64_t(c) * 4 * h * w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % (2 * w), oy = (i / (2 * w)) % (2 * h), ch = i / (4 * int64_t(h) * w);
    y[i] = x[(ch * h + oy / 2) * w + ox / 2];
  }
}

// y: [c·r·r][h/r][w/r], x: [c][h][w]; thread per output element
__global__ void pixel_unshuffle_kernel(float* y, const float* x, int c, int h, int w, int r) {
  const int oh = h / r, ow = w / r;
  const int64_t n = int64_t(c) * h * w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % ow, oy = (i / ow) % oh, oc = i / (int64_t(oh) * ow);
    const int64_t ch = oc / (r * r), di = (oc / r) % r, dj = oc % r;
    y[i] = x[(ch * h + oy * r + di) * w + ox * r + dj];
  }
}

// y, x: [n]
__global__ void leaky_relu_kernel(float* y, const float* x, float slope, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = x[i] >= 0.f ? x[i] : x[i] * slope;
}

}  // namespace

cudaError_t scaled_add(float* y, const float* a, float s, const float* b, int64_t n, cudaStream_t stream) {
  scaled_add_kernel<<<grid_for(n), kThreads, 0, stream>>>(y, a, s, b, n);
  return cudaGetLastError();
}

cudaError_t upsample_nearest2x(float* y, const float* x, int c, int h, int w, cudaStream_t stream) {
  upsample_nearest2x_kernel<<<grid_for(int64_t(c) * 4 * h * w), kThreads, 0, stream>>>(y, x, c, h, w);
  return cudaGetLastError();
}

cudaError_t pixel_unshuffle(float* y, const float* x, int c, int h, int w, int r, cudaStream_t stream) {
  pixel_unshuffle_kernel<<<grid_for(int64_t(c) * h * w), kThreads, 0, stream>>>(y, x, c, h, w, r);
  return cudaGetLastError();
}

cudaError_t leaky_relu(float* y, const float* x, float slope, int64_t n, cudaStream_t stream) {
  leaky_relu_kernel<<<grid_for(n), kThreads, 0, stream>>>(y, x, slope, n);
  return cudaGetLastError();
}

}  // namespace microsr::cuda
