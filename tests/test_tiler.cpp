// Tiled inference (src/nn/tiler.cpp, src/nn/tile_memory.cpp).
//
// Fixtures: tests/data/tiles/tiles_x{4,2,1}.safetensors, written by tools/realesrgan_tiles.py — a
// PyTorch reimplementation of RealESRGANer's pre_pad / mod pad / tile_process / post_process, and
// of our blend mode, run in float64 on tiny random RRDBNets (weights from tests/data/rrdbnet).
// The other tests use closed-form facts: a tile whose context covers the network's receptive field
// gives exactly the untiled output, and a zero-width cross-fade is a hard cut.
#include <cmath>
#include <new>
#include <random>
#include <string>

#include "microsr/tiler.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using testing::data_path;
using testing::expect_close;
using testing::expect_error;

// A small random RRDBNet: kaiming-like weights keep activations O(1) so tiling errors show.
StateDict random_weights(const RRDBNetConfig& cfg, unsigned seed) {
  std::mt19937 rng(seed);
  StateDict sd;
  for (const auto& p : cfg.parameter_table()) {
    Tensor t = Tensor::empty(p.shape);
    const double fan_in = p.shape.size() == 4 ? double(p.shape[1] * p.shape[2] * p.shape[3]) : 1.0;
    std::normal_distribution<float> normal(0.0f, p.shape.size() == 4 ? float(std::sqrt(2.0 / fan_in)) : 0.05f);
    for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = normal(rng);
    sd.add(p.name, t);
  }
  return sd;
}

Tensor random_image(int64_t c, int64_t h, int64_t w, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  Tensor x = Tensor::empty({1, c, h, w});
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = uniform(rng);
  return x;
}

// One RRDB block with 4 features: the receptive field reaches 1 (conv_first) + 15 (the block) +
// 1 (conv_body) input pixels, plus 2 for the four convolutions after the upsamplings (see below).
RRDBNetConfig small_x4() {
  RRDBNetConfig cfg;
  cfg.num_feat = 4, cfg.num_block = 1, cfg.num_grow_ch = 2;
  return cfg;
}
// Exactly: the last input pixel p of a tile makes output rows up to 4p + 3; three convs at ×4 reach
// row 4p + 6 = ×2 row 2p + 3, conv_up1 reaches 2p + 4 = input pixel p + 2, and 17 more convs p + 19.
constexpr int kSmallReceptiveRadius = 19;

struct Setting {
  TileMode mode;
  int tile, tile_pad, pre_pad, blend;
};

// "realesrgan.t6.p2.pp0.b-1" → the setting it was made with.
Setting parse_key(const std::string& key) {
  Setting s{};
  char mode[16] = {};
  EXPECT_EQ(std::sscanf(key.c_str(), "%15[a-z].t%d.p%d.pp%d.b%d", mode, &s.tile, &s.tile_pad, &s.pre_pad, &s.blend), 5)
      << key;
  s.mode = parse_tile_mode(mode);
  return s;
}

class TilerReference : public ::testing::TestWithParam<std::string> {};

// Tolerance 1e-4 absolute, as for the untiled RRDBNet goldens: the reference is float64, our float32
// forward differs by ~1e-6; a tile cut one pixel off or a wrong pad changes outputs by ≥ 1e-2
// (the script prints max |tiled - whole| per setting: 0.7 to 5).
TEST_P(TilerReference, MatchesPyTorchTileLoop) {
  const StateDict fixture = load_safetensors(data_path("tiles/" + GetParam() + ".safetensors"));
  StateDict weights;
  std::vector<std::pair<std::string, const Tensor*>> outputs;
  for (const auto& [name, t] : fixture.entries) {
    if (name.rfind("realesrgan.", 0) == 0 || name.rfind("blend.", 0) == 0)
      outputs.emplace_back(name, &t);
    else if (name != "input")
      weights.add(name, t);
  }
  ASSERT_GE(outputs.size(), 2u);
  auto backend = make_cpu_backend();
  RRDBNet net(infer_rrdbnet_config(weights), weights, *backend);
  for (const auto& [key, expected] : outputs) {
    const Setting s = parse_key(key);
    TileOptions opt;
    opt.mode = s.mode, opt.tile = s.tile, opt.tile_pad = s.tile_pad, opt.pre_pad = s.pre_pad, opt.blend_width = s.blend;
    expect_close(upscale_tiled(net, *backend, fixture.at("input"), opt), *expected, 1e-4, GetParam() + " " + key);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TilerReference, ::testing::Values("tiles_x4", "tiles_x2", "tiles_x1"));

class TilerSmallNet : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend = make_cpu_backend();
  RRDBNet net{small_x4(), random_weights(small_x4(), 5), *backend};
  Tensor x = random_image(3, 70, 61, 6);
  Tensor run(TileOptions opt) { return upscale_tiled(net, *backend, x, opt); }
};

