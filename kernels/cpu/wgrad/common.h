// Shared by the weight-gradient kernels (conv2d_backward_weight*.cpp): zero-padded copies of a
// whole batch of x and dy, filled with one work-sharing loop (one barrier, not one per image).
#pragma once
#include <cstdint>

#include "cpu/conv/common.h"
#include "cpu/wgrad/variants.h"

namespace microsr::kernels::detail {

// One batched tensor to pad: image i, channel c of `source` goes to plane i·channels + c of
// `padded` (a layout from layout_padded_input for n·channels planes), at (pad_top, pad_left);
// everything else in the plane is zeroed, and `tail_slack` floats after the last plane too.
struct BatchPadding {
  PaddedInput padded;
  ImageBatch source;
  int channels = 0, pad_top = 0, pad_left = 0;
  int64_t tail_slack = 0;
};

// Whether a layer is big enough for a parallel region (~1-5 us to start and join, more on a busy
// machine): at least ~0.5 MFLOP of direct-convolution work.
inline bool worth_threads(int n, int cin, int cout, int h, int w, int k) {
  return int64_t(n) * cin * cout * h * w * k * k >= (int64_t(1) << 18);
}

// Throws unless n, cin, cout, h, w >= 1 and k is odd, naming every size: every variant's check.
void check_wgrad_sizes(int n, int cin, int cout, int h, int w, int k);

// Fills both paddings for n images of h x w. Work-shares the planes with an orphaned `omp for`:
// call it from every thread of a parallel region (it ends with a barrier).
void fill_padded_batches(const BatchPadding& first, const BatchPadding& second, int n, int h, int w);

}  // namespace microsr::kernels::detail
