// Ctrl-C during a long command (issue 13, case 10): the first interrupt lets the current step
// finish and the command return 130 with its finished outputs complete; a second one stops the
// process at once, also with 130. Run in death-test children, which get the real signals.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "cli/interrupts.h"
#include "cli/subcommands.h"
#include "microsr/image_io.h"
#include "microsr/weights.h"
#include "test_helpers.h"

using namespace microsr;
namespace fs = std::filesystem;

namespace {

TEST(Interrupts, TheFirstAsksTheSecondStopsAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        cli::InterruptGuard guard;
        std::raise(SIGINT);
        if (!cli::InterruptGuard::requested()) ::_exit(1);  // the first only asks
        std::raise(SIGINT);
        ::_exit(2);  // not reached
      },
      ::testing::ExitedWithCode(130), "stopped at once");
  // Once the guard is gone, the default handlers are back.
  EXPECT_EXIT(
      {
        { cli::InterruptGuard guard; }
        std::raise(SIGINT);
        ::_exit(3);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

// A folder run on the CPU with a tiny model and enough tiles to take a while: interrupted once,
// it returns 130 after the current tile, saying what is complete. (A second interrupt is the
// guard's, tested above: a tiny model's tile ends too soon to aim one at it reliably.)
TEST(Interrupts, UpscaleStopsAfterTheCurrentTile) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const fs::path root = microsr::testing::temp_path("interrupts");
  fs::remove_all(root);
  fs::create_directories(root / "in");
  const std::string model = (root / "tiny.safetensors").string();
  save_safetensors(model, microsr::testing::rrdbnet_weights_of(
                              load_safetensors(microsr::testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors"))));
  Image img;
  img.width = 400, img.height = 300, img.channels = 3;
  img.pixels.assign(std::size_t(400) * 300 * 3, 0.5f);
  for (int i = 0; i < 6; ++i) write_image((root / "in" / ("f" + std::to_string(i) + ".png")).string(), img);
  const auto run = [&] {
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      std::raise(SIGINT);
    }).detach();
    ::_exit(
        microsr::testing::run_cli(cli::run_upscale, {(root / "in").string(), "-o", (root / "out").string(), "--model",
                                                     model, "--device", "cpu", "--tile", "16", "--overwrite"}));
  };
  EXPECT_EXIT(run(), ::testing::ExitedWithCode(130), "interrupted: [0-9]+ image\\(s\\) finished and complete");
  fs::remove_all(root);
}

}  // namespace
