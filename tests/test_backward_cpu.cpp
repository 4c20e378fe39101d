// CPU gradients: (1) every reference gradient against central finite differences of a
// double-precision forward written here, (2) every optimized convolution gradient against the
// reference on odd shapes (batches, channel slices, accumulate on/off). The optimizer and the
// backend's training ops are in test_training_ops_cpu.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cpu/dgrad/dgrad.h"
#include "cpu/wgrad/variants.h"
#include "test_helpers.h"

namespace microsr::kernels {
namespace {

using testing::absolute;
using testing::random_values;

// ---- (1) references against finite differences ------------------------------------------------

// The forward ops in double, written independently of kernels/cpu/ref.
std::vector<double> conv_forward(const std::vector<double>& x, const std::vector<double>& wt,
                                 const std::vector<double>& bias, int cin, int cout, int h, int w, int k) {
  std::vector<double> y(size_t(cout) * h * w);
  for (int co = 0; co < cout; ++co)
    for (int oy = 0; oy < h; ++oy)
      for (int ox = 0; ox < w; ++ox) {
        double sum = bias.empty() ? 0.0 : bias[co];
        for (int ci = 0; ci < cin; ++ci)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int iy = oy + ky - k / 2, ix = ox + kx - k / 2;
              if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                sum += wt[((size_t(co) * cin + ci) * k + ky) * k + kx] * x[(size_t(ci) * h + iy) * w + ix];
            }
        y[(size_t(co) * h + oy) * w + ox] = sum;
      }
  return y;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

double dot(const std::vector<double>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// ∂L/∂v[i] by central differences, L = loss(v), for every i; step h.
std::vector<double> numeric_gradient(std::vector<double> v, double step,
                                     const std::function<double(const std::vector<double>&)>& loss) {
  std::vector<double> grad(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double keep = v[i];
    v[i] = keep + step;
    const double up = loss(v);
    v[i] = keep - step;
    const double down = loss(v);
    v[i] = keep;
    grad[i] = (up - down) / (2 * step);
  }
  return grad;
}

void expect_gradient_near(const std::vector<float>& got, const std::vector<double>& expected, double tolerance,
                          const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], tolerance) << what << ": element " << i;
}

struct SmallConv {
  int cin, cout, h, w, k;
};
const SmallConv kSmallConvs[] = {{2, 3, 4, 5, 3}, {3, 2, 1, 1, 3}, {2, 2, 3, 2, 1}, {2, 3, 4, 3, 5}};

// L = Σ r ⊙ conv(x, w, b): its gradients are the backward ops applied to dy = r.
TEST(BackwardRef, ConvGradientsMatchFiniteDifferences) {
  for (const SmallConv& c : kSmallConvs) {
    const std::string what = "cin=" + std::to_string(c.cin) + " cout=" + std::to_string(c.cout) + " " +
                             std::to_string(c.h) + "x" + std::to_string(c.w) + " k=" + std::to_string(c.k);
    const auto x = random_values(size_t(c.cin) * c.h * c.w, 1);
    const auto wt = random_values(size_t(c.cout) * c.cin * c.k * c.k, 2);
    const auto bias = random_values(c.cout, 3);
    const auto r = random_values(size_t(c.cout) * c.h * c.w, 4);
    const auto xd = to_double(x), wd = to_double(wt), bd = to_double(bias);

    const auto num_dx = numeric_gradient(xd, 1e-3, [&](const std::vector<double>& v) {
      return dot(conv_forward(v, wd, bd, c.cin, c.cout, c.h, c.w, c.k), r);
    });
    const auto num_dw = numeric_gradient(wd, 1e-3, [&](const std::vector<double>& v) {
      return dot(conv_forward(xd, v, bd, c.cin, c.cout, c.h, c.w, c.k), r);
    });
    const auto num_db = numeric_gradient(bd, 1e-3, [&](const std::vector<double>& v) {
      return dot(conv_forward(xd, wd, v, c.cin, c.cout, c.h, c.w, c.k), r);
    });

    std::vector<float> dx(x.size(), 0.5f);  // overwritten (accumulate = false)
    conv2d_backward_data_ref(dx.data(), r.data(), wt.data(), c.cin, c.cout, c.h, c.w, c.k, false);
    expect_gradient_near(dx, num_dx, 1e-5, "dx " + what);
    std::vector<float> dx_acc(x.size(), 0.5f), shifted(num_dx.size());
    for (size_t i = 0; i < shifted.size(); ++i) shifted[i] = float(num_dx[i] + 0.5);
    conv2d_backward_data_ref(dx_acc.data(), r.data(), wt.data(), c.cin, c.cout, c.h, c.w, c.k, true);
    expect_gradient_near(dx_acc, to_double(shifted), 1e-5, "dx accumulated " + what);

    std::vector<float> dw(wt.size(), 0.0f), db(bias.size(), 0.0f);
    conv2d_backward_weight_ref(dw.data(), db.data(), x.data(), r.data(), c.cin, c.cout, c.h, c.w, c.k);
    expect_gradient_near(dw, num_dw, 1e-5, "dw " + what);
    expect_gradient_near(db, num_db, 1e-5, "db " + what);
  }
}

TEST(BackwardRef, LeakyReluUpsampleShuffleMatchFiniteDifferences) {
  // LeakyReLU: inputs kept away from the kink at 0 so the differences see one branch.
  auto z = random_values(40, 5);
  for (float& v : z) v += v >= 0 ? 0.05f : -0.05f;
  const auto r = random_values(40, 6);
  const double slope = 0.2;
  const auto num = numeric_gradient(to_double(z), 1e-4, [&](const std::vector<double>& v) {
    double s = 0;
    for (size_t i = 0; i < v.size(); ++i) s += r[i] * (v[i] > 0 ? v[i] : slope * v[i]);
    return s;
  });
  std::vector<float> y(40), dz(40);
  leaky_relu_ref(y.data(), z.data(), 0.2f, 40);
  leaky_relu_backward_ref(dz.data(), r.data(), y.data(), 0.2f, 40);
  expect_gradient_near(dz, num, 1e-6, "leaky_relu_backward");
  std::vector<float> in_place = r;
  leaky_relu_backward_ref(in_place.data(), in_place.data(), y.data(), 0.2f, 40);
  EXPECT_EQ(in_place, dz);

  // Nearest ×2: L = Σ r ⊙ up(x), x [2][3][5].
  const int c = 2, h = 3, w = 5;
  const auto x = random_values(size_t(c) * h * w, 7);
  const auto r_up = random_values(size_t(c) * 4 * h * w, 8);
  const auto num_up = numeric_gradient(to_double(x), 1e-3, [&](const std::vector<double>& v) {
    double s = 0;
    for (int ch = 0; ch < c; ++ch)
      for (int oy = 0; oy < 2 * h; ++oy)
        for (int ox = 0; ox < 2 * w; ++ox)
          s += r_up[(ch * 2 * h + oy) * 2 * w + ox] * v[(ch * h + oy / 2) * w + ox / 2];
    return s;
  });
  std::vector<float> dx(x.size());
  upsample_nearest2x_backward_ref(dx.data(), r_up.data(), c, h, w);
  expect_gradient_near(dx, num_up, 1e-5, "upsample_nearest2x_backward");

  // pixel_shuffle is the gradient of pixel_unshuffle: L = Σ r ⊙ unshuffle(x, 2), x [2][4][6].
  const int uh = 4, uw = 6, rr = 2;
  const auto xu = random_values(size_t(c) * uh * uw, 9);
  const auto r_un = random_values(xu.size(), 10);
  // Step 0.25: the loss is linear and evaluated in float here, so a large step keeps it exact.
  const auto num_un = numeric_gradient(to_double(xu), 0.25, [&](const std::vector<double>& v) {
    std::vector<float> vf(v.begin(), v.end()), out(v.size());
    pixel_unshuffle_ref(out.data(), vf.data(), c, uh, uw, rr);
    return dot(to_double(out), r_un);
  });
  std::vector<float> dxu(xu.size());
  pixel_shuffle_ref(dxu.data(), r_un.data(), c, uh / rr, uw / rr, rr);
  expect_gradient_near(dxu, num_un, 1e-5, "pixel_shuffle as unshuffle's gradient");
}

// x = torch.arange(48.).reshape(1,8,2,3); F.pixel_shuffle(x, 2).flatten()[:16]
TEST(BackwardRef, PixelShuffleMatchesTorchAndInvertsUnshuffle) {
  std::vector<float> x(48), y(48), back(48);
  for (int i = 0; i < 48; ++i) x[i] = float(i);
  pixel_shuffle_ref(y.data(), x.data(), 2, 2, 3, 2);
  const float expected[16] = {0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20, 3, 9, 4, 10};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(y[i], expected[i]) << "element " << i;
  pixel_unshuffle_ref(back.data(), y.data(), 2, 4, 6, 2);
  EXPECT_EQ(back, x);
}

TEST(BackwardRef, L1LossValueAndGradient) {
  const float pred[5] = {1.0f, -2.0f, 0.5f, 3.0f, 0.25f};
  const float target[5] = {0.5f, -1.0f, 0.5f, 4.0f, -0.25f};
  float grad[5];
  // Σ|diff| = 0.5 + 1 + 0 + 1 + 0.5; gradient sign(diff)·scale, 0 at the tie (torch's sign(0)).
  EXPECT_DOUBLE_EQ(l1_loss_ref(grad, pred, target, 5, 0.2f), 3.0);
  const float expected[5] = {0.2f, -0.2f, 0.0f, -0.2f, 0.2f};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(grad[i], expected[i]) << "element " << i;
  EXPECT_DOUBLE_EQ(l1_loss_ref(nullptr, pred, target, 5, 0.2f), 3.0);
  EXPECT_DOUBLE_EQ(sum_squares_ref(pred, 5), 1 + 4 + 0.25 + 9 + 0.0625);
}

// ---- (2) optimized convolution gradients against the reference --------------------------------

struct BackwardCase {
  int n, cin, cout, h, w, k;
};

std::string describe(const BackwardCase& c) {
  char text[120];
  std::snprintf(text, sizeof text, "n=%d cin=%d cout=%d h=%d w=%d k=%d", c.n, c.cin, c.cout, c.h, c.w, c.k);
  return text;
}

std::vector<BackwardCase> backward_cases() {
  std::vector<BackwardCase> cases;
  for (int k : {1, 3})
    for (int cin : {5, 67})
      for (int cout : {3, 33})
        for (const auto& hw : {std::pair{13, 7}, std::pair{1, 1}, std::pair{2, 3}})
          cases.push_back({2, cin, cout, hw.first, hw.second, k});
  cases.push_back({2, 64, 32, 32, 32, 3});  // a dense-block conv at training patch size
  cases.push_back({1, 3, 64, 37, 45, 3});   // conv_first-like
  cases.push_back({2, 19, 4, 9, 11, 5});    // k = 5
  cases.push_back({1, 3, 2, 2, 2, 5});      // kernel larger than the image
  return cases;
}

// Batched operands laid out as channel slices: each image sits inside a wider parent image
// (`extra` channels before and after), so image strides differ from C·H·W.
struct SlicedBatch {
  std::vector<float> storage;
  int64_t stride = 0, offset = 0, image_size = 0;
  SlicedBatch(int n, int c, int h, int w, unsigned seed, int extra = 2) {
    image_size = int64_t(c) * h * w;
    stride = int64_t(c + 2 * extra) * h * w;
    offset = int64_t(extra) * h * w;
    storage = random_values(size_t(n * stride), seed);
  }
  float* image(int i) { return storage.data() + offset + i * stride; }
  const float* image(int i) const { return storage.data() + offset + i * stride; }
  ImageBatch view() const { return {storage.data() + offset, stride}; }
  MutableImageBatch mutable_view() { return {storage.data() + offset, stride}; }
};

// |got − expected| <= 3e-5 · bound + 1e-6, where bound is the same gradient computed from the
// absolute values (the sum of |terms| feeding each element): a wrong or missing tap errs by ~1e-2
// of the bound or more, reordered float sums and Winograd's transforms by ~1e-6.
void expect_within_bound(const float* got, const float* expected, const float* bound, int64_t count,
                         const std::string& what) {
  double worst_excess = -1;
  int64_t worst = 0;
  for (int64_t i = 0; i < count; ++i) {
    const double excess = std::fabs(double(got[i]) - expected[i]) - (3e-5 * bound[i] + 1e-6);
    if (std::isnan(got[i]) || excess > worst_excess) {
      worst_excess = std::isnan(got[i]) ? INFINITY : excess, worst = i;
      if (std::isnan(got[i])) break;
    }
  }
  EXPECT_LE(worst_excess, 0.0) << what << ": worst element #" << worst << " got " << got[worst] << " expected "
                               << expected[worst] << " (bound " << bound[worst] << ")";
}

// One case's operands and reference gradients (image by image, summed over the batch for dw and
// db), computed once and shared by every format's and variant's test.
struct ReferenceGradients {
  SlicedBatch x, dy, dx;                          // dx holds its values before the call (for accumulate)
  std::vector<float> weight, dw0, db0;            // dw and db start non-zero: the kernels add
  std::vector<float> dx_sum, dx_bound;            // [n][cin][h][w]: Σ of the gradient, Σ|terms|
  std::vector<float> dw, dw_bound, db, db_bound;  // dw0 + gradient, |dw0| + Σ|terms|, same for db
  explicit ReferenceGradients(const BackwardCase& c)
      : x(c.n, c.cin, c.h, c.w, 21), dy(c.n, c.cout, c.h, c.w, 22), dx(c.n, c.cin, c.h, c.w, 12) {
    weight = random_values(size_t(c.cout) * c.cin * c.k * c.k, 13, -0.2f, 0.2f);
    dw0 = random_values(weight.size(), 23);
    db0 = random_values(c.cout, 24);
    dw = dw0, db = db0, dw_bound = absolute(dw0), db_bound = absolute(db0);
    const auto abs_weight = absolute(weight);
    for (int i = 0; i < c.n; ++i) {
      const auto abs_x = absolute(std::vector<float>(x.image(i), x.image(i) + x.image_size));
      const auto abs_dy = absolute(std::vector<float>(dy.image(i), dy.image(i) + dy.image_size));
      std::vector<float> image_dx(x.image_size), image_bound(x.image_size);
      conv2d_backward_data_ref(image_dx.data(), dy.image(i), weight.data(), c.cin, c.cout, c.h, c.w, c.k, false);
      conv2d_backward_data_ref(image_bound.data(), abs_dy.data(), abs_weight.data(), c.cin, c.cout, c.h, c.w, c.k,
                               false);
      dx_sum.insert(dx_sum.end(), image_dx.begin(), image_dx.end());
      dx_bound.insert(dx_bound.end(), image_bound.begin(), image_bound.end());
      conv2d_backward_weight_ref(dw.data(), db.data(), x.image(i), dy.image(i), c.cin, c.cout, c.h, c.w, c.k);
      conv2d_backward_weight_ref(dw_bound.data(), db_bound.data(), abs_x.data(), abs_dy.data(), c.cin, c.cout, c.h, c.w,
                                 c.k);
    }
  }
};

const ReferenceGradients& reference_gradients(size_t index) {
  static std::map<size_t, ReferenceGradients> cache;
  auto found = cache.find(index);
  if (found == cache.end()) found = cache.emplace(index, ReferenceGradients(backward_cases()[index])).first;
  return found->second;
}

TEST(ConvBackwardData, EveryFormatMatchesReference) {
  const std::vector<BackwardCase> cases = backward_cases();
  for (size_t index = 0; index < cases.size(); ++index) {
    const BackwardCase& c = cases[index];
    const ReferenceGradients& r = reference_gradients(index);
    for (ConvWeightFormat format : conv_weight_formats()) {
      if ((format == ConvWeightFormat::kWinograd43 || format == ConvWeightFormat::kWinograd43Avx512) && c.k != 3) continue;
      for (bool accumulate : {false, true}) {
        SlicedBatch dx = r.dx;
        conv2d_backward_data(dx.mutable_view(), r.dy.view(), r.weight.data(), c.n, c.cin, c.cout, c.h, c.w, c.k,
                             accumulate, format);
        const std::string what =
            describe(c) + " format " + std::to_string(int(format)) + (accumulate ? " accumulate" : "");
        for (int i = 0; i < c.n; ++i) {
          std::vector<float> expected(r.dx_sum.begin() + i * dx.image_size, r.dx_sum.begin() + (i + 1) * dx.image_size);
          std::vector<float> bound(r.dx_bound.begin() + i * dx.image_size,
                                   r.dx_bound.begin() + (i + 1) * dx.image_size);
          if (accumulate)
            for (int64_t j = 0; j < dx.image_size; ++j) {
              const float before = r.dx.storage[r.dx.offset + i * r.dx.stride + j];
              expected[j] += before, bound[j] += std::fabs(before);
            }
          expect_within_bound(dx.image(i), expected.data(), bound.data(), dx.image_size,
                              what + " image " + std::to_string(i));
        }
        // The channels around the slice are untouched.
        for (int i = 0; i < c.n; ++i)
          for (int64_t j = 0; j < dx.offset; ++j)
            ASSERT_EQ(dx.storage[i * dx.stride + j], r.dx.storage[i * dx.stride + j]) << what;
      }
    }
  }
}

class ConvBackwardWeightTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ConvBackwardWeightTest, MatchesReferenceOnOddShapes) {
  const ConvBackwardWeightVariant& variant = conv2d_backward_weight_variants()[GetParam()];
  const std::vector<BackwardCase> cases = backward_cases();
  for (size_t index = 0; index < cases.size(); ++index) {
    const BackwardCase& c = cases[index];
    const ReferenceGradients& r = reference_gradients(index);
    std::vector<float> dw = r.dw0, db = r.db0;
    variant.fn(dw.data(), db.data(), r.x.view(), r.dy.view(), c.n, c.cin, c.cout, c.h, c.w, c.k);
    expect_within_bound(dw.data(), r.dw.data(), r.dw_bound.data(), int64_t(dw.size()),
                        std::string(variant.name) + " dw " + describe(c));
    expect_within_bound(db.data(), r.db.data(), r.db_bound.data(), c.cout,
                        std::string(variant.name) + " db " + describe(c));
    // Without a bias gradient.
    std::vector<float> dw_only = r.dw0;
    variant.fn(dw_only.data(), nullptr, r.x.view(), r.dy.view(), c.n, c.cin, c.cout, c.h, c.w, c.k);
    expect_within_bound(dw_only.data(), r.dw.data(), r.dw_bound.data(), int64_t(dw.size()),
                        std::string(variant.name) + " dw (no db) " + describe(c));
  }
}