// Context at least the receptive radius: every kept output pixel sees exactly what it sees in the
// untiled pass, so only float rounding differs. Tolerance 1e-4: the CPU convolution's (Winograd)
// blocking changes with the piece size, which moves outputs of size ~1 by up to 2e-5 (measured);
// with 2 pixels of context instead they move by more than 1e-2 (checked below).
TEST_F(TilerSmallNet, ContextCoveringTheReceptiveFieldIsExact) {
  const Tensor whole = run({});
  for (TileMode mode : {TileMode::realesrgan, TileMode::blend}) {
    TileOptions opt;
    // Blend mode also uses outputs up to blend_width past the seam: they need the radius too.
    opt.tile = 16, opt.blend_width = 3, opt.tile_pad = kSmallReceptiveRadius + 3, opt.mode = mode;
    expect_close(run(opt), whole, 1e-4, tile_mode_name(mode));
  }
  // …and with less context the seams do show (so the check above is not vacuous).
  TileOptions thin;
  thin.tile = 16, thin.tile_pad = 2, thin.mode = TileMode::realesrgan;
  EXPECT_GT(testing::compare(run(thin), whole).max_abs, 1e-2);
}

// With tiles that divide the image, both modes cut the same grid; a zero-width cross-fade is
// then Real-ESRGAN's paste (weights exactly 0 or 1). Inner tiles have the same piece in both
// modes, so there the outputs agree bit for bit; blend's edge pieces take more context from
// inside the image (all its pieces have one size), so the edge tiles may differ.
TEST_F(TilerSmallNet, ZeroWidthBlendIsRealESRGANPasteOnInnerTiles) {
  x = random_image(3, 48, 48, 7);
  TileOptions paste, blend;
  paste.tile = blend.tile = 16;
  paste.tile_pad = blend.tile_pad = 3;
  paste.mode = TileMode::realesrgan;
  blend.mode = TileMode::blend, blend.blend_width = 0;
  const Tensor a = run(blend), b = run(paste);
  // The centre tile: input [16, 32)², output [64, 128)².
  double worst = 0;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 64; y < 128; ++y)
      for (int64_t xx = 64; xx < 128; ++xx) {
        const int64_t i = (c * 192 + y) * 192 + xx;
        worst = std::max(worst, double(std::abs(a.f32()[i] - b.f32()[i])));
      }
  EXPECT_EQ(worst, 0.0) << "centre tile, blend width 0 vs paste";
  EXPECT_GT(testing::compare(a, b).max_abs, 0.0) << "edge tiles: blend's pieces have more context";
}

// Batches only regroup forward calls: each image of a batch is computed on its own.
TEST_F(TilerSmallNet, BatchOfTwoGivesTheSameOutput) {
  for (TileMode mode : {TileMode::realesrgan, TileMode::blend}) {
    TileOptions one, two;
    one.tile = two.tile = 12;
    one.mode = two.mode = mode;
    two.batch = 2;
    expect_close(run(two), run(one), 0.0, std::string("batch 2, ") + tile_mode_name(mode));
  }
}

TEST_F(TilerSmallNet, ReportsProgressPerTile) {
  TileOptions opt;
  opt.tile = 20;  // 4 × 4 tiles over 70 × 61
  std::vector<std::pair<int, int>> calls;
  opt.on_tile = [&](int done, int total) { calls.emplace_back(done, total); };
  opt.batch = 3;
  run(opt);
  ASSERT_EQ(calls.size(), 16u);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(calls[i], std::make_pair(i + 1, 16));
}

TEST_F(TilerSmallNet, RejectsBadOptions) {
  TileOptions opt;
  opt.pre_pad = 61;  // reflect padding needs fewer pixels than the image has
  expect_error([&] { run(opt); }, "--pre-pad");
  opt.pre_pad = 0, opt.tile_pad = -1;
  expect_error([&] { run(opt); }, "--tile-pad");
  expect_error([] { parse_tile_mode("seamless"); }, "realesrgan or blend");
  expect_error([&] { upscale_tiled(net, *backend, random_image(1, 8, 8, 1), {}); }, "[1, 3, H, W]");
}

// The CPU backend with a memory limit: an allocation above `limit_bytes` fails the way `failure`
// says: std::bad_alloc (a full host), OutOfMemory (a full device, as the CUDA backend reports it),
// or any other Error.
enum class Failure { host_bad_alloc, device_out_of_memory, other_error };

