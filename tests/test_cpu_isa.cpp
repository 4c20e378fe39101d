// Run-time instruction-set dispatch (kernels/cpu/cpu_isa.h): detection against the kernel's own
// view of the CPU (/proc/cpuinfo flags), parsing of the MICROSR_CPU_ISA override, and every path
// this machine can run — each level from baseline up to the detected one — giving the reference's
// output on a small convolution (every weight format) and on a tiny RRDBNet (PyTorch fixture).
// ctest also reruns the CPU kernel suites with MICROSR_CPU_ISA=baseline and =avx2
// (tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "microsr/backend.h"
#include "microsr/error.h"
#include "microsr/rrdbnet.h"
#include "test_helpers.h"

namespace microsr::kernels {
namespace {

// The "flags" line of the first processor in /proc/cpuinfo (Linux reports only what the kernel
// enables, so it reflects the OS-saved state as XGETBV does).
std::set<std::string> cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      std::set<std::string> flags;
      for (std::string flag; words >> flag;) flags.insert(flag);
      return flags;
    }
  return {};
}

// The levels this machine can run, lowest first.
std::vector<CpuIsa> runnable_levels() {
  int count = 0;
  const CpuIsa* levels = cpu_isa_levels(&count);
  std::vector<CpuIsa> runnable;
  for (int i = 0; i < count; ++i)
    if (static_cast<int>(levels[i]) <= static_cast<int>(detected_cpu_isa())) runnable.push_back(levels[i]);
  return runnable;
}

TEST(CpuIsa, DetectionAgreesWithProcCpuinfo) {
  const std::set<std::string> flags = cpuinfo_flags();
  ASSERT_FALSE(flags.empty()) << "/proc/cpuinfo has no flags line";
  const auto has = [&](std::initializer_list<const char*> names) {
    return std::all_of(names.begin(), names.end(), [&](const char* n) { return flags.count(n) > 0; });
  };
  const int detected = static_cast<int>(detected_cpu_isa());
  std::printf("  detected: %s\n", cpu_isa_name(detected_cpu_isa()));
  EXPECT_EQ(detected >= static_cast<int>(CpuIsa::kAvx2), has({"avx2", "fma", "f16c"}));
  EXPECT_EQ(detected >= static_cast<int>(CpuIsa::kAvx512),
            has({"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq"}));
  EXPECT_EQ(detected >= static_cast<int>(CpuIsa::kAvx512Bf16),
            has({"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"}));
  if (detected >= static_cast<int>(CpuIsa::kAmx)) {
    EXPECT_TRUE(has({"amx_tile", "amx_bf16"}));
  }
}

TEST(CpuIsa, OverrideParsing) {
  EXPECT_EQ(resolve_cpu_isa(nullptr, CpuIsa::kAvx512), CpuIsa::kAvx512);
  EXPECT_EQ(resolve_cpu_isa("", CpuIsa::kAvx2), CpuIsa::kAvx2);
  EXPECT_EQ(resolve_cpu_isa("baseline", CpuIsa::kAvx2), CpuIsa::kBaseline);
  EXPECT_EQ(resolve_cpu_isa("avx2", CpuIsa::kAmx), CpuIsa::kAvx2);
  EXPECT_EQ(resolve_cpu_isa("avx512_bf16", CpuIsa::kAmx), CpuIsa::kAvx512Bf16);
  int count = 0;
  const CpuIsa* levels = cpu_isa_levels(&count);
  EXPECT_EQ(count, 5);
  for (int i = 0; i < count; ++i) EXPECT_EQ(parse_cpu_isa(cpu_isa_name(levels[i])), levels[i]);
  try {  // above the CPU: an error naming what it has
    resolve_cpu_isa("avx512", CpuIsa::kAvx2);
    ADD_FAILURE() << "avx512 on an avx2 CPU should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avx2"), std::string::npos) << e.what();
  }
  try {  // not a level: an error listing them
    resolve_cpu_isa("sse9", CpuIsa::kAmx);
    ADD_FAILURE() << "an unknown name should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("baseline, avx2, avx512, avx512_bf16, amx"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_cpu_isa("AVX2"), Error);  // names are lower case, as printed
}

TEST(CpuIsa, ScopeLowersAndRestores) {
  const CpuIsa before = active_cpu_isa();
  {
    const CpuIsaScope scope(CpuIsa::kBaseline);
    EXPECT_EQ(active_cpu_isa(), CpuIsa::kBaseline);
    EXPECT_FALSE(cpu_isa_at_least(CpuIsa::kAvx2));
    EXPECT_NE(make_cpu_backend()->name().find("baseline kernels"), std::string::npos) << make_cpu_backend()->name();
  }
  EXPECT_EQ(active_cpu_isa(), before);
  if (detected_cpu_isa() != CpuIsa::kAmx) {
    EXPECT_THROW(set_active_cpu_isa(CpuIsa::kAmx), Error);
  }
}