// The error each variant adds against the gradient computed in double, on an RRDB conv5-sized
// layer (192 -> 64, 2 images of 24x40), as max |dw − exact| / max sum|terms|. Float sums alone give
// a few 1e-7; Winograd's transforms (entries up to 8 and 1/24) a few 1e-6. Bound 2e-5.
TEST_P(ConvBackwardWeightTest, ErrorVsDoublePrecisionIsSmall) {
  const ConvBackwardWeightVariant& variant = conv2d_backward_weight_variants()[GetParam()];
  const int n = 2, cin = 192, cout = 64, h = 24, w = 40;
  const auto x = random_values(size_t(n) * cin * h * w, 31);
  const auto dy = random_values(size_t(n) * cout * h * w, 32, -1e-3f, 1e-3f);
  std::vector<float> dw(size_t(cout) * cin * 9, 0.0f);
  variant.fn(dw.data(), nullptr, {x.data(), int64_t(cin) * h * w}, {dy.data(), int64_t(cout) * h * w}, n, cin, cout, h,
             w, 3);
  double worst_error = 0, largest_terms = 0;
  for (int co = 0; co < cout; ++co)
    for (int ci = 0; ci < cin; ++ci)
      for (int tap = 0; tap < 9; ++tap) {
        const int ky = tap / 3, kx = tap % 3;
        double exact = 0, terms = 0;
        for (int i = 0; i < n; ++i)
          for (int oy = std::max(0, 1 - ky); oy < std::min(h, h + 1 - ky); ++oy)
            for (int ox = std::max(0, 1 - kx); ox < std::min(w, w + 1 - kx); ++ox) {
              const double term = double(dy[((size_t(i) * cout + co) * h + oy) * w + ox]) *
                                  x[((size_t(i) * cin + ci) * h + oy + ky - 1) * w + ox + kx - 1];
              exact += term, terms += std::fabs(term);
            }
        worst_error = std::max(worst_error, std::fabs(dw[(size_t(co) * cin + ci) * 9 + tap] - exact));
        largest_terms = std::max(largest_terms, terms);
      }
  const double relative = worst_error / largest_terms;
  std::printf("  %s: max |error| %.3g / max sum|terms| %.3g = %.3g\n", variant.name, worst_error, largest_terms,
              relative);
  EXPECT_LT(relative, 2e-5) << variant.name;
}

INSTANTIATE_TEST_SUITE_P(AllVariants, ConvBackwardWeightTest,
                         ::testing::Range<size_t>(0, conv2d_backward_weight_variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::string(conv2d_backward_weight_variants()[info.param].name);
                         });

TEST(ConvBackwardWeightVariants, UnknownNameThrowsWithKnownList) {
  microsr::testing::expect_error([] { conv2d_backward_weight_variant("wgrad_v999"); },
                                 conv2d_backward_weight_variants()[0].name);
}

}  // namespace
}  // namespace microsr::kernels
