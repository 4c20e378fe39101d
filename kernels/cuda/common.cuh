// Helpers shared by the CUDA kernels (kernels/cuda/*.cu): element loads and stores through a
// View (float or half, any strides), and the one launch shape every elementwise kernel uses.
//
// The walk: grid.y steps over "rows", grid.x × threads over the elements of a row, in the
// destination's memory order so that consecutive threads touch consecutive addresses:
//   NHWC destination (channels_last): row = (n, h), inner index = w·C + c   (c fastest)
//   otherwise (NCHW):                 row = (n, c, h), inner index = w
// A row costs two divisions once per block; an element one 32-bit division at most. Index
// arithmetic is 64-bit where it multiplies strides (a 6400×4800×64 map is ~2^31 elements).
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "view.h"

namespace microsr::cuda {

constexpr int kThreads = 256;

__device__ __forceinline__ float load(const View& v, int64_t offset) {
  return v.half ? __half2float(static_cast<const __half*>(v.data)[offset]) : static_cast<const float*>(v.data)[offset];
}

__device__ __forceinline__ void store(const View& v, int64_t offset, float x) {
  if (v.half)
    static_cast<__half*>(v.data)[offset] = __float2half_rn(x);
  else
    static_cast<float*>(v.data)[offset] = x;
}

struct Walk {
  bool channels_last = false;
  int c = 1, h = 1;
  int64_t rows = 0;
  int inner = 0;
};

inline Walk make_walk(const View& dst) {
  Walk k;
  k.channels_last = dst.channels_last();
  k.c = dst.c, k.h = dst.h;
  k.rows = k.channels_last ? int64_t(dst.n) * dst.h : int64_t(dst.n) * dst.c * dst.h;
  k.inner = k.channels_last ? dst.w * dst.c : dst.w;
  return k;
}

inline dim3 walk_grid(const Walk& k) {
  const int64_t x = (int64_t(k.inner) + kThreads - 1) / kThreads;
  return dim3(unsigned(std::max<int64_t>(1, std::min<int64_t>(x, 4096))),
              unsigned(std::max<int64_t>(1, std::min<int64_t>(k.rows, 65535))));
}

// Calls op(n, c, h, w) once for every element of the walk's destination.
template <class Op>
__global__ void walk_kernel(Walk k, Op op) {
  for (int64_t row = blockIdx.y; row < k.rows; row += gridDim.y) {
    int n, c = 0, h;
    if (k.channels_last) {
      n = int(row / k.h), h = int(row % k.h);
    } else {
      const int64_t nc = row / k.h;
      h = int(row % k.h), c = int(nc % k.c), n = int(nc / k.c);
    }
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < k.inner; i += gridDim.x * blockDim.x) {
      if (k.channels_last)
        op(n, i % k.c, h, i / k.c);
      else
        op(n, c, h, i);
    }
  }
}

// Launches op over every element of `dst` (nothing for an empty view); returns the launch status.
template <class Op>
cudaError_t launch_walk(const View& dst, const Op& op, cudaStream_t stream) {
  if (dst.count() == 0) return cudaSuccess;
  const Walk k = make_walk(dst);
  walk_kernel<<<walk_grid(k), kThreads, 0, stream>>>(k, op);
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
