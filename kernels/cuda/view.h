// View: how the CUDA kernels see a tensor. An NCHW-indexed 4-D block of device memory with any
// element strides and an element type (float or IEEE half), so that one kernel serves NCHW f32,
// NHWC f16, channel slices of either (batch stride ≠ C·H·W) and packed weights alike:
//   element (n, c, h, w) is at data + n·sn + c·sc + h·sh + w·sw   (in elements).
// Plain data, shared by the host code (src/backend) and the kernels (passed by value).
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define MICROSR_HOST_DEVICE __host__ __device__
#else
#define MICROSR_HOST_DEVICE
#endif

namespace microsr::cuda {

struct View {
  void* data = nullptr;
  bool half = false;  // elements are __half (else float)
  int n = 0, c = 0, h = 0, w = 0;
  int64_t sn = 0, sc = 0, sh = 0, sw = 0;

  MICROSR_HOST_DEVICE int64_t count() const { return int64_t(n) * c * h * w; }
  // Channels innermost in memory (NHWC): kernels then walk c fastest so that warps coalesce.
  MICROSR_HOST_DEVICE bool channels_last() const { return sc == 1 && c > 1; }
  MICROSR_HOST_DEVICE int64_t offset(int in, int ic, int ih, int iw) const {
    return in * sn + ic * sc + ih * sh + iw * sw;
  }
};

// Dense views of a [n][c][h][w] block starting at `data`.
inline View nchw_view(void* data, bool half, int n, int c, int h, int w) {
  View v;
  v.data = data, v.half = half, v.n = n, v.c = c, v.h = h, v.w = w;
  v.sw = 1, v.sh = w, v.sc = int64_t(h) * w, v.sn = int64_t(c) * h * w;
  return v;
}
// NHWC with `pixel_stride` ≥ c values per pixel (the extra ones are padding or other channels).
inline View nhwc_view(void* data, bool half, int n, int c, int h, int w, int pixel_stride) {
  View v;
  v.data = data, v.half = half, v.n = n, v.c = c, v.h = h, v.w = w;
  v.sc = 1, v.sw = pixel_stride, v.sh = int64_t(w) * pixel_stride, v.sn = int64_t(h) * w * pixel_stride;
  return v;
}

}  // namespace microsr::cuda