class LimitedBackend : public Backend {
 public:
  explicit LimitedBackend(int64_t limit_bytes, Failure failure = Failure::host_bad_alloc, std::string message = "")
      : limit_(limit_bytes), failure_(failure), message_(std::move(message)) {}
  Device device() const override { return inner_->device(); }
  std::string name() const override { return "limited cpu"; }
  Tensor empty(const Shape& shape, DType dtype) override {
    if (shape_numel(shape) * int64_t(dtype_size(dtype)) > limit_) {
      ++failures;
      if (failure_ == Failure::device_out_of_memory) throw OutOfMemory(message_);
      if (failure_ == Failure::other_error) throw Error(message_);
      throw std::bad_alloc();
    }
    return inner_->empty(shape, dtype);
  }
  Tensor to_device(const Tensor& host) override { return inner_->to_device(host); }
  Tensor to_host(const Tensor& t) override { return inner_->to_host(t); }
  std::unique_ptr<PreparedConv> prepare_conv(const Tensor& w, const Tensor& b) override {
    return inner_->prepare_conv(w, b);
  }
  void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& opt) override {
    inner_->conv2d(y, x, w, b, opt);
  }
  void scaled_add(Tensor& y, const Tensor& a, float s, const Tensor& b) override { inner_->scaled_add(y, a, s, b); }
  void upsample_nearest2x(Tensor& y, const Tensor& x) override { inner_->upsample_nearest2x(y, x); }
  void pixel_unshuffle(Tensor& y, const Tensor& x, int r) override { inner_->pixel_unshuffle(y, x, r); }
  void copy_channels(Tensor& y, int64_t c0, const Tensor& x) override { inner_->copy_channels(y, c0, x); }
  Tensor run_replayable(const void* owner, const Tensor& x, const Forward& forward) override {
    forward_shapes.push_back(x.shape());
    return inner_->run_replayable(owner, x, forward);
  }
  int failures = 0;
  std::vector<Shape> forward_shapes;  // the input of every forward pass the tiler asked for

 private:
  std::unique_ptr<Backend> inner_ = make_cpu_backend();
  int64_t limit_;
  Failure failure_;
  std::string message_;
};

// A ×2 or ×1 model pads the image to a multiple of 2 or 4 by reflection, which a 1-pixel image
// cannot give: the error says that, not "lower --pre-pad" when --pre-pad is 0 (issue 13, case 9).
TEST(TilerValidation, TooSmallForTheModelsPaddingSaysWhy) {
  auto backend = make_cpu_backend();
  for (int scale : {2, 1}) {
    RRDBNetConfig cfg = small_x4();
    cfg.scale = scale;
    RRDBNet net(cfg, random_weights(cfg, 5), *backend);
    TileOptions opt;
    opt.pre_pad = 0;
    try {
      upscale_tiled(net, *backend, random_image(3, 1, 1, 3), opt);
      ADD_FAILURE() << "a 1×1 image went through a ×" << scale << " model";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("multiples of " + std::to_string(scale == 2 ? 2 : 4)), std::string::npos) << message;
      EXPECT_EQ(message.find("--pre-pad"), std::string::npos) << message;
    }
  }
}

TEST(TilerOutOfMemory, RetriesWithHalvedTiles) {
  for (Failure failure : {Failure::host_bad_alloc, Failure::device_out_of_memory}) {
    // The largest activation of a piece of p×p input pixels is num_feat (4) × (4p)² floats:
    // 25 600 bytes for p = 20, so tiles of 64 (pieces ~74) and 32 (~42) fail and 16 (≤ 26) fits.
    LimitedBackend limited(4 * 16 * 4 * 26 * 26, failure, "cudaMalloc failed (test limit)");
    RRDBNet net(small_x4(), random_weights(small_x4(), 5), limited);
    const Tensor x = random_image(3, 64, 64, 8);
    TileOptions opt;
    opt.tile = 64, opt.tile_pad = 5, opt.min_tile = 8, opt.mode = TileMode::realesrgan;
    std::vector<int> retries;
    opt.on_retry = [&](int tile) { retries.push_back(tile); };
    const Tensor y = upscale_tiled(net, limited, x, opt);
    EXPECT_EQ(retries, (std::vector<int>{32, 16}))
        << (failure == Failure::host_bad_alloc ? "bad_alloc" : "OutOfMemory");
    EXPECT_EQ(limited.failures, 2);
    // Same as asking for 16 in the first place.
    TileOptions direct = opt;
    direct.tile = 16;
    expect_close(y, upscale_tiled(net, limited, x, direct), 0.0, "after retries");
  }
}

TEST(TilerOutOfMemory, GivesUpAtTheFloorWithAClearError) {
  LimitedBackend limited(1024);
  RRDBNet net(small_x4(), random_weights(small_x4(), 5), limited);
  TileOptions opt;
  opt.min_tile = 16;
  expect_error([&] { upscale_tiled(net, limited, random_image(3, 64, 64, 8), opt); }, "out of memory even with 16×16");
}

