// The CPU backend's training operations: Adam / AdamW against values printed by torch.optim
// (1.13) and against the closed form in double; EMA, fill, scale, sum of squares, L1 loss and the
// elementwise gradients through the backend interface, on channel slices; the convolution
// gradients through the backend (the dense block's slices). The kernels themselves are checked
// against finite differences and the references in test_backward_cpu.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cpu/optim/optimizer.h"
#include "microsr/backend.h"
#include "test_helpers.h"

namespace microsr::kernels {
namespace {

using testing::absolute;
using testing::random_values;

// ---- Adam / AdamW -------------------------------------------------------------------------

// torch.optim.Adam(W)(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd) on
// p = [0.5, -1, 2, 0] with grads [0.1,-0.2,0.3,0], [-0.05,0.4,0.1,1e-3], [0.2,0,-0.3,-0.5]: the
// values printed by torch 1.13 (param, exp_avg, exp_avg_sq after the third step).
struct TorchAdamCase {
  float weight_decay;
  bool decoupled;
  float param[4], m[4], v[4];
};
const TorchAdamCase kTorchAdam[] = {
    {0.0f,
     false,
     {0.480755508f, -0.996491015f, 1.98080552f, -0.00106463768f},
     {0.0236000009f, 0.0197999999f, 0.00329999952f, -0.0499100015f},
     {5.24775132e-05f, 0.000199760048f, 0.000189810118f, 0.000250001001f}},
    {0.1f,
     false,
     {0.475223541f, -0.989500523f, 1.97424448f, -0.00106462184f},
     {0.0368934944f, -0.00711543066f, 0.0572142936f, -0.0499844104f},
     {8.41262663e-05f, 0.00019014228f, 0.000349207112f, 0.000250745681f}},
    {0.1f,
     true,
     {0.479279667f, -0.993510425f, 1.97484028f, -0.00105719641f},
     {0.0236000009f, 0.0197999999f, 0.00329999952f, -0.0499100015f},
     {5.24775132e-05f, 0.000199760048f, 0.000189810118f, 0.000250001001f}},
};
const float kAdamGrads[3][4] = {{0.1f, -0.2f, 0.3f, 0.0f}, {-0.05f, 0.4f, 0.1f, 1e-3f}, {0.2f, 0.0f, -0.3f, -0.5f}};

TEST(Optimizer, AdamMatchesTorch) {
  for (const TorchAdamCase& c : kTorchAdam) {
    float p[4] = {0.5f, -1.0f, 2.0f, 0.0f}, m[4] = {}, v[4] = {};
    AdamStep step;
    step.lr = 0.01, step.weight_decay = c.weight_decay, step.decoupled = c.decoupled;
    for (int t = 1; t <= 3; ++t) {
      step.t = t;
      adam_step_ref(p, m, v, kAdamGrads[t - 1], 4, step);
    }
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(p[i], c.param[i], 2e-7) << "wd " << c.weight_decay << " decoupled " << c.decoupled << " #" << i;
      EXPECT_NEAR(m[i], c.m[i], 1e-8) << "#" << i;
      EXPECT_NEAR(v[i], c.v[i], 1e-10) << "#" << i;
    }
  }
}

// The AVX2 loops against the references, on a length with a tail (n % 8 != 0).
TEST(Optimizer, Avx2LoopsMatchReferences) {
  const int64_t n = 1003;
  for (bool decoupled : {false, true}) {
    auto p_ref = random_values(n, 91), m_ref = random_values(n, 92, -0.01f, 0.01f);
    auto v_ref = random_values(n, 93, 0.0f, 1e-4f);
    auto p = p_ref, m = m_ref, v = v_ref;
    AdamStep step;
    step.lr = 2e-4, step.weight_decay = 0.01, step.decoupled = decoupled;
    for (int t = 1; t <= 4; ++t) {
      const auto g = random_values(n, 100 + t, -0.05f, 0.05f);
      step.t = t;
      adam_step_ref(p_ref.data(), m_ref.data(), v_ref.data(), g.data(), n, step);
      adam_step_fast(p.data(), m.data(), v.data(), g.data(), n, step);
    }
    for (int64_t i = 0; i < n; ++i) {
      // Same operations; only a contracted multiply-add may round differently (|p| <= ~1).
      ASSERT_NEAR(p[i], p_ref[i], 4e-7) << "element " << i;
      ASSERT_NEAR(m[i], m_ref[i], 1e-8) << "element " << i;
      ASSERT_NEAR(v[i], v_ref[i], 1e-10) << "element " << i;
    }
  }
  const auto x = random_values(n, 99);
  EXPECT_NEAR(sum_squares_fast(x.data(), n), sum_squares_ref(x.data(), n), 1e-12 * n);
}

// The closed form in double, many steps, a large buffer through the backend (threads, chunks).
TEST(Optimizer, AdamMatchesClosedFormThroughBackend) {
  auto backend = make_cpu_backend();
  const int64_t n = 100003;
  for (bool decoupled : {false, true}) {
    Tensor param = Tensor::empty({n}), m = Tensor::zeros({n}), v = Tensor::zeros({n}), grad = Tensor::empty({n});
    const auto p0 = random_values(n, 41);
    std::copy(p0.begin(), p0.end(), param.f32());
    std::vector<double> p(p0.begin(), p0.end()), md(n, 0.0), vd(n, 0.0);
    AdamStep step;
    step.lr = 1e-3, step.beta1 = 0.8, step.beta2 = 0.99, step.eps = 1e-6;
    step.weight_decay = 0.05, step.decoupled = decoupled;
    for (int t = 1; t <= 5; ++t) {
      const auto g = random_values(n, 50 + t, -2e-2f, 2e-2f);
      std::copy(g.begin(), g.end(), grad.f32());
      step.t = t;
      backend->adam_step(param, m, v, grad, step);
      const double b1 = step.beta1, b2 = step.beta2, lr = step.lr, wd = step.weight_decay;
      for (int64_t i = 0; i < n; ++i) {
        if (decoupled) p[i] *= 1 - lr * wd;
        const double gi = g[i] + (decoupled ? 0.0 : wd * p[i]);
        md[i] = b1 * md[i] + (1 - b1) * gi;
        vd[i] = b2 * vd[i] + (1 - b2) * gi * gi;
        const double mhat = md[i] / (1 - std::pow(b1, t)), vhat = vd[i] / (1 - std::pow(b2, t));
        p[i] -= lr * mhat / (std::sqrt(vhat) + step.eps);
      }
    }
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(param.f32()[i] - p[i]));
    EXPECT_LT(worst, 1e-6) << (decoupled ? "AdamW" : "Adam");  // |p| <= 1: a few float ulps
  }
  Tensor a = Tensor::zeros({4}), b = Tensor::zeros({5});
  AdamStep step;
  microsr::testing::expect_error([&] { backend->adam_step(a, a, a, b, step); }, "one size");
  step.t = 0;
  microsr::testing::expect_error([&] { backend->adam_step(a, a, a, a, step); }, "1-based");
}

