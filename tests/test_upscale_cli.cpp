// `microsr upscale` end to end on a tiny random RRDBNet: folders, formats and bit depths, skipping
// and overwriting, bad files in a folder run, and nothing partial left behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/subcommands.h"
#include "microsr/image_io.h"
#include "microsr/weights.h"
#include "test_helpers.h"

using namespace microsr;
namespace fs = std::filesystem;

namespace {

struct Workspace {
  fs::path root = microsr::testing::temp_path("cli");
  std::string model;
  Workspace() {
    fs::remove_all(root);
    fs::create_directories(root / "in/sub");
    // The tiny x4 model of tools/make_rrdbnet_goldens.py, weights only.
    const StateDict fixture = load_safetensors(microsr::testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors"));
    const StateDict w = microsr::testing::rrdbnet_weights_of(fixture);
    model = (root / "tiny.safetensors").string();
    save_safetensors(model, w);
  }
  ~Workspace() { fs::remove_all(root); }
  std::string at(const std::string& p) const { return (root / p).string(); }

  static Image image(int channels, int bit_depth, int w = 6, int h = 5) {
    Image img;
    img.width = w, img.height = h, img.channels = channels, img.bit_depth = bit_depth;
    img.pixels.resize(std::size_t(w) * h * channels);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = float(i % 17) / 16.0f;
    return img;
  }

  int upscale(std::vector<std::string> args) {
    args.insert(args.end(), {"--model", model, "--device", "cpu", "--tile", "0"});
    return microsr::testing::run_cli(cli::run_upscale, std::move(args));
  }
};

bool has_partial_files(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".partial") != std::string::npos) return true;
  return false;
}

TEST(UpscaleCli, FolderRunKeepsFormatsDepthsAndStructure) {
  Workspace ws;
  write_image(ws.at("in/rgb.png"), Workspace::image(3, 8));
  write_image(ws.at("in/sub/gray16.tif"), Workspace::image(1, 16));
  write_image(ws.at("in/rgba.png"), Workspace::image(4, 8));
  // A 16-bit PNG (written by Pillow, tools/make_image_fixtures.py) keeps 16 bits as a TIFF.
  fs::copy_file(microsr::testing::data_path("images/png/u16_rgb.png"), ws.at("in/deep.png"));
  ASSERT_EQ(ws.upscale({ws.at("in"), "-o", ws.at("out")}), 0);

  const Image rgb = read_image(ws.at("out/rgb.png"));
  EXPECT_EQ(rgb.width, 24);
  EXPECT_EQ(rgb.height, 20);
  EXPECT_EQ(rgb.channels, 3);
  const Image gray = read_image(ws.at("out/sub/gray16.tif"));
  EXPECT_EQ(gray.channels, 1);
  EXPECT_EQ(gray.bit_depth, 16);
  const Image rgba = read_image(ws.at("out/rgba.png"));
  EXPECT_EQ(rgba.channels, 4);
  const Image deep = read_image(ws.at("out/deep.tif"));
  EXPECT_EQ(deep.bit_depth, 16);
  EXPECT_EQ(deep.width, 4 * read_image(ws.at("in/deep.png")).width);
  EXPECT_FALSE(has_partial_files(ws.root));
}

// The closing time line splits the network's time into the first image (which pays for what the
// backend sets up once per shape) and the mean of the others, and the two add up to the total.
// The first image (inputs go in name order) has ~2000× the pixels of the others, so its time is
// the larger by far whatever the machine's noise (times are printed to 0.01 s).
TEST(UpscaleCli, TheTimeLineGivesTheFirstImageApart) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8, 256, 256));
  for (const char* name : {"b.png", "c.png"}) write_image(ws.at(std::string("in/") + name), Workspace::image(3, 8));
  const auto network_part = [&](const std::string& input, const std::string& output) {
    ::testing::internal::CaptureStderr();
    const int status = ws.upscale({input, "-o", output});
    const std::string said = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(status, 0) << said;
    const std::size_t line = said.find("time: "), at = said.find("network ", line);
    return line == std::string::npos || at == std::string::npos ? std::string()
                                                                : said.substr(at, said.find('\n', at) - at);
  };

  const std::string three = network_part(ws.at("in"), ws.at("out"));
  double network = -1, first = -1, each = -1;
  ASSERT_EQ(
      std::sscanf(three.c_str(), "network %lf s (the first image %lf s, then %lf s an image)", &network, &first, &each),
      3)
      << three;
  EXPECT_GT(first, each) << three;
  EXPECT_GE(each, 0.0) << three;
  EXPECT_NEAR(first + 2 * each, network, 0.02) << three;  // each printed to 0.005 s

  // One image: nothing to set apart.
  const std::string one = network_part(ws.at("in/b.png"), ws.at("one.png"));
  EXPECT_EQ(one.rfind("network ", 0), 0u) << one;
  EXPECT_EQ(one.find("first image"), std::string::npos) << one;
}

