#include "cuda_tensor.h"

#include <algorithm>
#include <climits>
#include <cstdint>

namespace microsr {

namespace {
void require_int(int64_t d, const Tensor& t, const char* what) {
  require(d <= INT_MAX, std::string(what) + ": " + t.describe() + " is too large for the CUDA kernels' 32-bit sizes");
}

std::size_t element_bytes(const cuda::View& v) { return v.half ? 2 : 4; }

// [first, last] byte addresses the view touches (empty views: first > last).
std::pair<uintptr_t, uintptr_t> byte_range(const cuda::View& v) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(v.data);
  if (v.count() == 0) return {1, 0};
  const int64_t last = (v.n - 1) * v.sn + (v.c - 1) * v.sc + (v.h - 1) * v.sh + (v.w - 1) * v.sw;
  return {base, base + uintptr_t(last) * element_bytes(v) + element_bytes(v) - 1};
}
}  // namespace

cuda::View view_of(const Tensor& t, const char* what) {
  require(t.defined() && t.rank() == 4 && (t.dtype() == DType::f32 || t.dtype() == DType::f16),
          std::string(what) + ": expected an f32 or f16 NCHW tensor, found " + t.describe());
  for (int i = 0; i < 4; ++i) require_int(t.dim(i), t, what);
  cuda::View v;
  v.data = t.raw();
  v.half = t.dtype() == DType::f16;
  v.n = int(t.dim(0)), v.c = int(t.dim(1)), v.h = int(t.dim(2)), v.w = int(t.dim(3));
  v.sn = t.batch_stride();
  if (t.layout() == Layout::nhwc) {
    // A slice keeps its parent's pixel stride: the parent's channel count = batch stride / (H·W).
    const int64_t plane = int64_t(v.h) * v.w;
    const int64_t pixel = plane ? v.sn / plane : v.c;
    v.sc = 1, v.sw = pixel, v.sh = pixel * v.w;
  } else {
    v.sw = 1, v.sh = v.w, v.sc = int64_t(v.h) * v.w;
  }
  return v;
}

cuda::View flat_view_of(const Tensor& t, const char* what) {
  require(t.defined() && (t.dtype() == DType::f32 || t.dtype() == DType::f16) && t.is_contiguous(),
          std::string(what) + ": expected a dense f32 or f16 tensor, found " + t.describe());
  require_int(t.numel(), t, what);
  cuda::View v;
  v.data = t.raw();
  v.half = t.dtype() == DType::f16;
  v.n = v.c = v.h = 1;
  v.w = int(t.numel());
  v.sw = 1, v.sh = v.sc = v.sn = v.w;
  return v;
}

std::string view_str(const cuda::View& v) {
  return std::string(v.half ? "f16" : "f32") + "[" + std::to_string(v.n) + ", " + std::to_string(v.c) + ", " +
         std::to_string(v.h) + ", " + std::to_string(v.w) + "] strides (" + std::to_string(v.sn) + ", " +
         std::to_string(v.sc) + ", " + std::to_string(v.sh) + ", " + std::to_string(v.sw) + ")";
}

bool view_packed(const cuda::View& v) {
  const int64_t chw = int64_t(v.c) * v.h * v.w;
  const bool nchw = v.sw == 1 && v.sh == v.w && v.sc == int64_t(v.h) * v.w && (v.n == 1 || v.sn == chw);
  const bool nhwc = v.sc == 1 && v.sw == v.c && v.sh == int64_t(v.w) * v.c && (v.n == 1 || v.sn == chw);
  return nchw || nhwc;
}

int view_alignment(const cuda::View& v) {
  // The unit-stride dimension is the one vectors run along; every other dimension's step must
  // keep a vector's start aligned.
  uint64_t bits = reinterpret_cast<uintptr_t>(v.data) | 16;
  const std::size_t e = element_bytes(v);
  const auto step = [&](int size, int64_t stride) {
    if (size > 1 && stride != 1) bits |= uint64_t(stride) * e;
  };
  step(v.n, v.sn), step(v.c, v.sc), step(v.h, v.sh), step(v.w, v.sw);
  return int(bits & (~bits + 1));  // lowest set bit
}

bool views_disjoint(const cuda::View& a, const cuda::View& b) {
  const auto [a0, a1] = byte_range(a);
  const auto [b0, b1] = byte_range(b);
  if (a0 > a1 || b0 > b1 || a1 < b0 || b1 < a0) return true;
  // Two channel slices of one buffer: same strides and type, pointers a whole number of channels
  // apart, channel ranges that do not meet, and channels that stay inside one pixel / plane.
  if (a.half != b.half || a.sn != b.sn || a.sc != b.sc || a.sh != b.sh || a.sw != b.sw) return false;
  const int64_t e = int64_t(element_bytes(a));
  const int64_t diff = int64_t(reinterpret_cast<uintptr_t>(b.data)) - int64_t(reinterpret_cast<uintptr_t>(a.data));
  if (a.sc <= 0 || diff % (a.sc * e) != 0) return false;
  const int64_t shift = diff / (a.sc * e);  // b's first channel, counted from a's
  const bool apart = shift >= a.c || shift + b.c <= 0;
  const int64_t span = std::max<int64_t>(a.c, shift + b.c) - std::min<int64_t>(0, shift);
  int64_t next_stride = INT64_MAX;  // the smallest stride larger than the channel stride
  for (int64_t s : {a.sn, a.sh, a.sw})
    if (s > a.sc) next_stride = std::min(next_stride, s);
  return apart && span * a.sc <= next_stride;
}

}  // namespace microsr