// ---- the backend's flat ops, loss and conv gradients on channel slices ---------------------

TEST(BackendTraining, EmaFillScaleSumSquares) {
  auto backend = make_cpu_backend();
  const int64_t n = 70001;
  Tensor ema = Tensor::empty({n}), param = Tensor::empty({n});
  backend->fill(ema, 2.0f);
  backend->fill(param, -1.0f);
  for (int i = 0; i < 10; ++i) backend->ema_update(ema, param, 0.9);
  // ema_k = p + decay^k (ema_0 − p)
  const double expected = -1.0 + std::pow(0.9, 10) * 3.0;
  EXPECT_NEAR(ema.f32()[0], expected, 1e-5);
  EXPECT_NEAR(ema.f32()[n - 1], expected, 1e-5);
  backend->scale(param, -0.5f);
  EXPECT_DOUBLE_EQ(backend->sum_squares(param), 0.25 * n);

  // On a channel slice only the slice changes.
  Tensor t = Tensor::zeros({2, 4, 3, 5});
  Tensor slice = t.channel_slice(1, 2);
  backend->fill(slice, 3.0f);
  backend->scale(slice, 2.0f);
  EXPECT_DOUBLE_EQ(backend->sum_squares(t), 36.0 * 2 * 2 * 15);
  EXPECT_DOUBLE_EQ(backend->sum_squares(slice), 36.0 * 2 * 2 * 15);
  EXPECT_EQ(t.f32()[0], 0.0f);
  EXPECT_EQ(t.f32()[15], 6.0f);
}