// A fine-tuned .pth holds params and params_ema; --weights picks one (issue 14, item 6).
TEST(UpscaleCli, WeightsChoosesTheGroupOfAFineTunedFile) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  const StateDict trained = load_rrdbnet_weights(ws.model);
  StateDict averaged;  // another set of weights: the last bias shifted
  for (const auto& [name, t] : trained.entries) {
    Tensor copy = Tensor::empty(t.shape());
    std::copy(t.f32(), t.f32() + t.numel(), copy.f32());
    if (name == "conv_last.bias")
      for (int64_t i = 0; i < copy.numel(); ++i) copy.f32()[i] += 0.25f;
    averaged.add(name, copy);
  }
  const std::string both = ws.at("both.pth");
  save_pth_groups(both, {{"params", &trained}, {"params_ema", &averaged}});
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {
        ws.at("in/a.png"), "-o", ws.at("out.png"), "--overwrite", "--model", both, "--device", "cpu", "--tile", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    EXPECT_EQ(microsr::testing::run_cli(cli::run_upscale, args), 0);
    return read_image(ws.at("out.png")).pixels;
  };
  const auto by_default = run({}), ema = run({"--weights", "params_ema"}), params = run({"--weights", "params"});
  EXPECT_EQ(by_default, ema) << "params_ema is the default, as Real-ESRGAN";
  EXPECT_NE(params, ema);
  ASSERT_EQ(ws.upscale({ws.at("in/a.png"), "-o", ws.at("plain.png")}), 0);
  EXPECT_EQ(read_image(ws.at("plain.png")).pixels, params) << "params are the weights as trained";
}

TEST(UpscaleCli, SkipsFinishedOutputsUnlessOverwrite) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  ASSERT_EQ(ws.upscale({ws.at("in/a.png"), "-o", ws.at("a_x4.png")}), 0);
  // Replace the output with a marker; a rerun must leave it alone, --overwrite must replace it.
  write_image(ws.at("a_x4.png"), Workspace::image(3, 8, 2, 2));
  ASSERT_EQ(ws.upscale({ws.at("in/a.png"), "-o", ws.at("a_x4.png")}), 0);
  EXPECT_EQ(read_image(ws.at("a_x4.png")).width, 2);
  ASSERT_EQ(ws.upscale({ws.at("in/a.png"), "-o", ws.at("a_x4.png"), "--overwrite"}), 0);
  EXPECT_EQ(read_image(ws.at("a_x4.png")).width, 24);
}

TEST(UpscaleCli, BadFilesFailAloneAndTheRunGoesOn) {
  Workspace ws;
  write_image(ws.at("in/good.png"), Workspace::image(3, 8));
  std::ofstream(ws.at("in/broken.png")) << "\x89PNG\r\n\x1a\n this is not a PNG";
  std::ofstream(ws.at("in/empty.tif"));
  EXPECT_EQ(ws.upscale({ws.at("in"), "-o", ws.at("out")}), 1);
  EXPECT_TRUE(fs::exists(ws.at("out/good.png")));
  EXPECT_FALSE(fs::exists(ws.at("out/broken.png")));
  EXPECT_FALSE(fs::exists(ws.at("out/empty.tif")));
  EXPECT_FALSE(has_partial_files(ws.root));
}

TEST(UpscaleCli, UnwritableOutputFailsClearly) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  std::ofstream(ws.at("blocker")) << "a file where a folder should be";
  EXPECT_EQ(ws.upscale({ws.at("in/a.png"), "-o", ws.at("blocker/a.png")}), 1);
  EXPECT_FALSE(has_partial_files(ws.root));
}

