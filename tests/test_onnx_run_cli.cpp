// `microsr onnx run MODEL --input NAME=FILE.npy -o DIR`: outputs as .npy, the folding counts and the
// per-op time split printed, usage errors for bad --input, runtime errors naming the input.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/subcommands.h"
#include "microsr/npy.h"
#include "onnx_test_helpers.h"
#include "test_helpers.h"

namespace microsr {
namespace {

namespace fs = std::filesystem;
using testing::data_path;

struct OutFolder {
  std::string root = testing::temp_path("onnx_run_cli");
  OutFolder() { fs::remove_all(root); }
  ~OutFolder() { fs::remove_all(root); }
};

TEST(OnnxRunCli, WritesOutputsAndPrintsTheSplit) {
  OutFolder out;
  const std::string input = "image=" + data_path("onnx/torch_tiny/inputs/image.npy");
  ::testing::internal::CaptureStdout();
  const int status = testing::run_cli(cli::run_onnx, {"run", data_path("onnx/torch_tiny.onnx"), "--input", input,
                                                      "-o", out.root, "--threads", "1", "--runs", "2"});
  const std::string text = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0);
  const OnnxValue got = read_npy(out.root + "/features.npy");
  testing::expect_value_close(got, read_npy(data_path("onnx/torch_tiny/expected/features.npy")), 1e-5, "features.npy");
  EXPECT_NE(text.find("nodes: 70 in the model, "), std::string::npos) << text;
  EXPECT_NE(text.find("executed for these input shapes"), std::string::npos) << text;
  EXPECT_NE(text.find("time per op type:"), std::string::npos) << text;
  // torch_tiny's MatMuls are all fused (graph fusion, src/onnx/runtime_fuse.h): its attention and two with a bias.
  EXPECT_NE(text.find("  MicrosrMatMulBias "), std::string::npos) << text;
  EXPECT_NE(text.find("fused at load: 1 MicrosrAttention, 1 MicrosrGelu, 2 MicrosrMatMulBias"), std::string::npos) << text;
  EXPECT_NE(text.find("(1 threads)"), std::string::npos) << text;
}

TEST(OnnxRunCli, OutputNamesBecomeSafeFileNames) {
  OutFolder out;
  // odd_output_name.onnx names its output "../evil/y:0": the file must land inside DIR.
  ::testing::internal::CaptureStdout();
  const int status = testing::run_cli(cli::run_onnx, {"run", data_path("onnx/odd_output_name.onnx"), "--input",
                                                      "x=" + data_path("onnx/ops/cast_bool_to_float/expected/y0.npy"),
                                                      "-o", out.root + "/inner"});
  ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(fs::exists(out.root + "/inner/_.._evil_y_0.npy"));
  EXPECT_FALSE(fs::exists(out.root + "/evil"));
  EXPECT_EQ(read_npy(out.root + "/inner/_.._evil_y_0.npy").floats, (FloatBuffer{1.0f, 0.0f, 1.0f}));
}

TEST(OnnxRunCli, Errors) {
  OutFolder out;
  const std::string model = data_path("onnx/torch_tiny.onnx");
  EXPECT_THROW(testing::run_cli(cli::run_onnx, {"run", model, "--input", "image", "-o", out.root}), UsageError);
  EXPECT_THROW(testing::run_cli(cli::run_onnx, {"run", model, "--input", "=x.npy", "-o", out.root}), UsageError);
  testing::expect_error([&] { testing::run_cli(cli::run_onnx, {"run", model, "-o", out.root}); },
                        "input 'image' (float32 [batch, 3, 6, 6]) is missing");
  testing::expect_error(
      [&] {
        testing::run_cli(cli::run_onnx, {"run", model, "--input", "img=" + data_path("onnx/torch_tiny/inputs/image.npy"),
                                         "-o", out.root});
      },
      "'img' is not an input");
  testing::expect_error(
      [&] { testing::run_cli(cli::run_onnx, {"run", model, "--input", "image=/nonexistent/a.npy", "-o", out.root}); },
      "/nonexistent/a.npy");
}

}  // namespace
}  // namespace microsr