TEST(BackendTraining, L1LossOnSlicesMatchesReference) {
  auto backend = make_cpu_backend();
  Tensor pred_parent = Tensor::empty({3, 5, 40, 50}), target = Tensor::empty({3, 3, 40, 50});
  const auto pv = random_values(pred_parent.numel(), 61), tv = random_values(target.numel(), 62);
  std::copy(pv.begin(), pv.end(), pred_parent.f32());
  std::copy(tv.begin(), tv.end(), target.f32());
  Tensor pred = pred_parent.channel_slice(1, 3);
  Tensor grad = Tensor::empty(pred.shape());
  double expected = 0;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3 * 2000; ++j) expected += std::fabs(double(pred.image(i)[j] - target.image(i)[j]));
  expected /= pred.numel();
  EXPECT_NEAR(backend->l1_loss(&grad, pred, target), expected, 1e-12);
  EXPECT_NEAR(backend->l1_loss(nullptr, pred, target), expected, 1e-12);
  const float step = 1.0f / float(pred.numel());
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3 * 2000; j += 7) {
      const float diff = pred.image(i)[j] - target.image(i)[j];
      ASSERT_EQ(grad.image(i)[j], diff > 0 ? step : -step);
    }
  microsr::testing::expect_error([&] { backend->l1_loss(nullptr, pred_parent, target); }, "shapes differ");
}

TEST(BackendTraining, ElementwiseGradientsOnSlices) {
  auto backend = make_cpu_backend();
  const int n = 2, c = 3, h = 5, w = 7;
  Tensor parent = Tensor::empty({n, c + 2, 2 * h, 2 * w});
  const auto values = random_values(parent.numel(), 71);
  std::copy(values.begin(), values.end(), parent.f32());
  Tensor dy = parent.channel_slice(1, c);

  Tensor dx = Tensor::empty({n, c, h, w});
  backend->upsample_nearest2x_backward(dx, dy);
  Tensor y = Tensor::empty(dy.shape()), dz = Tensor::empty(dy.shape());
  backend->pixel_shuffle(y, Tensor::empty({n, c * 4, h, w}), 2);  // shape check only
  Tensor y_act = Tensor::empty(dy.shape());
  std::copy(values.rbegin(), values.rbegin() + y_act.numel(), y_act.f32());
  backend->leaky_relu_backward(dz, dy, y_act, 0.2f);
  for (int i = 0; i < n; ++i) {
    std::vector<float> expected(size_t(c) * h * w), expected_dz(size_t(c) * 4 * h * w);
    upsample_nearest2x_backward_ref(expected.data(), dy.image(i), c, h, w);
    for (size_t j = 0; j < expected.size(); ++j) ASSERT_EQ(dx.image(i)[j], expected[j]);
    leaky_relu_backward_ref(expected_dz.data(), dy.image(i), y_act.image(i), 0.2f, expected_dz.size());
    for (size_t j = 0; j < expected_dz.size(); ++j) ASSERT_EQ(dz.image(i)[j], expected_dz[j]);
  }
  // pixel_shuffle from a slice of channels, then back with pixel_unshuffle.
  Tensor shuffled = Tensor::empty({n, 1, 2 * h, 2 * w});
  Tensor source = Tensor::empty({n, 4, h, w});
  std::copy(values.begin(), values.begin() + source.numel(), source.f32());
  backend->pixel_shuffle(shuffled, source, 2);
  Tensor back = Tensor::empty(source.shape());
  backend->pixel_unshuffle(back, shuffled, 2);
  EXPECT_EQ(microsr::testing::values(back), microsr::testing::values(source));
  microsr::testing::expect_error(
      [&] {
        backend->pixel_shuffle(shuffled, Tensor::empty({n, 3, h, w}), 2);
      },
      "divisible");
  microsr::testing::expect_error([&] { backend->upsample_nearest2x_backward(dx, parent); }, "twice");
}

