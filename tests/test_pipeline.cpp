// microsr pipeline (issue 14, item 4): the whole job on tiny synthetic frames with a tiny model.
// A run killed with SIGKILL in the middle of its finetune stage and again in the middle of its
// upscale stage, then rerun, ends with the same CSVs and images as a run never interrupted; a
// rerun of a finished run skips every stage.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "microsr/image_io.h"
#include "microsr/synth.h"
#include "microsr/weights.h"
#include "test_helpers.h"

namespace fs = std::filesystem;

namespace microsr {
namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first `columns` fields of every line (the rest of a training log is timing).
std::string first_columns(const fs::path& p, int columns) {
  std::istringstream in(read_text(p));
  std::string out, line;
  while (std::getline(in, line)) {
    std::size_t end = 0;
    for (int c = 0; c < columns && end != std::string::npos; ++c) end = line.find(',', end + (c ? 1 : 0));
    out += line.substr(0, end) + "\n";
  }
  return out;
}

class Pipeline : public ::testing::Test {
 protected:
  static inline std::string dir;
  static void SetUpTestSuite() {
    dir = testing::temp_path("pipeline");
    fs::remove_all(dir);
    for (int field = 0; field < 8; ++field) {
      const ChipScene scene = make_chip_scene(11, field);
      RenderOptions r;
      char stem[32];
      if (field < 3) {  // three 10X frames: two to train on, one held out
        r.objective = Objective::x10, r.width = 320, r.height = 240;
        std::snprintf(stem, sizeof stem, "/tenx/field_%03d_10x.tif", field);
        fs::create_directories(dir + "/tenx");
        write_tiff(dir + stem, render_chip_scene(scene, r).image);
      }
      r.objective = Objective::x4, r.width = 128, r.height = 96;  // eight 4X frames
      std::snprintf(stem, sizeof stem, "/fourx/field_%03d_4x.tif", field);
      fs::create_directories(dir + "/fourx");
      write_tiff(dir + stem, render_chip_scene(scene, r).image);
    }
    const StateDict fixture = load_safetensors(testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors"));
    save_pth(dir + "/tiny.pth", testing::rrdbnet_weights_of(fixture));
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }

  static std::vector<std::string> arguments(const std::string& run) {
    return {MICROSR_PROGRAM, "pipeline",  "--tenx", dir + "/tenx",     "--fourx",
            dir + "/fourx",  "-o",        run,      "--preset",        "demo",
            "--epochs",      "150",       "--init", dir + "/tiny.pth", "--device",
            "cpu",           "--threads", "1",      "--eval-fraction", "0.34"};
  }
  // Runs the pipeline as a child process; when `kill_when` names a file, kills it with SIGKILL
  // as soon as that file exists and returns true when it was still running then.
  static bool run(const std::string& run_dir, const fs::path& kill_when = {}) {
    std::vector<std::string> args = arguments(run_dir);
    const pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      freopen("/dev/null", "w", stderr);
      freopen("/dev/null", "w", stdout);
      execv(argv[0], argv.data());
      _exit(127);
    }
    int status = 0;
    if (!kill_when.empty()) {
      while (waitpid(pid, &status, WNOHANG) == 0) {
        if (fs::exists(kill_when)) {
          kill(pid, SIGKILL);
          waitpid(pid, &status, 0);
          return WIFSIGNALED(status);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      return false;
    }
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "pipeline " << run_dir << " failed";
    return false;
  }
};

TEST_F(Pipeline, KilledTwiceAndRerunEqualsAnUninterruptedRun) {
  const fs::path straight = dir + "/straight", killed = dir + "/killed";
  run(straight.string());
  ASSERT_TRUE(fs::exists(straight / "run.json"));

  // Killed while fine-tuning (its first checkpoint is on disk, the weights are not), rerun;
  // killed while upscaling (one image is out, the stage is not done), rerun to the end.
  EXPECT_TRUE(run(killed.string(), killed / "finetune" / "tuned.ckpt.safetensors")) << "finished before the kill";
  EXPECT_FALSE(fs::exists(killed / "finetune" / "tuned.pth")) << "the kill came after the fine-tune";
  EXPECT_TRUE(run(killed.string(), killed / "upscaled" / "field_000_4x.tif")) << "finished before the kill";
  run(killed.string());

  for (const char* study : {"sr_pairs_10x", "sr_pairs_4x", "workflow_4x", "cross_mag"}) {
    const fs::path csv = fs::path("evaluate") / study / "detailed_metrics.csv";
    ASSERT_TRUE(fs::exists(straight / csv)) << csv;
    EXPECT_EQ(read_text(killed / csv), read_text(straight / csv)) << csv;
  }
  EXPECT_EQ(first_columns(killed / "finetune/tuned.iterations.csv", 5),
            first_columns(straight / "finetune/tuned.iterations.csv", 5));
  EXPECT_EQ(first_columns(killed / "finetune/tuned.epochs.csv", 9),
            first_columns(straight / "finetune/tuned.epochs.csv", 9));
  for (const auto& e : fs::directory_iterator(straight / "upscaled"))
    EXPECT_EQ(testing::read_bytes(e.path().string()),
              testing::read_bytes((killed / "upscaled" / e.path().filename()).string()))
        << e.path().filename();
}

TEST_F(Pipeline, ARerunOfAFinishedRunSkipsEveryStage) {
  const fs::path once = dir + "/once";
  run(once.string());
  const std::string first = read_text(once / "run.json");
  run(once.string());
  const std::string second = read_text(once / "run.json");
  for (const char* stage : {"split", "detect", "make-pairs", "finetune", "evaluate", "upscale", "report"})
    EXPECT_NE(second.find(std::string("{\"name\": \"") + stage + "\", \"status\": \"skipped\""), std::string::npos)
        << stage << " was not skipped:\n"
        << second;
  EXPECT_NE(first.find("\"status\": \"done\""), std::string::npos);
}

}  // namespace
}  // namespace microsr