// Files are written on a thread beside the next image's network pass: a write that fails must
// be reported for its own input, and the images after it must still be written.
TEST(UpscaleCli, AFailedWriteBesideTheNextImageIsReportedForItsOwnInput) {
  Workspace ws;
  for (const char* name : {"a.png", "b.png", "c.png"})
    write_image(ws.at(std::string("in/") + name), Workspace::image(3, 8));
  fs::create_directories(ws.at("out/b.png"));  // a non-empty folder where b's output goes: the rename fails
  std::ofstream(ws.at("out/b.png/keep")) << "x";
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  const int status = ws.upscale({ws.at("in"), "-o", ws.at("out"), "--overwrite"});
  const std::string out = ::testing::internal::GetCapturedStdout(), err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 1);
  EXPECT_EQ(read_image(ws.at("out/a.png")).width, 24);
  EXPECT_EQ(read_image(ws.at("out/c.png")).width, 24);
  EXPECT_TRUE(fs::is_directory(ws.at("out/b.png")));
  EXPECT_NE(err.find("failed: " + ws.at("in/b.png")), std::string::npos) << err;
  EXPECT_EQ(err.find("failed: " + ws.at("in/a.png")), std::string::npos) << err;
  EXPECT_NE(out.find(ws.at("in/c.png") + " -> "), std::string::npos) << out;
  EXPECT_NE(err.find("2 upscaled, 0 skipped, 1 failed"), std::string::npos) << err;
  EXPECT_FALSE(has_partial_files(ws.root));
}

// A rerun is the documented way to finish an interrupted run, so it must never take the first
// run's outputs as inputs (issue 13, case 3): not when the output folder lies inside the input
// folder, and not when it is the input folder itself with --suffix naming the outputs.
TEST(UpscaleCli, ARerunNeverTakesItsOwnOutputsAsInputs) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  write_image(ws.at("in/sub/b.tif"), Workspace::image(1, 16));
  for (int run = 0; run < 2; ++run) ASSERT_EQ(ws.upscale({ws.at("in"), "-o", ws.at("in/out"), "--overwrite"}), 0);
  EXPECT_TRUE(fs::exists(ws.at("in/out/a.png")));
  EXPECT_TRUE(fs::exists(ws.at("in/out/sub/b.tif")));
  EXPECT_FALSE(fs::exists(ws.at("in/out/out"))) << "the rerun upscaled the first run's outputs";

  for (int run = 0; run < 2; ++run)
    ASSERT_EQ(ws.upscale({ws.at("in"), "-o", ws.at("in"), "--suffix", "_x4", "--overwrite"}), 0);
  EXPECT_TRUE(fs::exists(ws.at("in/a_x4.png")));
  EXPECT_TRUE(fs::exists(ws.at("in/sub/b_x4.tif")));
  EXPECT_FALSE(fs::exists(ws.at("in/a_x4_x4.png"))) << "the rerun upscaled the first run's outputs";
  EXPECT_FALSE(fs::exists(ws.at("in/sub/b_x4_x4.tif")));
}

// Hidden files (an atomic write's ".NAME.partial-PID" among them) are never inputs.
TEST(UpscaleCli, HiddenFilesAreNotInputs) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  write_image(ws.at("in/.hidden.png"), Workspace::image(3, 8));
  ASSERT_EQ(ws.upscale({ws.at("in"), "-o", ws.at("out")}), 0);
  EXPECT_TRUE(fs::exists(ws.at("out/a.png")));
  EXPECT_FALSE(fs::exists(ws.at("out/.hidden.png")));
}

TEST(UpscaleCli, UsageErrors) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  EXPECT_EQ(ws.upscale({ws.at("in/a.png")}), 2);  // no -o
  EXPECT_THROW(ws.upscale({ws.at("in/a.png"), "-o", ws.at("o.png"), "--bogus"}), Error);
  EXPECT_THROW(ws.upscale({ws.at("in/a.png"), "-o", ws.at("o.png"), "--precision", "fp8"}), Error);
  EXPECT_THROW(ws.upscale({ws.at("in/a.png"), "-o", ws.at("o.png"), "--outscale", "x"}), Error);
  EXPECT_THROW(ws.upscale({ws.at("missing.png"), "-o", ws.at("o.png")}), Error);  // nothing to do
}

