// Microdisk detection on a full 10X frame (2592×1944), end to end and step by step.
//   * The image: $MICROSR_BENCH_IMAGE when set (tools/bench_detect_opencv.py sets it, so that
//     OpenCV and we time the same pixels), else field 0 of `microsr synth --mag 10x --seed 1`.
//   * BM_DetectDisks/classical:0: detect_disks() with the default DetectParams, from the decoded
//     image (float planes) to the list of detections: all stages. /classical:1: stage 1 alone (no
//     splitting, no circle fits), step for step what OpenCV runs. tools/bench_detect_opencv.py
//     compares both with the same pipeline in OpenCV. No file I/O, no crops.
//   * BM_Step/*: each step alone, on the intermediate the pipeline feeds it.
// Threads: OpenMP's default (all cores); the comparison script sets OMP_NUM_THREADS=2.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "microsr/detect.h"
#include "microsr/image_io.h"
#include "microsr/synth.h"

using namespace microsr;

namespace {

const Image& bench_image() {
  static const Image image = [] {
    const char* path = std::getenv("MICROSR_BENCH_IMAGE");
    if (path) return read_image(path);
    RenderOptions options;  // a full 10X frame: `microsr synth --mag 10x --seed 1`, field 0
    options.objective = Objective::x10;
    return render_chip_scene(make_chip_scene(1, 0), options).image;
  }();
  return image;
}

void label(benchmark::State& state) {
  const Image& image = bench_image();
  state.SetLabel(std::to_string(image.width) + "x" + std::to_string(image.height));
}

// The whole pipeline with the default DetectParams (stage 1, stage 2's splitting and circle fits), or
// (classical = 1) stage 1 alone: the seed's pipeline, step for step what OpenCV runs.
void BM_DetectDisks(benchmark::State& state) {
  const Image& image = bench_image();
  DetectParams params;
  params.split = params.fit_circles = state.range(0) == 0;
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
  DetectionResult classical;
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
    s.classical = detect_classical(s.gray, p);
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
void BM_Step_Split(benchmark::State& state) {
  const DetectParams p;
  int cut = 0;
  for (auto _ : state) {
    state.PauseTiming();
    DetectionResult result = stages().classical;
    state.ResumeTiming();
    cut = split_merged_disks(result, p);
  }
  state.counters["blobs_cut"] = cut;
  label(state);
}
void BM_Step_CircleFits(benchmark::State& state) {
  const DetectionResult& r = stages().classical;
  for (auto _ : state) {
    double sum = 0;
    for (std::size_t i = 0; i < r.detections.size(); ++i)
      if (Circle c; r.detections[i].accepted && fit_circle(r.outlines[i], c) &&
                    fit_circle_to_edge(stages().gray, false, c, &stages().blurred))
        sum += c.r;
    benchmark::DoNotOptimize(sum);
  }
  label(state);
}

}  // namespace

BENCHMARK(BM_DetectDisks)->ArgName("classical")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_Gray)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_Blur)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_AdaptiveThreshold)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_OpenClose)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_Contours)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_Split)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Step_CircleFits)->Unit(benchmark::kMillisecond)->UseRealTime();
