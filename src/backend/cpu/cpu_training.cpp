// The CPU backend's training operations: argument checks, then the kernels of kernels/cpu over the
// batch. Convolution gradients run the optimized kernels (kernels/cpu/dgrad, kernels/cpu/wgrad), Adam and the sum of
// squares their AVX2 loops (optimizer.h); the other elementwise ops and the loss run the reference
// loops of kernels/cpu/ref (the compiler vectorizes them; they are memory-bound). All flat loops
// are split over threads in chunks.
#include "backend/cpu/cpu_training.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_checks.h"
#include "cpu/cpu_kernels.h"
#include "cpu/dgrad/dgrad.h"
#include "cpu/optim/optimizer.h"
#include "cpu/threads.h"
#include "cpu/wgrad/variants.h"

namespace microsr::cpu_training {
namespace {

using cpu_checks::expect_f32_cpu;
using cpu_checks::expect_nchw_f32_cpu;
using cpu_checks::expect_same_shape;
using kernels::team_size;

// Elementwise ops see their same-shaped operands as `images` ranges of `per_image` floats: one
// range when every operand is dense, image by image when one is a channel slice.
struct FlatView {
  int64_t images = 1, per_image = 0;
};

FlatView flat_view(std::initializer_list<const Tensor*> operands) {
  const Tensor& first = **operands.begin();
  for (const Tensor* t : operands)
    if (!t->is_contiguous()) return {t->dim(0), t->numel() / t->dim(0)};
  return {1, first.numel()};
}

float* range(const Tensor& t, const FlatView& view, int64_t image) {
  return view.images == 1 ? t.f32() : t.image(image);
}

constexpr int64_t kChunk = 1 << 15;  // floats per work item

// fn(image, begin, count) over chunks of at most kChunk floats, in parallel when it is worth it.
template <class Fn>
void for_each_chunk(const FlatView& view, Fn&& fn) {
  const int64_t per_image = (view.per_image + kChunk - 1) / kChunk, total = view.images * per_image;
#pragma omp parallel for num_threads(team_size()) schedule(static) if (view.images * view.per_image >= 2 * kChunk)
  for (int64_t c = 0; c < total; ++c) {
    const int64_t image = c / per_image, begin = (c % per_image) * kChunk;
    fn(image, begin, std::min(kChunk, view.per_image - begin));
  }
}

// Σ fn(image, begin, count) over the same chunks (a deterministic order for a given thread count).
template <class Fn>
double sum_over_chunks(const FlatView& view, Fn&& fn) {
  const int64_t per_image = (view.per_image + kChunk - 1) / kChunk, total = view.images * per_image;
  double sum = 0.0;
#pragma omp parallel for num_threads(team_size()) schedule(static) reduction(+ : sum) if (view.images * view.per_image >= 2 * kChunk)
  for (int64_t c = 0; c < total; ++c) {
    const int64_t image = c / per_image, begin = (c % per_image) * kChunk;
    sum += fn(image, begin, std::min(kChunk, view.per_image - begin));
  }
  return sum;
}

void expect_conv_weight(const Tensor& w, const char* what) {
  expect_f32_cpu(w, what);
  require(w.rank() == 4 && w.dim(2) == w.dim(3) && w.dim(2) % 2 == 1 && w.is_contiguous(),
          std::string(what) + ": expected a dense [Cout, Cin, k, k] weight with odd k, found " + w.describe());
}

kernels::ImageBatch batch_of(const Tensor& t) { return {t.f32(), t.batch_stride()}; }

// Whether two NCHW tensors share any element. Each image is a dense block, so it compares the
// images' spans: channel slices of one buffer that take different channels do not overlap.
bool overlaps(const Tensor& a, const Tensor& b) {
  const int64_t a_size = a.numel() / a.dim(0), b_size = b.numel() / b.dim(0);
  for (int64_t i = 0; i < a.dim(0); ++i)
    for (int64_t j = 0; j < b.dim(0); ++j)
      if (a.image(i) < b.image(j) + b_size && b.image(j) < a.image(i) + a_size) return true;
  return false;
}

}  // namespace

void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, bool accumulate) {
  expect_nchw_f32_cpu(dx, "conv2d_backward_data dx");
  expect_nchw_f32_cpu(dy, "conv2d_backward_data dy");
  expect_conv_weight(w, "conv2d_backward_data weight");
  const int64_t n = dy.dim(0), cout = dy.dim(1), h = dy.dim(2), wd = dy.dim(3);
  const int64_t cin = w.dim(1), k = w.dim(2);
  require(w.dim(0) == cout, "conv2d_backward_data: weight " + w.describe() + " does not fit dy " + dy.describe() +
                                " (weight's Cout must be dy's channels)");
  require(dx.shape() == Shape({n, cin, h, wd}),
          "conv2d_backward_data: dx is " + dx.describe() + ", expected " + shape_str({n, cin, h, wd}));
  require(!overlaps(dx, dy),
          "conv2d_backward_data: dx and dy share memory; the gradient of a "
          "convolution's input must go to a buffer of its own");
  kernels::conv2d_backward_data({dx.f32(), dx.batch_stride()}, batch_of(dy), w.f32(), int(n), int(cin), int(cout),
                                int(h), int(wd), int(k), accumulate);
}