// Convolution gradients through the backend: dx accumulates into a channel slice of a wider
// gradient buffer (the dense block's case), x is a channel slice of the concatenation.
TEST(BackendTraining, ConvGradientsOnChannelSlices) {
  auto backend = make_cpu_backend();
  // Two shapes: the backend runs the direct weight gradient for few channels, Winograd for many.
  for (auto [cin, cout] : {std::pair{6, 5}, std::pair{12, 17}}) {
    const int n = 2, h = 9, w = 10, k = 3;
    Tensor concat = Tensor::empty({n, cin + 3, h, w}), grad_concat = Tensor::empty({n, cin + 3, h, w});
    Tensor dy = Tensor::empty({n, cout, h, w}), weight = Tensor::empty({cout, cin, k, k});
    for (auto [t, seed] : {std::pair{&concat, 81u}, {&grad_concat, 82u}, {&dy, 83u}, {&weight, 84u}}) {
      const auto v = random_values(t->numel(), seed);
      std::copy(v.begin(), v.end(), t->f32());
    }
    Tensor x = concat.channel_slice(2, cin), dx = grad_concat.channel_slice(1, cin);
    const Tensor dx_before = dx.clone();
    backend->conv2d_backward_data(dx, dy, weight, /*accumulate=*/true);
    Tensor dw = Tensor::zeros({cout, cin, k, k}), db = Tensor::zeros({cout});
    backend->conv2d_backward_weight(dw, db, x, dy);
    std::vector<float> expected_dw(dw.numel(), 0.0f), expected_db(cout, 0.0f);
    for (int i = 0; i < n; ++i) {
      std::vector<float> expected(dx_before.image(i), dx_before.image(i) + cin * h * w);
      conv2d_backward_data_ref(expected.data(), dy.image(i), weight.f32(), cin, cout, h, w, k, true);
      // Winograd's error: ~1e-6 of the sum of |terms| (here up to ~60).
      for (size_t j = 0; j < expected.size(); ++j) ASSERT_NEAR(dx.image(i)[j], expected[j], 2e-4) << j;
      conv2d_backward_weight_ref(expected_dw.data(), expected_db.data(), x.image(i), dy.image(i), cin, cout, h, w, k);
    }
    for (size_t j = 0; j < expected_dw.size(); ++j) ASSERT_NEAR(dw.f32()[j], expected_dw[j], 2e-4) << j;
    for (int j = 0; j < cout; ++j) ASSERT_NEAR(db.f32()[j], expected_db[j], 1e-4) << j;

    Tensor no_bias;
    microsr::testing::expect_error([&] { backend->conv2d_backward_weight(dw, no_bias, dy, dy); }, "dw");
    microsr::testing::expect_error([&] { backend->conv2d_backward_data(dy, dy, weight, false); }, "dx is");
    // dx and dy may be different channels of one buffer (the dense block's gradient), not the same.
    Tensor both = Tensor::empty({n, cin + cout, h, w});
    Tensor dx_part = both.channel_slice(0, cin), dy_part = both.channel_slice(cin, cout);
    std::fill_n(both.f32(), both.numel(), 0.0f);
    backend->conv2d_backward_data(dx_part, dy_part, weight, false);
    Tensor dy_overlapping = both.channel_slice(cin - 1, cout);
    microsr::testing::expect_error([&] { backend->conv2d_backward_data(dx_part, dy_overlapping, weight, false); },
                                   "share memory");
  }
}

}  // namespace
}  // namespace microsr::kernels