TEST(UpscaleCli, WrongModelFilesAreRefused) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  auto run_with_model = [&](const std::string& model) {
    return microsr::testing::run_cli(cli::run_upscale,
                                     {ws.at("in/a.png"), "-o", ws.at("o.png"), "--model", model, "--device", "cpu"});
  };
  microsr::testing::expect_error([&] { run_with_model(ws.at("in/a.png")); }, "unknown model file type");
  std::ofstream(ws.at("fake.pth")) << "not a zip archive";
  EXPECT_THROW(run_with_model(ws.at("fake.pth")), Error);
  // Right format, wrong network: a safetensors file holding one unrelated tensor.
  StateDict other;
  other.add("encoder.weight", Tensor::zeros({4, 4}));
  save_safetensors(ws.at("other.safetensors"), other);
  EXPECT_THROW(run_with_model(ws.at("other.safetensors")), Error);
  EXPECT_FALSE(fs::exists(ws.at("o.png")));
}

}  // namespace

namespace {

// Issue 13, cases 7 and 8: an -o the image writers cannot write (out.jpg), or a file name given
// several inputs, is a usage error found before the model is even loaded (the model here does
// not exist), and nothing is created.
TEST(UpscaleCli, AnUnusableOutputIsAUsageErrorBeforeAnyWork) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  write_image(ws.at("in/b.png"), Workspace::image(3, 8));
  auto upscale = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--model", ws.at("no_such_model.pth"), "--device", "cpu"});
    return microsr::testing::run_cli(cli::run_upscale, std::move(args));
  };
  EXPECT_THROW(upscale({ws.at("in/a.png"), "-o", ws.at("out.jpg")}), UsageError);
  EXPECT_THROW(upscale({ws.at("in/a.png"), "-o", ws.at("out.JPEG")}), UsageError);
  microsr::testing::expect_error([&] { upscale({ws.at("in/a.png"), "-o", ws.at("out.bmp")}); }, "PNG (.png) or TIFF");
  microsr::testing::expect_error(
      [&] {
        upscale({ws.at("in/a.png"), ws.at("in/b.png"), "-o", ws.at("two.png")});
      },
      "2 inputs are given");
  microsr::testing::expect_error([&] { upscale({ws.at("in"), "-o", ws.at("folder.tif")}); }, "the input is a folder");
  EXPECT_THROW(upscale({ws.at("in/a.png"), ws.at("in/b.png"), "-o", ws.at("two.png")}), UsageError);
  for (const char* made : {"out.jpg", "out.JPEG", "out.bmp", "two.png", "folder.tif"})
    EXPECT_FALSE(fs::exists(ws.at(made))) << made;
  // An existing folder with an image-like name is still a folder.
  fs::create_directories(ws.at("shots.png"));
  ASSERT_EQ(ws.upscale({ws.at("in/a.png"), ws.at("in/b.png"), "-o", ws.at("shots.png")}), 0);
  EXPECT_TRUE(fs::exists(ws.at("shots.png/a.png")));
}

TEST(UpscaleCli, BadValuesAreUsageErrors) {
  Workspace ws;
  write_image(ws.at("in/a.png"), Workspace::image(3, 8));
  const std::string in = ws.at("in/a.png"), out = ws.at("o.png");
  microsr::testing::expect_error([&] { ws.upscale({in, "-o", out, "--threads", "-3"}); }, "--threads must be ≥ 0");
  microsr::testing::expect_error([&] { ws.upscale({in, "-o", out, "--tile-pad", "-1"}); }, "--tile-pad must be ≥ 0");
  microsr::testing::expect_error([&] { ws.upscale({in, "-o", out, "--batch", "0"}); }, "--batch must be ≥ 1");
  microsr::testing::expect_error(
      [&] {
        ws.upscale({in, "-o", out, "--alpha", "magic"});
      },
      "--alpha must be network or bicubic, got 'magic'");
  microsr::testing::expect_error(
      [&] {
        ws.upscale({in, "-o", out, "--format", "jpg"});
      },
      "--format must be png, tif, tiff or same");
  microsr::testing::expect_error(
      [&] {
        ws.upscale({in, "-o", out, "--bit-depth", "12"});
      },
      "--bit-depth must be 8 or 16");
  microsr::testing::expect_error(
      [&] {
        ws.upscale({in, "-o", out, "--outscale", "17"});
      },
      "--outscale must be in [0, 16]");
  EXPECT_THROW(ws.upscale({in, "-o", ws.at("o.tif"), "--format", "png", "--bit-depth", "16"}), UsageError);
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