void conv2d_backward_weight(Tensor& dw, Tensor& db, const Tensor& x, const Tensor& dy) {
  expect_nchw_f32_cpu(x, "conv2d_backward_weight x");
  expect_nchw_f32_cpu(dy, "conv2d_backward_weight dy");
  expect_conv_weight(dw, "conv2d_backward_weight dw");
  const int64_t n = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t cout = dw.dim(0), k = dw.dim(2);
  require(dw.dim(1) == cin, "conv2d_backward_weight: dw " + dw.describe() + " does not fit x " + x.describe() +
                                " (dw's Cin must be x's channels)");
  require(dy.shape() == Shape({n, cout, h, wd}),
          "conv2d_backward_weight: dy is " + dy.describe() + ", expected " + shape_str({n, cout, h, wd}));
  if (db.defined()) {
    expect_f32_cpu(db, "conv2d_backward_weight db");
    require(db.numel() == cout && db.is_contiguous(), "conv2d_backward_weight: db " + db.describe() + " does not fit " +
                                                          std::to_string(cout) + " output channels");
  }
  kernels::conv2d_backward_weight_best(int(cin), int(cout), int(k))
      .fn(dw.f32(), db.defined() ? db.f32() : nullptr, batch_of(x), batch_of(dy), int(n), int(cin), int(cout), int(h),
          int(wd), int(k));
}

void leaky_relu_backward(Tensor& dz, const Tensor& dy, const Tensor& y, float slope) {
  expect_f32_cpu(dz, "leaky_relu_backward dz");
  expect_f32_cpu(dy, "leaky_relu_backward dy");
  expect_f32_cpu(y, "leaky_relu_backward y");
  expect_same_shape(dz, dy, "leaky_relu_backward dz, dy");
  expect_same_shape(dz, y, "leaky_relu_backward dz, y");
  const FlatView view = flat_view({&dz, &dy, &y});
  for_each_chunk(view, [&](int64_t i, int64_t begin, int64_t count) {
    kernels::leaky_relu_backward_ref(range(dz, view, i) + begin, range(dy, view, i) + begin, range(y, view, i) + begin,
                                     slope, count);
  });
}

void upsample_nearest2x_backward(Tensor& dx, const Tensor& dy) {
  expect_nchw_f32_cpu(dx, "upsample_nearest2x_backward dx");
  expect_nchw_f32_cpu(dy, "upsample_nearest2x_backward dy");
  const int64_t n = dx.dim(0), c = dx.dim(1), h = dx.dim(2), w = dx.dim(3);
  require(dy.shape() == Shape({n, c, 2 * h, 2 * w}),
          "upsample_nearest2x_backward: dy " + dy.describe() + " is not twice dx " + dx.describe());
#pragma omp parallel for num_threads(team_size()) collapse(2) schedule(static) if (dx.numel() >= kChunk)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      kernels::upsample_nearest2x_backward_ref(dx.image(i) + ch * h * w, dy.image(i) + ch * 4 * h * w, 1, int(h),
                                               int(w));
}

