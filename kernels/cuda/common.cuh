// Helpers shared by the CUDA kernels (kernels/cuda/*.cu): element loads and stores through a
// View (float or half, any strides), and the one launch shape every elementwise kernel uses (the
// walk: its index arithmetic is in indexing.h, shared with the CPU test of it).
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "indexing.h"
#include "view.h"

namespace microsr::cuda {

__device__ __forceinline__ float load(const View& v, int64_t offset) {
  return v.half ? __half2float(static_cast<const __half*>(v.data)[offset]) : static_cast<const float*>(v.data)[offset];
}

__device__ __forceinline__ void store(const View& v, int64_t offset, float x) {
  if (v.half)
    static_cast<__half*>(v.data)[offset] = __float2half_rn(x);
  else
    static_cast<float*>(v.data)[offset] = x;
}

// Calls op(n, c, h, w) once for every element of the walk's destination (indexing.h).
template <class Op>
__global__ void walk_kernel(Walk k, Op op) {
  walk_thread(k, blockIdx.y, gridDim.y, int64_t(blockIdx.x) * blockDim.x + threadIdx.x, int64_t(gridDim.x) * blockDim.x,
              op);
}

// Launches op over every element of `dst` (nothing for an empty view); returns the launch status
// (cudaErrorInvalidValue for a row of more than INT_MAX elements: W·C ≥ 2^31 in NHWC).
template <class Op>
cudaError_t launch_walk(const View& dst, const Op& op, cudaStream_t stream) {
  if (dst.count() == 0) return cudaSuccess;
  const Walk k = make_walk(dst);
  if (k.inner > INT_MAX) return cudaErrorInvalidValue;
  const WalkGrid g = walk_grid(k);
  walk_kernel<<<dim3(g.x, g.y), kThreads, 0, stream>>>(k, op);
  return cudaGetLastError();
}

// A bounded 1-D grid for flat loops over n elements (grid-stride inside the kernel).
inline unsigned flat_grid(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535 * 8)));
}

#define MICROSR_FLAT_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

}  // namespace microsr::cuda
