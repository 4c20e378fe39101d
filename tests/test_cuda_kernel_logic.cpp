// The CUDA kernels' index arithmetic (kernels/cuda/indexing.h), run on the CPU: the walk that
// every elementwise kernel launches, emulated block by block with the real (capped) grid, must
// visit each element of a view exactly once; pixel_(un)shuffle's gathers through strided views
// must reproduce kernels/cpu/ref; the reductions' NCHW-order offsets must match View::offset.
// The same functions run on the GPU, so these tests need no device.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cuda/indexing.h"

namespace microsr {
namespace {

// Runs walk_thread for every thread of the grid the launcher would use.
template <class Op>
void emulate_walk(const cuda::View& dst, const Op& op) {
  const cuda::Walk k = cuda::make_walk(dst);
  const cuda::WalkGrid g = cuda::walk_grid(k);
  const int64_t threads_x = int64_t(g.x) * cuda::kThreads;
  for (int64_t by = 0; by < g.y; ++by)
    for (int64_t tx = 0; tx < threads_x; ++tx) cuda::walk_thread(k, by, g.y, tx, threads_x, op);
}

// A view of `parent_c` channels in `layout`, narrowed to channels [c0, c0 + c), at element 0.
cuda::View slice_view(bool nhwc, int n, int parent_c, int h, int w, int c0, int c) {
  cuda::View v = nhwc ? cuda::nhwc_view(nullptr, false, n, parent_c, h, w, parent_c)
                      : cuda::nchw_view(nullptr, false, n, parent_c, h, w);
  v.c = c;
  v.data = reinterpret_cast<void*>(uintptr_t(c0 * v.sc));  // an offset, in elements
  return v;
}

int64_t base(const cuda::View& v) { return int64_t(reinterpret_cast<uintptr_t>(v.data)); }

void expect_walk_covers_once(const cuda::View& v, int64_t buffer_elements, const char* what) {
  std::vector<uint8_t> hits(buffer_elements, 0);
  int64_t calls = 0;
  bool in_range = true;
  emulate_walk(v, [&](int n, int c, int h, int w) {
    ++calls;
    if (n < 0 || n >= v.n || c < 0 || c >= v.c || h < 0 || h >= v.h || w < 0 || w >= v.w) {
      in_range = false;
      return;
    }
    const int64_t o = base(v) + v.offset(n, c, h, w);
    if (hits[o] < 255) ++hits[o];
  });
  EXPECT_TRUE(in_range) << what;
  EXPECT_EQ(calls, v.count()) << what;
  // Every element of the view once; nothing else in the buffer.
  for (int n = 0; n < v.n; ++n)
    for (int c = 0; c < v.c; ++c)
      for (int h = 0; h < v.h; ++h)
        for (int w = 0; w < v.w; ++w) {
          uint8_t& hit = hits[base(v) + v.offset(n, c, h, w)];
          ASSERT_EQ(hit, 1) << what << " element " << n << "," << c << "," << h << "," << w;
          hit = 0;
        }
  for (int64_t i = 0; i < buffer_elements; ++i) ASSERT_EQ(hits[i], 0) << what << ": stray write at " << i;
}

TEST(CudaKernelLogic, WalkVisitsEveryElementOnce) {
  expect_walk_covers_once(cuda::nchw_view(nullptr, false, 2, 3, 5, 7), 2 * 3 * 5 * 7, "NCHW [2][3][5][7]");
  expect_walk_covers_once(slice_view(true, 2, 96, 5, 7, 64, 32), 2 * 96 * 5 * 7, "NHWC slice [64, 96) of 96");
  expect_walk_covers_once(slice_view(false, 2, 10, 3, 5, 2, 3), 2 * 10 * 3 * 5, "NCHW slice [2, 5) of 10");
  expect_walk_covers_once(slice_view(true, 1, 8, 3, 4, 0, 3), 8 * 3 * 4, "3 channels of an NHWC pixel of 8");
  // More rows than gridDim.y allows (blocks loop over rows) and a row longer than the x cap.
  expect_walk_covers_once(cuda::nchw_view(nullptr, false, 2, 35000, 1, 3), 2 * 35000 * 3, "70000 NCHW rows");
  expect_walk_covers_once(cuda::nhwc_view(nullptr, false, 1, 2, 70000, 1, 2), 2 * 70000, "70000 NHWC rows");
  expect_walk_covers_once(cuda::nchw_view(nullptr, false, 1, 2, 700, 3), 2 * 700 * 3, "a narrow NCHW image");
  expect_walk_covers_once(cuda::nhwc_view(nullptr, false, 1, 64, 1, 20000, 64), 64 * 20000, "a row of 1.28M elements");
  EXPECT_EQ(cuda::walk_grid(cuda::make_walk(cuda::nchw_view(nullptr, false, 2, 35000, 1, 3))).y, 65535u);
}

TEST(CudaKernelLogic, WalkIsInMemoryOrderOfTheDestination) {
  // Consecutive threads of a row write consecutive addresses (coalescing), NHWC and NCHW.
  for (const bool nhwc : {true, false}) {
    const cuda::View v = slice_view(nhwc, 1, 16, 3, 5, 0, 16);
    const cuda::Walk k = cuda::make_walk(v);
    for (int64_t t = 0; t + 1 < k.inner; ++t) {
      int64_t o[2];
      for (int j = 0; j < 2; ++j)
        cuda::walk_thread(k, 1, k.rows, t + j, k.inner,
                          [&](int n, int c, int h, int w) { o[j] = v.offset(n, c, h, w); });
      ASSERT_EQ(o[1], o[0] + 1) << (nhwc ? "NHWC" : "NCHW") << " thread " << t;
    }
  }
}

std::vector<float> random_values(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// NCHW-order values of a view over `data`.
std::vector<float> read_nchw(const cuda::View& v, const std::vector<float>& data) {
  std::vector<float> out;
  for (int n = 0; n < v.n; ++n)
    for (int c = 0; c < v.c; ++c)
      for (int h = 0; h < v.h; ++h)
        for (int w = 0; w < v.w; ++w) out.push_back(data[base(v) + v.offset(n, c, h, w)]);
  return out;
}

TEST(CudaKernelLogic, PixelUnshuffleGatherMatchesReference) {
  for (const int r : {2, 3, 4}) {
    const int n = 2, c = 3, h = 3 * r, w = 2 * r, oc = c * r * r, oh = h / r, ow = w / r;
    const std::vector<float> x = random_values(int64_t(n) * c * h * w, 7 + r);
    const cuda::View xv = cuda::nchw_view(nullptr, false, n, c, h, w);
    // The output NHWC inside a wider buffer, as an fp16 activation slice would be.
    const cuda::View yv = slice_view(true, n, oc + 5, oh, ow, 5, oc);
    std::vector<float> y(int64_t(n) * (oc + 5) * oh * ow, 0.f);
    emulate_walk(yv, [&](int in, int ic, int ih, int iw) {
      const cuda::Source s = cuda::pixel_unshuffle_source(ic, ih, iw, r);
      y[base(yv) + yv.offset(in, ic, ih, iw)] = x[xv.offset(in, s.c, s.h, s.w)];
    });
    std::vector<float> want(int64_t(n) * oc * oh * ow);
    for (int i = 0; i < n; ++i)
      kernels::pixel_unshuffle_ref(want.data() + int64_t(i) * oc * oh * ow, x.data() + int64_t(i) * c * h * w, c, h, w,
                                   r);
    EXPECT_EQ(read_nchw(yv, y), want) << "r = " << r;
  }
}

TEST(CudaKernelLogic, PixelShuffleGatherMatchesReference) {
  for (const int r : {2, 3}) {
    const int n = 2, c = 2, h = 3, w = 5, ic = c * r * r;
    // The input an NHWC slice of a wider buffer, the output NCHW.
    const cuda::View xv = slice_view(true, n, ic + 3, h, w, 3, ic);
    const std::vector<float> x = random_values(int64_t(n) * (ic + 3) * h * w, 11 + r);
    const cuda::View yv = cuda::nchw_view(nullptr, false, n, c, h * r, w * r);
    std::vector<float> y(yv.count(), 0.f);
    emulate_walk(yv, [&](int in, int oc, int oh, int ow) {
      const cuda::Source s = cuda::pixel_shuffle_source(oc, oh, ow, r);
      y[yv.offset(in, oc, oh, ow)] = x[base(xv) + xv.offset(in, s.c, s.h, s.w)];
    });
    const std::vector<float> xs = read_nchw(xv, x);  // the input as a dense NCHW block
    std::vector<float> want(yv.count());
    for (int i = 0; i < n; ++i)
      kernels::pixel_shuffle_ref(want.data() + int64_t(i) * c * h * r * w * r, xs.data() + int64_t(i) * ic * h * w, c,
                                 h, w, r);
    EXPECT_EQ(y, want) << "r = " << r;
  }
}

TEST(CudaKernelLogic, ReductionOffsetsFollowNchwOrder) {
  const cuda::View views[] = {
      cuda::nchw_view(nullptr, false, 2, 3, 5, 7),     // dense: the shortcut
      cuda::nchw_view(nullptr, false, 1, 1, 1, 1000),  // a flat parameter buffer
      slice_view(false, 1, 10, 3, 5, 2, 3),            // an NCHW slice of one image is dense too
      slice_view(false, 2, 10, 3, 5, 2, 3),
      slice_view(true, 2, 96, 5, 7, 64, 32),
      slice_view(true, 2, 3, 5, 7, 0, 3),  // dense NHWC is not dense in NCHW order
  };
  const bool dense[] = {true, true, true, false, false, false};
  for (int k = 0; k < 6; ++k) {
    const cuda::View& v = views[k];
    EXPECT_EQ(cuda::dense_nchw(v), dense[k]) << "view " << k;
    int64_t i = 0;
    for (int n = 0; n < v.n; ++n)
      for (int c = 0; c < v.c; ++c)
        for (int h = 0; h < v.h; ++h)
          for (int w = 0; w < v.w; ++w, ++i) {
            ASSERT_EQ(cuda::nchw_order_offset(v, false, i), v.offset(n, c, h, w)) << "view " << k << " at " << i;
            if (dense[k]) {
              ASSERT_EQ(cuda::nchw_order_offset(v, true, i), v.offset(n, c, h, w)) << "view " << k;
            }
          }
  }
}

}  // namespace
}  // namespace microsr