TEST(TilerOutOfMemory, OtherErrorsAreNotRetried) {
  // The type decides, not the words: a plain Error that mentions memory is not retried either.
  for (std::string message : {"conv2d: weights of the wrong shape", "a file said: out of memory"}) {
    LimitedBackend limited(1024, Failure::other_error, message);
    RRDBNet net(small_x4(), random_weights(small_x4(), 5), limited);
    TileOptions opt;
    opt.on_retry = [](int) { ADD_FAILURE() << "retried"; };
    expect_error([&] { upscale_tiled(net, limited, random_image(3, 16, 16, 1), opt); }, message);
    EXPECT_EQ(limited.failures, 1) << message;
  }
}

// The estimate reproduces its calibration (RealESRGAN_x4plus, 192×192 piece: 580.6 MiB measured
// peak growth, see src/nn/tile_memory.cpp) within its safety margin, and auto_tile_size inverts it.
TEST(TilerMemory, EstimateAndAutoTileSize) {
  const RRDBNetConfig real;  // RealESRGAN_x4plus
  const double mib = double(estimate_forward_bytes(real, 192, 192)) / (1 << 20);
  EXPECT_GT(mib, 580.6);
  EXPECT_LT(mib, 580.6 * 1.25);
  EXPECT_NEAR(double(estimate_forward_bytes(real, 96, 96, 2)), 2.0 * estimate_forward_bytes(real, 96, 96), 16.0);

  // Exactly enough memory for a 400 tile with pad 10 → 400; a byte less → the next multiple of 8 down.
  const int64_t for_400 = estimate_forward_bytes(real, 420, 420);
  EXPECT_EQ(auto_tile_size(real, for_400, 10), 400);
  EXPECT_EQ(auto_tile_size(real, for_400 - 1, 10), 392);
  // The whole image fits: 0 (no tiling).
  EXPECT_EQ(auto_tile_size(real, estimate_forward_bytes(real, 300, 200), 10, 300, 200), 0);
  // Nothing fits: the smallest tile, and the out-of-memory retry takes it from there.
  EXPECT_EQ(auto_tile_size(real, 1000, 10), 16);
  EXPECT_GT(available_host_memory(), 0);
}

// The CPU backend says how much memory a tile may take: half of the available host memory (what
// --tile auto used on the CPU before backends said it), with float32 activations.
TEST(TilerMemory, CpuBackendOffersHalfTheAvailableHostMemory) {
  auto backend = make_cpu_backend();
  const double half = double(available_host_memory()) / 2;
  EXPECT_NEAR(double(backend->memory_for_tiles()), half, 0.05 * half);  // MemAvailable moves a little
  EXPECT_EQ(backend->bytes_per_activation(), 4);
}

}  // namespace
}  // namespace microsr

namespace microsr {
namespace {

// Blend mode gives every piece of an image one size (edge tiles take their context from inside
// the image), so all tiles can share one batch — and one recorded CUDA graph. Real-ESRGAN's
// tiles are cut from the top-left: its edge pieces differ.
TEST(TilerBatches, BlendPiecesShareOneSizeAndBatchesChangeNothing) {
  LimitedBackend counting(int64_t(1) << 40);
  RRDBNet net(small_x4(), random_weights(small_x4(), 5), counting);
  const Tensor x = random_image(3, 45, 38, 2);
  TileOptions opt;
  opt.tile = 16, opt.tile_pad = 5, opt.mode = TileMode::blend;
  const Tensor one_by_one = upscale_tiled(net, counting, x, opt);
  // 45 rows → 3 tiles of 15, pieces 15 + 2·5 = 25; 38 columns → tiles of 12–13, pieces 13 + 10 = 23.
  ASSERT_EQ(counting.forward_shapes.size(), 9u);
  for (const Shape& s : counting.forward_shapes) EXPECT_EQ(s, Shape({1, 3, 25, 23}));

  counting.forward_shapes.clear();
  opt.batch = 64;
  const Tensor batched = upscale_tiled(net, counting, x, opt);
  ASSERT_EQ(counting.forward_shapes.size(), 1u) << "one batch for the whole image";
  EXPECT_EQ(counting.forward_shapes[0], Shape({9, 3, 25, 23}));
  expect_close(batched, one_by_one, 1e-6, "batch of 9 vs one at a time");

  counting.forward_shapes.clear();
  opt.mode = TileMode::realesrgan;
  upscale_tiled(net, counting, x, opt);
  EXPECT_GT(counting.forward_shapes.size(), 1u) << "realesrgan edge pieces are smaller";
}

}  // namespace
}  // namespace microsr
