// Microdisk detection on a full 10X frame (2592×1944), end to end and step by step.
//   * The image: $MICROSR_BENCH_IMAGE when set (tools/bench_detect_opencv.py sets it, so that
//     OpenCV and we time the same pixels), else a built-in synthetic field of disks.
//   * BM_DetectDisks: detect_disks() with the default DetectParams, from the decoded image (float
//     planes) to the list of detections — what tools/bench_detect_opencv.py compares with the same
//     pipeline in OpenCV. No file I/O, no crops.
//   * BM_Step/*: each step alone, on the intermediate the pipeline feeds it.
// Threads: OpenMP's default (all cores); the comparison script sets OMP_NUM_THREADS=2.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "microsr/detect.h"
#include "microsr/image_io.h"

using namespace microsr;

namespace {

// Bright rimmed disks on a lattice over a vignetted, noisy substrate (RGB, 8-bit).
Image synthetic_field(int width, int height) {
  Image image;
  image.width = width, image.height = height, image.channels = 3, image.bit_depth = 8;
  const std::size_t plane = std::size_t(width) * height;
  image.pixels.resize(3 * plane);
  std::mt19937 rng(3);
  const double pitch = 120, radius = 40;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = (x - 0.5 * width) / width, v = (y - 0.5 * height) / height;
      double value = 0.36 * (1 - 0.5 * (u * u + v * v));
      const double dx = std::fmod(x + pitch / 2, pitch) - pitch / 2, dy = std::fmod(y + pitch / 2, pitch) - pitch / 2;
      const double r = std::hypot(dx, dy);
      if (r < radius) value = r > radius - 3 ? 0.78 : 0.62;
      value += (rng() / 4294967296.0 - 0.5) * 0.04;
      for (int c = 0; c < 3; ++c)
        image.pixels[c * plane + std::size_t(y) * width + x] = float(std::round(std::clamp(value, 0.0, 1.0) * 255) / 255);
    }
  return image;
}

const Image& bench_image() {
  static const Image image = [] {
    const char* path = std::getenv("MICROSR_BENCH_IMAGE");
    return path ? read_image(path) : synthetic_field(2592, 1944);
  }();
  return image;
}

void label(benchmark::State& state) {
  const Image& image = bench_image();
  state.SetLabel(std::to_string(image.width) + "x" + std::to_string(image.height));
}

void BM_DetectDisks(benchmark::State& state) {
  const Image& image = bench_image();
  const DetectParams params;
  std::size_t found = 0;
  for (auto _ : state) {
    const DetectionResult result = detect_disks(image, params);
    found = 0;
    for (const Detection& d : result.detections) found += d.accepted;
    benchmark::DoNotOptimize(found);
  }
  state.counters["disks"] = double(found);
  label(state);
}

// The intermediates of the default pipeline, computed once.
struct Stages {
  Plane8 gray, blurred, mask, opened, closed;
};
const Stages& stages() {
  static const Stages s = [] {
    const DetectParams p;
    Stages s;
    s.gray = to_gray8(bench_image());
    s.blurred = gaussian_blur8(s.gray, p.blur);
    s.mask = adaptive_threshold_gaussian(s.blurred, p.block_size, p.c, ThresholdType::binary);
    s.opened = open_ellipse(s.mask, p.open);
    s.closed = close_ellipse(s.opened, p.close);
    return s;
  }();
  return s;
}

void BM_Step_Gray(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(to_gray8(bench_image()).pixels.data());
  label(state);
}
void BM_Step_Blur(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(gaussian_blur8(stages().gray, DetectParams{}.blur).pixels.data());
  label(state);
}
void BM_Step_AdaptiveThreshold(benchmark::State& state) {
  const DetectParams p;
  for (auto _ : state)
    benchmark::DoNotOptimize(
        adaptive_threshold_gaussian(stages().blurred, p.block_size, p.c, ThresholdType::binary).pixels.data());
  label(state);
}
void BM_Step_OpenClose(benchmark::State& state) {
  const DetectParams p;
  for (auto _ : state)
    benchmark::DoNotOptimize(close_ellipse(open_ellipse(stages().mask, p.open), p.close).pixels.data());
  label(state);
}
void BM_Step_Contours(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(find_external_contours(stages().closed).size());
  label(state);
}

}  // namespace

BENCHMARK(BM_DetectDisks)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_Gray)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_Blur)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_AdaptiveThreshold)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_OpenClose)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_Contours)->Unit(benchmark::kMillisecond)->UseRealTime();
