// The exit-status contract of every command (README, "Exit status"), on the built program:
// 0 done (and --help), 1 failed inputs or a runtime error, 2 usage error (unknown or bad option,
// bad value, missing argument). 130 (interrupted) is test_interrupts.cpp's.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_helpers.h"

namespace fs = std::filesystem;

namespace {

const char* const kCommands[] = {"upscale",  "detect", "synth", "make-pairs", "finetune",
                                 "evaluate", "report", "info",  "onnx",       "bench"};

// The exit status of `microsr ARGS` (output discarded), run in `dir`.
int status_of(const std::string& args, const std::string& dir = ".") {
  const std::string command = "cd '" + dir + "' && '" + MICROSR_PROGRAM + "' " + args + " >/dev/null 2>&1";
  const int raw = std::system(command.c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

struct Folder {
  std::string root = microsr::testing::temp_path("cli_exit_status");
  Folder() {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~Folder() { fs::remove_all(root); }
};

TEST(CliExitStatus, HelpIsZeroForEveryCommand) {
  EXPECT_EQ(status_of("--help"), 0);
  for (const std::string c : kCommands) {
    EXPECT_EQ(status_of(c + " --help"), 0) << c;
    EXPECT_EQ(status_of(c + " -h"), 0) << c;
  }
}

TEST(CliExitStatus, AnUnknownOptionIsTwoForEveryCommand) {
  Folder f;
  for (const std::string c : kCommands) EXPECT_EQ(status_of(c + " --bogus", f.root), 2) << c;
  EXPECT_EQ(status_of("", f.root), 2);
  EXPECT_EQ(status_of("nosuchcommand", f.root), 2);
  EXPECT_TRUE(fs::is_empty(f.root)) << "a usage error wrote something";
}

TEST(CliExitStatus, ABadValueIsTwoForEveryCommand) {
  Folder f;
  for (const std::string args : {"upscale in.png -o out.png --threads -3",
                                 "upscale in.png -o out.png --tile -1",
                                 "upscale in.png -o out.png --tile-mode sideways",
                                 "upscale in.png -o out.png --batch 0",
                                 "upscale in.png -o out.png --device tpu",
                                 "detect in.png -o crops --blur abc",
                                 "detect in.png -o crops --split-saddle 1.5",
                                 "synth -o fields --count 0",
                                 "synth -o fields --mag 3x",
                                 "make-pairs crops -o pairs --scale 0",
                                 "make-pairs crops -o pairs --order sideways",
                                 "finetune --pairs pairs -o x.pth --epochs 0",
                                 "finetune --pairs pairs -o x.pth --lr 2",
                                 "info --layers=yes",
                                 "bench --reps 0",
                                 "bench --size 16x",
                                 "bench --mode sideways",
                                 "evaluate truth -o ev --grids -1",
                                 "evaluate truth -o ev --metrics psnr",
                                 "upscale in.png -o out.png --shard 2/2",
                                 "detect in.png -o d --shard x"})
    EXPECT_EQ(status_of(args, f.root), 2) << args;
  EXPECT_TRUE(fs::is_empty(f.root)) << "a usage error wrote something";
}

TEST(CliExitStatus, AMissingArgumentIsTwoForEveryCommand) {
  Folder f;
  for (const std::string args :
       {"upscale in.png", "upscale in.png -o", "detect in.png", "synth", "make-pairs -o pairs", "finetune -o x.pth",
        "finetune --pairs pairs", "info a.pth b.pth", "onnx", "onnx run m.onnx", "bench --size", "evaluate -o ev",
        "evaluate truth", "evaluate truth -o ev"})
    EXPECT_EQ(status_of(args, f.root), 2) << args;
  EXPECT_TRUE(fs::is_empty(f.root)) << "a usage error wrote something";
}

// Issue 13, cases 7 and 8: an -o the writers cannot write, or a file name for several outputs.
TEST(CliExitStatus, AnUnusableUpscaleOutputIsTwo) {
  Folder f;
  const std::string png = microsr::testing::data_path("segment/disks.png");
  EXPECT_EQ(status_of("upscale '" + png + "' -o out.jpg", f.root), 2);
  EXPECT_EQ(status_of("upscale '" + png + "' -o out.bmp", f.root), 2);
  EXPECT_EQ(status_of("upscale '" + png + "' '" + png + "' -o two.png", f.root), 2);
  EXPECT_EQ(status_of("upscale '" + fs::path(png).parent_path().string() + "' -o folder.tif", f.root), 2);
  EXPECT_TRUE(fs::is_empty(f.root)) << "a usage error wrote something";
}

TEST(CliExitStatus, ARuntimeErrorIsOne) {
  Folder f;
  EXPECT_EQ(status_of("info missing.pth", f.root), 1);
  EXPECT_EQ(status_of("onnx info missing.onnx", f.root), 1);
  EXPECT_EQ(status_of("make-pairs missing -o pairs", f.root), 1);
}

}  // namespace
