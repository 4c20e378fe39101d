// The command line's device options and the contracts tools/gpu_check.sh relies on:
//   microsr bench --device D --precision P --size WxH --batch B --reps R --model M  → one JSON line
//   microsr upscale IN -o OUT.tif --device cuda --precision fp16 --tile 0 --format tiff --bit-depth 16
// The CPU parts run everywhere (tiny random RRDBNet of tests/data/rrdbnet); the CUDA parts
// compare the GPU's output file with the CPU's and skip without a device.
#include <cmath>
#include <filesystem>

#include "cli/subcommands.h"
#include "cpu/cpu_isa.h"
#include "microsr/image_io.h"
#include "microsr/weights.h"
#include "test_gpu_helpers.h"

using namespace microsr;
namespace fs = std::filesystem;

namespace {

struct TinyModel {
  fs::path root = microsr::testing::temp_path("gpu_cli");
  std::string model;
  TinyModel() {
    fs::remove_all(root);
    fs::create_directories(root);
    const StateDict fixture = load_safetensors(microsr::testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors"));
    const StateDict w = microsr::testing::rrdbnet_weights_of(fixture);
    model = (root / "tiny.safetensors").string();
    save_safetensors(model, w);
  }
  ~TinyModel() { fs::remove_all(root); }
  std::string at(const std::string& p) const { return (root / p).string(); }
};

int run(int (*command)(int, char**), std::vector<std::string> args) {
  return microsr::testing::run_cli(command, std::move(args));
}

// An 8-bit RGB test image of repeating ramps: value i·step mod period, scaled to [0, 1].
void write_ramps(const std::string& path, int width, int height, std::size_t step, std::size_t period) {
  Image img;
  img.width = width, img.height = height, img.channels = 3, img.bit_depth = 8;
  img.pixels.resize(std::size_t(width) * height * 3);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = float((i * step) % period) / float(period - 1);
  write_image(path, img);
}

// The largest difference between two image files' values (infinite when their sizes differ).
double max_difference(const std::string& a, const std::string& b) {
  const Image x = read_image(a), y = read_image(b);
  if (x.pixels.size() != y.pixels.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < x.pixels.size(); ++i)
    worst = std::max(worst, double(std::abs(x.pixels[i] - y.pixels[i])));
  return worst;
}

TEST(BenchCli, PrintsTheJsonLineGpuCheckReads) {
  TinyModel m;
  ::testing::internal::CaptureStdout();
  const int rc = run(cli::run_bench, {"--device", "cpu", "--precision", "fp32", "--size", "16x12", "--batch", "2",
                                      "--reps", "2", "--model", m.model});
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(rc, 0);
  for (const char* key : {"\"size\": \"16x12\"", "\"width\": 16", "\"height\": 12", "\"batch\": 2",
                          "\"device\": \"cpu\"", "\"precision\": \"fp32\"",
                          "\"seconds_median\": ", "\"seconds_best\": ", "\"peak_rss_mb\": ", "\"peak_device_mb\": 0.0",
                          "\"gflops\": ", "\"backend\": \"cpu", "\"graphs\": \"n/a\"",
                          "\"conv_paths\": {\"fused\": 0, \"unfused\": 0, \"packed_input\": 0, \"packed_output\": 0, "
                          "\"fallback\": 0}, ",
                          "\"warmup_s\": {\"first_pass\": ", "\"second_pass\": 0.000000}}"})  // no graph to record
    EXPECT_NE(out.find(key), std::string::npos) << key << " missing from " << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "one line: " << out;
  const std::size_t first = out.find("\"first_pass\": ");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_GT(std::stod(out.substr(first + 14)), 0.0) << "the warm-up pass was timed: " << out;
}

// fp16 on the CPU is fp16 storage (kernels/cpu/conv/fp16.h): it runs from AVX2 up, is refused
// below (naming what is missing) and with an fp32 --conv variant.
TEST(BenchCli, Fp16OnTheCpuRunsFromAvx2Up) {
  TinyModel m;
  ::testing::internal::CaptureStdout();
  const int rc = run(cli::run_bench,
                     {"--device", "cpu", "--precision", "fp16", "--size", "16x12", "--reps", "1", "--model", m.model});
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(rc, 0);
  EXPECT_NE(out.find("\"precision\": \"fp16\""), std::string::npos) << out;
  EXPECT_NE(out.find("fp16-storage"), std::string::npos) << out;
  microsr::testing::expect_error(
      [&] {
        run(cli::run_bench, {"--device", "cpu", "--precision", "fp16", "--conv", "conv_v1_direct", "--model", m.model});
      },
      "drop --conv");
  const kernels::CpuIsaScope baseline(kernels::CpuIsa::kBaseline);
  microsr::testing::expect_error(
      [&] {
        run(cli::run_bench, {"--device", "cpu", "--precision", "fp16", "--model", m.model});
      },
      "AVX2");
}

TEST(BenchCli, RefusesBadSizesAndDevices) {
  TinyModel m;
  EXPECT_THROW(run(cli::run_bench, {"--size", "16x", "--model", m.model}), Error);
  microsr::testing::expect_error([&] { run(cli::run_bench, {"--device", "tpu", "--model", m.model}); }, "--device");
  microsr::testing::expect_error(
      [&] {
        run(cli::run_bench, {"--device", "cpu", "--cuda-graphs", "maybe", "--model", m.model});
      },
      "on or off");
}

TEST(UpscaleDevice, BitDepthAndTiffFormatOptions) {
  TinyModel m;
  Image img;
  img.width = 6, img.height = 5, img.channels = 3, img.bit_depth = 8;
  img.pixels.resize(6 * 5 * 3);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = float(i % 13) / 12.f;
  write_image(m.at("in.png"), img);
  ASSERT_EQ(run(cli::run_upscale, {m.at("in.png"), "-o", m.at("out.tif"), "--model", m.model, "--device", "cpu",
                                   "--tile", "0", "--format", "tiff", "--bit-depth", "16"}),
            0);
  const Image out = read_image(m.at("out.tif"));
  EXPECT_EQ(out.bit_depth, 16);
  EXPECT_EQ(out.width, 24);
  EXPECT_THROW(run(cli::run_upscale, {m.at("in.png"), "-o", m.at("o.png"), "--model", m.model, "--device", "cpu",
                                      "--format", "png", "--bit-depth", "16"}),
               Error);
  EXPECT_THROW(run(cli::run_upscale,
                   {m.at("in.png"), "-o", m.at("o.tif"), "--model", m.model, "--device", "cpu", "--bit-depth", "12"}),
               Error);
  // --batch auto on the CPU is one tile at a time: the same output as --batch 1.
  ASSERT_EQ(run(cli::run_upscale, {m.at("in.png"), "-o", m.at("auto.tif"), "--model", m.model, "--device", "cpu",
                                   "--tile", "4", "--tile-pad", "1", "--batch", "auto", "--bit-depth", "16"}),
            0);
  ASSERT_EQ(run(cli::run_upscale, {m.at("in.png"), "-o", m.at("one.tif"), "--model", m.model, "--device", "cpu",
                                   "--tile", "4", "--tile-pad", "1", "--batch", "1", "--bit-depth", "16"}),
            0);
  EXPECT_EQ(read_image(m.at("auto.tif")).pixels, read_image(m.at("one.tif")).pixels);
  EXPECT_THROW(run(cli::run_upscale,
                   {m.at("in.png"), "-o", m.at("b.tif"), "--model", m.model, "--device", "cpu", "--batch", "many"}),
               Error);
}

// The parity dump gpu_check.sh makes, checked here against the CPU's file: the tiny network's
// fp32 output agrees to 16-bit quantisation; fp16 to ~1e-2.
TEST(GpuUpscaleCli, CudaWritesWhatTheCpuWrites) {
  SKIP_WITHOUT_CUDA_DEVICE();
  TinyModel m;
  write_ramps(m.at("in.png"), 13, 7, 7, 17);
  auto upscale = [&](const std::string& device, const std::string& precision, const std::string& out) {
    return run(cli::run_upscale, {m.at("in.png"), "-o", m.at(out), "--model", m.model, "--device", device,
                                  "--precision", precision, "--tile", "0", "--format", "tiff", "--bit-depth", "16"});
  };
  ASSERT_EQ(upscale("cpu", "fp32", "cpu.tif"), 0);
  ASSERT_EQ(upscale("cuda", "fp32", "cuda32.tif"), 0);
  ASSERT_EQ(upscale("cuda", "fp16", "cuda16.tif"), 0);
  // At most one quantisation step apart in fp32 (1e-4 before rounding).
  EXPECT_LE(max_difference(m.at("cpu.tif"), m.at("cuda32.tif")), 2.0 / 65535);
  EXPECT_LE(max_difference(m.at("cpu.tif"), m.at("cuda16.tif")), 1e-2);
}

// Tiles in batches on the GPU (--batch N and --batch auto, never run on a device before): blend
// tiling gives every piece one shape, so a batch is one forward pass of several pieces, and the
// image must be the one the CPU writes from the same tiles one at a time. --tile auto on the GPU
// is checked the same way against the CPU's whole image (an H200 fits this image in one piece).
TEST(GpuUpscaleCli, TileBatchesWriteWhatTheCpuWritesOneByOne) {
  SKIP_WITHOUT_CUDA_DEVICE();
  TinyModel m;
  write_ramps(m.at("in.png"), 100, 60, 13, 29);
  auto upscale = [&](const std::string& device, const std::string& out, std::vector<std::string> tiling) {
    std::vector<std::string> args = {m.at("in.png"), "-o",       m.at(out), "--model",     m.model, "--device",
                                     device,         "--format", "tiff",    "--bit-depth", "16"};
    args.insert(args.end(), tiling.begin(), tiling.end());
    return run(cli::run_upscale, args);
  };
  const std::vector<std::string> tiles = {"--tile", "32", "--tile-pad", "8"};
  auto with = [&](std::vector<std::string> a, std::initializer_list<std::string> more) {
    a.insert(a.end(), more);
    return a;
  };
  ASSERT_EQ(upscale("cpu", "cpu_tiles.tif", tiles), 0);
  ASSERT_EQ(upscale("cpu", "cpu_whole.tif", {"--tile", "0"}), 0);
  ASSERT_EQ(upscale("cuda", "batch3.tif", with(tiles, {"--batch", "3"})), 0);
  ASSERT_EQ(upscale("cuda", "batch_auto.tif", with(tiles, {"--batch", "auto"})), 0);
  ASSERT_EQ(upscale("cuda", "tile_auto.tif", {"--tile", "auto", "--tile-pad", "8", "--batch", "auto"}), 0);
  EXPECT_LE(max_difference(m.at("batch3.tif"), m.at("cpu_tiles.tif")), 2.0 / 65535);
  EXPECT_LE(max_difference(m.at("batch_auto.tif"), m.at("cpu_tiles.tif")), 2.0 / 65535);
  EXPECT_LE(max_difference(m.at("tile_auto.tif"), m.at("cpu_whole.tif")), 2.0 / 65535);
  EXPECT_GT(max_difference(m.at("cpu_tiles.tif"), m.at("cpu_whole.tif")), 2.0 / 65535)
      << "tiles and the whole image should differ at the seams, or the comparisons above tell nothing";
}

}  // namespace