// Every weight format at every runnable level against the reference: 3x3 (Winograd and direct)
// and 5x5, odd sizes, bias, LeakyReLU, scale and a residual. Tolerance as tests/test_conv_cpu.cpp:
// 3e-5 of the same convolution on |x|, |w| (Winograd's transforms scale rounding with it), + 1e-6.
TEST(CpuIsa, EveryRunnablePathMatchesReferenceConv) {
  const int cin = 13, cout = 11, h = 19, w = 23;
  for (int k : {3, 5}) {
    const std::vector<float> x = testing::random_values(size_t(cin) * h * w, 1);
    const std::vector<float> weight = testing::random_values(size_t(cout) * cin * k * k, 2, -0.3f, 0.3f);
    const std::vector<float> bias = testing::random_values(cout, 3);
    const std::vector<float> residual = testing::random_values(size_t(cout) * h * w, 4);
    ConvEpilogue epi;
    epi.has_lrelu = true, epi.scale = 0.2f, epi.residual = residual.data();
    std::vector<float> want(size_t(cout) * h * w), bound(want.size());
    conv2d_same_ref(want.data(), x.data(), weight.data(), bias.data(), cin, cout, h, w, k, epi);
    const std::vector<float> ax = testing::absolute(x), aw = testing::absolute(weight), ab = testing::absolute(bias);
    conv2d_same_ref(bound.data(), ax.data(), aw.data(), ab.data(), cin, cout, h, w, k, {});
    for (CpuIsa isa : runnable_levels()) {
      const CpuIsaScope scope(isa);
      std::vector<ConvWeightFormat> formats = conv_weight_formats();
      formats.push_back(best_conv_weight_format(cin, cout, k));
      for (ConvWeightFormat format : formats) {
        const bool winograd = format == ConvWeightFormat::kWinograd43 || format == ConvWeightFormat::kWinograd43Avx512;
        if (winograd && k != 3) continue;  // Winograd formats exist for 3x3 only
        const PackedConvWeights packed = pack_conv_weights(weight.data(), bias.data(), cin, cout, k, format);
        std::vector<float> got(want.size(), NAN);
        conv2d_packed(got.data(), x.data(), packed, h, w, epi);
        double worst = -1;
        for (size_t i = 0; i < got.size(); ++i)
          worst = std::max(worst, std::abs(double(got[i]) - want[i]) - (3e-5 * bound[i] + 1e-6));
        EXPECT_LE(worst, 0.0) << cpu_isa_name(isa) << " " << conv_weight_format_name(format) << " k=" << k;
      }
    }
  }
}

// The best format follows the level: Winograd for 3x3 (the AVX-512 layout from avx512 up).
TEST(CpuIsa, BestFormatFollowsTheLevel) {
  for (CpuIsa isa : runnable_levels()) {
    const CpuIsaScope scope(isa);
    const bool avx512 = static_cast<int>(isa) >= static_cast<int>(CpuIsa::kAvx512);
    EXPECT_EQ(best_conv_weight_format(64, 32, 3),
              avx512 ? ConvWeightFormat::kWinograd43Avx512 : ConvWeightFormat::kWinograd43)
        << cpu_isa_name(isa);
    EXPECT_EQ(best_conv_weight_format(64, 32, 1), ConvWeightFormat::kDirect16);
    const bool lists_v5 = std::any_of(conv2d_variants().begin(), conv2d_variants().end(), [](const Conv2dVariant& v) {
      return std::string(v.name) == "conv_v5_winograd43_avx512";
    });
    EXPECT_EQ(lists_v5, avx512) << cpu_isa_name(isa);
    if (!avx512) {
      EXPECT_THROW(conv2d_variant("conv_v5_winograd43_avx512"), Error);
    }
  }
}

// A tiny RRDBNet (PyTorch float64 fixture, tests/test_rrdbnet.cpp) through the CPU backend at
// every runnable level: the whole network within 1e-4 of PyTorch on each path.
TEST(CpuIsa, EveryRunnablePathMatchesPyTorchRrdbnet) {
  const StateDict fixture = load_safetensors(testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors"));
  const StateDict weights = testing::rrdbnet_weights_of(fixture);
  const Tensor& want = fixture.at("output");
  for (CpuIsa isa : runnable_levels()) {
    const CpuIsaScope scope(isa);
    auto backend = make_cpu_backend();
    EXPECT_NE(backend->name().find(std::string(cpu_isa_name(isa)) + " kernels"), std::string::npos)
        << backend->name();
    RRDBNet net(infer_rrdbnet_config(weights), weights, *backend);
    const Tensor got = net.forward(fixture.at("input"));
    ASSERT_EQ(got.numel(), want.numel());
    double worst = 0;
    for (int64_t i = 0; i < got.numel(); ++i) worst = std::max(worst, std::abs(double(got.f32()[i]) - want.f32()[i]));
    std::printf("  %-11s max |microsr - PyTorch| = %.2g\n", cpu_isa_name(isa), worst);
    EXPECT_LT(worst, 1e-4) << cpu_isa_name(isa);
  }
}

}  // namespace
}  // namespace microsr::kernels
