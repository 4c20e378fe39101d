// Writing one upscaled 4X frame: 6400×4800 RGB, the output of `microsr upscale` on a 1600×1200
// camera frame. On the H200 (2026-12-04) the network took 0.33 s a frame and writing took 7.3 s
// (PNG) or 10.3 s (16-bit TIFF): the GPU sat waiting on the encoder. These cases time the encoders
// alone, from the float planes in memory to the finished file, so that a change to them is
// measured before it is chosen.
//   * The image: field 0 of `microsr synth --mag 4x --seed 1` (1600×1200, noisy like a camera
//     frame), enlarged ×4 with bicubic interpolation: smooth at the pixel scale, like SR output.
//   * BM_WriteImage/<format>: png = 8-bit PNG, tiff8 / tiff16 = Deflate TIFF of 8 / 16 bits.
//     Counters: MB/s of raw samples (width × height × 3 × bytes per sample) and the file's
//     size as a fraction of them.
// Threads: OpenMP's default (all cores); OMP_NUM_THREADS=1 times one core.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "microsr/image_io.h"
#include "microsr/imgproc.h"
#include "microsr/synth.h"

using namespace microsr;

namespace {

const Image& upscaled_frame() {
  static const Image image = [] {
    RenderOptions options;
    options.objective = Objective::x4;
    const Image frame = render_chip_scene(make_chip_scene(1, 0), options).image;
    Image big;
    big.width = frame.width * 4, big.height = frame.height * 4, big.channels = frame.channels;
    big.pixels.resize(std::size_t(big.width) * big.height * big.channels);
    resize_planes(big.pixels.data(), big.width, big.height, frame.pixels.data(), frame.width, frame.height,
                  frame.channels, ResizeFilter::cubic_opencv);
    for (float& v : big.pixels) v = v < 0.f ? 0.f : v > 1.f ? 1.f : v;  // bicubic overshoots
    return big;
  }();
  return image;
}

void BM_WriteImage(benchmark::State& state, ImageFormat format, int bit_depth) {
  Image image = upscaled_frame();
  image.bit_depth = bit_depth;
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("microsr_bench_write_" + std::to_string(::getpid()) + (format == ImageFormat::png ? ".png" : ".tif")))
          .string();
  for (auto _ : state) write_image(path, image, format);
  const double raw = double(image.width) * image.height * image.channels * (bit_depth / 8);
  state.counters["MB_per_s"] = benchmark::Counter(raw / 1e6 * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["size_ratio"] = double(std::filesystem::file_size(path)) / raw;
  state.SetLabel(std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                 std::to_string(image.channels) + " " + std::to_string(bit_depth) + "-bit");
  std::filesystem::remove(path);
}

BENCHMARK_CAPTURE(BM_WriteImage, png, ImageFormat::png, 8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteImage, tiff8, ImageFormat::tiff, 8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteImage, tiff16, ImageFormat::tiff, 16)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