void pixel_shuffle(Tensor& y, const Tensor& x, int r) {
  expect_nchw_f32_cpu(y, "pixel_shuffle output");
  expect_nchw_f32_cpu(x, "pixel_shuffle input");
  require(r >= 1 && x.dim(1) % (int64_t(r) * r) == 0, "pixel_shuffle by " + std::to_string(r) +
                                                          " needs channels divisible by " + std::to_string(r * r) +
                                                          ", got " + x.describe());
  const int64_t n = x.dim(0), c = x.dim(1) / (r * r), h = x.dim(2), w = x.dim(3);
  require(y.shape() == Shape({n, c, h * r, w * r}), "pixel_shuffle output " + y.describe() + " does not fit " +
                                                        x.describe() + " (expected " + shape_str({n, c, h * r, w * r}) +
                                                        ")");
#pragma omp parallel for num_threads(team_size()) collapse(2) schedule(static) if (y.numel() >= kChunk)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      kernels::pixel_shuffle_ref(y.image(i) + ch * h * w * r * r, x.image(i) + ch * r * r * h * w, 1, int(h), int(w),
                                 r);
}

double l1_loss(Tensor* dpred, const Tensor& pred, const Tensor& target) {
  expect_f32_cpu(pred, "l1_loss prediction");
  expect_f32_cpu(target, "l1_loss target");
  expect_same_shape(pred, target, "l1_loss prediction, target");
  require(pred.numel() > 0, "l1_loss: the prediction is empty");
  if (dpred) {
    expect_f32_cpu(*dpred, "l1_loss gradient");
    expect_same_shape(*dpred, pred, "l1_loss gradient, prediction");
  }
  const FlatView view = dpred ? flat_view({&pred, &target, dpred}) : flat_view({&pred, &target});
  const float grad_scale = static_cast<float>(1.0 / static_cast<double>(pred.numel()));
  const double sum = sum_over_chunks(view, [&](int64_t i, int64_t begin, int64_t count) {
    return kernels::l1_loss_ref(dpred ? range(*dpred, view, i) + begin : nullptr, range(pred, view, i) + begin,
                                range(target, view, i) + begin, count, grad_scale);
  });
  return sum / static_cast<double>(pred.numel());
}

double sum_squares(const Tensor& t) {
  expect_f32_cpu(t, "sum_squares");
  const FlatView view = flat_view({&t});
  return sum_over_chunks(view, [&](int64_t i, int64_t begin, int64_t count) {
    return kernels::sum_squares_fast(range(t, view, i) + begin, count);
  });
}

void fill(Tensor& t, float value) {
  expect_f32_cpu(t, "fill");
  const FlatView view = flat_view({&t});
  for_each_chunk(
      view, [&](int64_t i, int64_t begin, int64_t count) { std::fill_n(range(t, view, i) + begin, count, value); });
}

void scale(Tensor& t, float s) {
  expect_f32_cpu(t, "scale");
  const FlatView view = flat_view({&t});
  for_each_chunk(view, [&](int64_t i, int64_t begin, int64_t count) {
    float* p = range(t, view, i) + begin;
    for (int64_t j = 0; j < count; ++j) p[j] *= s;
  });
}

void adam_step(Tensor& param, Tensor& m, Tensor& v, const Tensor& grad, const AdamStep& step) {
  for (const Tensor* t : std::initializer_list<const Tensor*>{&param, &m, &v, &grad}) {
    expect_f32_cpu(*t, "adam_step");
    require(t->is_contiguous() && t->numel() == param.numel(),
            "adam_step: parameters, moments and gradients must be dense buffers of one size; "
            "found " +
                param.describe() + " and " + t->describe());
  }
  require(step.t >= 1, "adam_step: the step number t is 1-based, found " + std::to_string(step.t));
  require(
      step.beta1 >= 0.f && step.beta1 < 1.f && step.beta2 >= 0.f && step.beta2 < 1.f,
      "adam_step: betas must lie in [0, 1), found " + std::to_string(step.beta1) + ", " + std::to_string(step.beta2));
  const FlatView view{1, param.numel()};
  for_each_chunk(view, [&](int64_t, int64_t begin, int64_t count) {
    kernels::adam_step_fast(param.f32() + begin, m.f32() + begin, v.f32() + begin, grad.f32() + begin, count, step);
  });
}

void ema_update(Tensor& ema, const Tensor& param, double decay) {
  expect_f32_cpu(ema, "ema_update average");
  expect_f32_cpu(param, "ema_update parameters");
  require(ema.is_contiguous() && param.is_contiguous() && ema.numel() == param.numel(),
          "ema_update: expected dense buffers of one size, found " + ema.describe() + " and " + param.describe());
  const FlatView view{1, ema.numel()};
  for_each_chunk(view, [&](int64_t, int64_t begin, int64_t count) {
    kernels::ema_update_ref(ema.f32() + begin, param.f32() + begin, decay, count);
  });
}

}  // namespace microsr::cpu_training
