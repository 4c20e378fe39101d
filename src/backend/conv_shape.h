// The shape rules every backend's conv2d checks (include/microsr/backend.h):
// y[N][Cout][H][W] = conv_same(x[N][Cin][H][W], w[Cout][Cin][k][k], b[Cout]), k odd.
#pragma once
#include <cstdint>
#include <string>

#include "microsr/error.h"
#include "microsr/tensor.h"

namespace microsr {

struct Conv2dShape {
  int64_t n, cin, cout, h, w, k;
};

// The sizes of a conv2d call; throws an Error naming the tensors that do not fit.
inline Conv2dShape check_conv2d_shapes(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t n = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
  require(w.rank() == 4 && w.dim(1) == cin && w.dim(2) == w.dim(3) && w.dim(2) % 2 == 1,
          "conv2d weight " + w.describe() + " does not fit input " + x.describe());
  const int64_t cout = w.dim(0), k = w.dim(2);
  require(y.shape() == Shape({n, cout, h, wd}),
          "conv2d output is " + y.describe() + ", expected " + shape_str({n, cout, h, wd}));
  require(!b.defined() || b.numel() == cout,
          "conv2d bias " + b.describe() + " does not fit " + std::to_string(cout) + " output channels");
  return {n, cin, cout, h, wd, k};
}

}  // namespace microsr
