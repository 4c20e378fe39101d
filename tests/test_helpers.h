// Shared helpers for the tests: fixture paths, and tensor comparison that reports the worst element.
#pragma once
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "microsr/tensor.h"
#include "microsr/weights.h"

namespace microsr::testing {

// The fixtures folder: the one this build was configured from, unless MICROSR_TEST_DATA names another
// (tools/gpu_check.sh runs binaries built on another machine, where the source tree lies elsewhere).
inline std::string data_path(const std::string& relative) {
  const char* moved = std::getenv("MICROSR_TEST_DATA");
  return std::string(moved && *moved ? moved : MICROSR_TEST_DATA) + "/" + relative;
}

// A scratch file name, unique to this process (ctest runs tests in parallel processes).
inline std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "microsr_" + std::to_string(::getpid()) + "_" + name;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Fuzz loops visit every `stride`-th byte (file I/O dominates their time); set
// MICROSR_FUZZ_EVERY_BYTE=1 to visit all, e.g. in a -fsanitize=address build.
inline std::size_t fuzz_stride(std::size_t stride) { return std::getenv("MICROSR_FUZZ_EVERY_BYTE") ? 1 : stride; }

// The weight fixtures of tools/make_weight_fixtures.py: element i of the t-th tensor is
// ((37 i + 11 t) mod 255 - 127) / 128, exact in float32, float16 and bfloat16.
inline float pattern(int64_t t, int64_t i) { return static_cast<float>((37 * i + 11 * t) % 255 - 127) / 128.0f; }
inline std::string fixture(const std::string& name) { return data_path("weights/" + name); }

// Runs a subcommand (cli::run_upscale, …) with these arguments, as main() would; returns its exit code.
inline int run_cli(int (*command)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return command(int(argv.size()), argv.data());
}

// n floats drawn uniformly from [lo, hi) with a fixed seed.
inline std::vector<float> random_values(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}
// |v|, elementwise (for error bounds proportional to the sum of absolute terms).
inline std::vector<float> absolute(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  return v;
}

// The network weights of a tests/data/rrdbnet fixture (which also holds "input", "output" and the
// recorded activations "act.*").
inline StateDict rrdbnet_weights_of(const StateDict& fixture) {
  StateDict w;
  for (const auto& [name, t] : fixture.entries)
    if (name != "input" && name != "output" && !name.starts_with("act.")) w.add(name, t);
  return w;
}

inline std::vector<float> values(const Tensor& t) { return std::vector<float>(t.f32(), t.f32() + t.numel()); }

// Expects `fn` to throw microsr::Error whose message contains `needle`.
template <class Fn>
void expect_error(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// The folder with the real RealESRGAN_x4plus weights (the test command fetches them), or "".
inline std::string models_dir() {
  const char* env = std::getenv("MICROSR_MODELS");
  const std::string dir = env ? env : std::string(MICROSR_SOURCE_DIR) + "/models";
  return std::filesystem::exists(dir + "/realesrgan-x4plus.bin") ||
                 std::filesystem::exists(dir + "/RealESRGAN_x4plus.pth")
             ? dir
             : "";
}

// RealESRGAN_x4plus's weights as the PyTorch references were computed from them: the ncnn
// release's, which are the official fp32 weights rounded to fp16 (so the official .pth, when
// that is all there is, is rounded the same way). The empty dict when not fetched.
inline StateDict real_x4plus_weights() {
  const std::string dir = models_dir();
  if (dir.empty()) return {};
  const bool have_ncnn = std::filesystem::exists(dir + "/realesrgan-x4plus.param");
  StateDict sd = load_rrdbnet_weights(have_ncnn ? dir + "/realesrgan-x4plus.param" : dir + "/RealESRGAN_x4plus.pth");
  if (!have_ncnn)
    for (auto& [name, t] : sd.entries)
      if (name.ends_with(".weight"))
        for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = half_to_float(float_to_half(t.f32()[i]));
  return sd;
}

struct Difference {
  double max_abs = 0;
  int64_t worst_index = -1;
  float got = 0, expected = 0;
};

inline Difference compare(const Tensor& got, const Tensor& expected) {
  Difference d;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double e = std::abs(double(got.f32()[i]) - expected.f32()[i]);
    if (!(e <= d.max_abs)) d.max_abs = e, d.worst_index = i, d.got = got.f32()[i], d.expected = expected.f32()[i];
  }
  return d;
}

// Asserts same shape and max |got - expected| <= tolerance; prints the worst element otherwise.
inline void expect_close(const Tensor& got, const Tensor& expected, double tolerance, const std::string& what) {
  ASSERT_EQ(shape_str(got.shape()), shape_str(expected.shape())) << what;
  const Difference d = compare(got, expected);
  EXPECT_LE(d.max_abs, tolerance) << what << ": worst element #" << d.worst_index << " is " << d.got << ", expected "
                                  << d.expected;
}

}  // namespace microsr::testing
