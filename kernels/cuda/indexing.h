// The index arithmetic of the CUDA kernels as plain host/device code: the walk every elementwise
// kernel runs (common.cuh), the gathers of pixel_(un)shuffle (resample.cu) and the NCHW-order
// element offsets of the reductions (reduce.cu). No CUDA headers: tests/test_cuda_kernel_logic.cpp
// runs exactly this code on the CPU, emulating the grid, against kernels/cpu/ref.
//
// The walk: grid.y steps over "rows", grid.x × threads over the elements of a row, in the
// destination's memory order so that consecutive threads touch consecutive addresses:
//   NHWC destination (channels_last): row = (n, h), inner index = w·C + c   (c fastest)
//   otherwise (NCHW):                 row = (n, c), inner index = h·W + w   (a whole plane: a
//                                     narrow image still fills every thread of a block)
// A row costs two divisions once per block; an element one 32-bit division (the inner index
// fits an int: launch_walk refuses rows of more than INT_MAX elements). Offsets are 64-bit
// (a 6400×4800×64 map is ~2^31 elements).
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>

#include "view.h"

namespace microsr::cuda {

constexpr int kThreads = 256;
constexpr int64_t kMaxWalkBlocksX = 4096;  // per row; threads loop over longer rows
constexpr int64_t kMaxGridY = 65535;       // the hardware's gridDim.y limit; blocks loop over rows

struct Walk {
  bool channels_last = false;
  int c = 1, h = 1, w = 1;
  int64_t rows = 0;
  int64_t inner = 0;  // elements per row; ≤ INT_MAX when launched
};

inline Walk make_walk(const View& dst) {
  Walk k;
  k.channels_last = dst.channels_last();
  k.c = dst.c, k.h = dst.h, k.w = dst.w;
  k.rows = k.channels_last ? int64_t(dst.n) * dst.h : int64_t(dst.n) * dst.c;
  k.inner = k.channels_last ? int64_t(dst.w) * dst.c : int64_t(dst.h) * dst.w;
  return k;
}

// The launch shape of a walk: blocks along a row (x) and rows (y), both capped.
struct WalkGrid {
  unsigned x = 1, y = 1;
};
inline WalkGrid walk_grid(const Walk& k) {
  const int64_t x = (k.inner + kThreads - 1) / kThreads;
  return {unsigned(std::max<int64_t>(1, std::min<int64_t>(x, kMaxWalkBlocksX))),
          unsigned(std::max<int64_t>(1, std::min<int64_t>(k.rows, kMaxGridY)))};
}

// One thread's share of the walk: rows row0, row0 + row_step, …; in each, elements
// i0, i0 + i_step, … . Calls op(n, c, h, w) per element. (The kernel passes blockIdx.y,
// gridDim.y, its global x index and the x extent of the grid.)
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <class Op>
MICROSR_HOST_DEVICE void walk_thread(const Walk& k, int64_t row0, int64_t row_step, int64_t i0, int64_t i_step,
                                     const Op& op) {
  for (int64_t row = row0; row < k.rows; row += row_step) {
    // channels_last: row = (n, h); otherwise row = (n, c)
    const int n = int(row / (k.channels_last ? k.h : k.c)), r = int(row % (k.channels_last ? k.h : k.c));
    for (int64_t i = i0; i < k.inner; i += i_step) {
      const int e = int(i);  // < inner ≤ INT_MAX: 32-bit division
      if (k.channels_last)
        op(n, e % k.c, r, e / k.c);
      else
        op(n, r, e / k.w, e % k.w);
    }
  }
}

// Where an output element of pixel_unshuffle / pixel_shuffle by r comes from (NCHW indices).
struct Source {
  int c, h, w;
};
// y[n][c·r² + i·r + j][oh][ow] = x[n][c][oh·r + i][ow·r + j]
MICROSR_HOST_DEVICE inline Source pixel_unshuffle_source(int oc, int oh, int ow, int r) {
  return {oc / (r * r), oh * r + (oc / r) % r, ow * r + oc % r};
}
// y[n][c][h][w] = x[n][(c·r + h % r)·r + w % r][h / r][w / r]
MICROSR_HOST_DEVICE inline Source pixel_shuffle_source(int c, int h, int w, int r) {
  return {(c * r + h % r) * r + w % r, h / r, w / r};
}

// The offset of element i of v counted in NCHW order (w fastest), for flat loops over any view.
// Dense NCHW views (the common case: flat parameter and gradient buffers) skip the divisions.
MICROSR_HOST_DEVICE inline bool dense_nchw(const View& v) {
  return v.sw == 1 && v.sh == v.w && v.sc == int64_t(v.h) * v.w && (v.n <= 1 || v.sn == int64_t(v.c) * v.h * v.w);
}
MICROSR_HOST_DEVICE inline int64_t nchw_order_offset(const View& v, bool dense, int64_t i) {
  if (dense) return i;
  const int w = int(i % v.w);
  i /= v.w;
  const int h = int(i % v.h);
  i /= v.h;
  const int c = int(i % v.c);
  return v.offset(int(i / v.c), c, h, w);
}

}  // namespace microsr::cuda
