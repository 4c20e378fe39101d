// Reductions: Σ t², Σ |p − t| (with the L1 gradient), per-channel sums (bias gradient), and the
// NaN/Inf count that turns an fp16 overflow into an error instead of a black image.
#include "common.cuh"
#include "reduce.h"

namespace microsr::cuda {
namespace {

// The sum of v over the block, valid in thread 0. Call at most once per kernel.
__device__ double block_sum(double v) {
  __shared__ double per_warp[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) per_warp[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? per_warp[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

// partials: [gridDim.x]; t: [n][c][h][w]
__global__ void sum_squares_kernel(double* partials, View t) {
  const bool dense = dense_nchw(t);
  double s = 0;
  MICROSR_FLAT_LOOP(i, t.count()) {
    const double x = load(t, nchw_order_offset(t, dense, i));
    s += x * x;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// partials: [gridDim.x]; dpred, pred, target: [n][c][h][w]
__global__ void l1_kernel(double* partials, View dpred, View pred, View target, float grad_scale) {
  const bool pred_dense = dense_nchw(pred), target_dense = dense_nchw(target), dpred_dense = dense_nchw(dpred);
  double s = 0;
  MICROSR_FLAT_LOOP(i, pred.count()) {
    const float d = __fsub_rn(load(pred, nchw_order_offset(pred, pred_dense, i)),
                              load(target, nchw_order_offset(target, target_dense, i)));
    s += fabs(double(d));
    if (dpred.data)
      store(dpred, nchw_order_offset(dpred, dpred_dense, i), d > 0.f ? grad_scale : d < 0.f ? -grad_scale : 0.f);
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// result: [1]; partials: [count]; one block
__global__ void sum_partials_kernel(double* result, const double* partials, int count) {
  double s = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *result = s;
}

// db: [c]; dy: [n][c][h][w]; one block per channel
__global__ void channel_sum_kernel(float* db, View dy) {
  const int c = blockIdx.x;
  const int64_t per_channel = int64_t(dy.n) * dy.h * dy.w;
  double s = 0;
  for (int64_t j = threadIdx.x; j < per_channel; j += blockDim.x) {
    const int w = int(j % dy.w);
    const int64_t nh = j / dy.w;
    s += load(dy, dy.offset(int(nh / dy.h), c, int(nh % dy.h), w));
  }
  s = block_sum(s);
  if (threadIdx.x == 0) db[c] += float(s);
}

// v: [n][c][h][w]
struct CountNonfinite {
  View v;
  unsigned long long* count;
  __device__ void operator()(int n, int c, int h, int w) const {
    if (!isfinite(load(v, v.offset(n, c, h, w)))) atomicAdd(count, 1ull);
  }
};

unsigned reduce_grid(int64_t n) { return unsigned(std::min<int64_t>(kMaxPartials, flat_grid(n))); }

}  // namespace

cudaError_t sum_squares_view(double* result, double* partials, const View& t, cudaStream_t stream) {
  const unsigned blocks = reduce_grid(t.count());
  sum_squares_kernel<<<blocks, kThreads, 0, stream>>>(partials, t);
  sum_partials_kernel<<<1, kThreads, 0, stream>>>(result, partials, int(blocks));
  return cudaGetLastError();
}

cudaError_t l1_view(double* result, double* partials, const View& dpred, const View& pred, const View& target,
                    float grad_scale, cudaStream_t stream) {
  const unsigned blocks = reduce_grid(pred.count());
  l1_kernel<<<blocks, kThreads, 0, stream>>>(partials, dpred, pred, target, grad_scale);
  sum_partials_kernel<<<1, kThreads, 0, stream>>>(result, partials, int(blocks));
  return cudaGetLastError();
}

cudaError_t channel_sum_accumulate(float* db, const View& dy, cudaStream_t stream) {
  if (dy.c == 0) return cudaSuccess;
  if (dy.c > 65535) return cudaErrorInvalidValue;
  channel_sum_kernel<<<dy.c, kThreads, 0, stream>>>(db, dy);
  return cudaGetLastError();
}

cudaError_t count_nonfinite(unsigned long long* count, const View& v, cudaStream_t stream) {
  return launch_walk(v, CountNonfinite{v, count}, stream);
}

}  // namespace microsr::cuda
