// The plan of an upscale run: which input goes to which output, and which inputs are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/args.h"
#include "cli/image_walk.h"
#include "cli/upscale_jobs.h"
#include "test_helpers.h"

using namespace microsr;
using namespace microsr::cli;
namespace fs = std::filesystem;

namespace {

// A scratch tree: in/a.png, in/b.TIF, in/sub/c.jpg, in/notes.txt, in/empty/.
struct Tree {
  fs::path root = microsr::testing::temp_path("plan");
  Tree() {
    fs::remove_all(root);
    fs::create_directories(root / "in/sub");
    fs::create_directories(root / "in/empty");
    for (const char* f : {"in/a.png", "in/b.TIF", "in/sub/c.jpg", "in/notes.txt"}) std::ofstream(root / f) << "x";
  }
  ~Tree() { fs::remove_all(root); }
  std::string at(const std::string& p) const { return (root / p).string(); }
};

TEST(UpscalePlan, OneFileToOneFile) {
  Tree t;
  const auto plan = plan_upscale({t.at("in/a.png")}, t.at("x4.png"), {});
  ASSERT_EQ(plan.jobs.size(), 1u);
  EXPECT_EQ(plan.jobs[0].output, t.at("x4.png"));
  EXPECT_TRUE(plan.problems.empty());
}

TEST(UpscalePlan, FolderIsSearchedRecursivelyAndMirrored) {
  Tree t;
  PlanOptions opt;
  opt.suffix = "_x4";
  const auto plan = plan_upscale({t.at("in")}, t.at("out"), opt);
  ASSERT_EQ(plan.jobs.size(), 3u);
  EXPECT_EQ(plan.jobs[0].output, t.at("out/a_x4.png"));
  EXPECT_EQ(plan.jobs[1].output, t.at("out/b_x4.TIF"));      // TIFF stays TIFF
  EXPECT_EQ(plan.jobs[2].output, t.at("out/sub/c_x4.png"));  // JPEG becomes PNG, subfolder kept
  EXPECT_TRUE(plan.problems.empty());                        // notes.txt is not an image and is simply not listed
}

TEST(UpscalePlan, FormatOptionAndCollisions) {
  Tree t;
  std::ofstream(t.root / "in/a.tif") << "x";  // a.png and a.tif both become out/a.png
  PlanOptions opt;
  opt.format = "png";
  const auto plan = plan_upscale({t.at("in/a.png"), t.at("in/a.tif")}, t.at("out"), opt);
  ASSERT_EQ(plan.jobs.size(), 1u);
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_NE(plan.problems[0].find("another input"), std::string::npos) << plan.problems[0];
  opt.format = "jpeg";
  EXPECT_THROW(plan_upscale({t.at("in/a.png")}, t.at("out"), opt), Error);
}

TEST(UpscalePlan, ProblemsAreReportedOnePerInput) {
  Tree t;
  const auto plan =
      plan_upscale({t.at("missing.png"), t.at("in/notes.txt"), t.at("in/empty"), t.at("in/a.png")}, t.at("out"), {});
  EXPECT_EQ(plan.jobs.size(), 1u);
  ASSERT_EQ(plan.problems.size(), 3u);
  EXPECT_NE(plan.problems[0].find("no such file"), std::string::npos);
  EXPECT_NE(plan.problems[1].find("not an image"), std::string::npos);
  EXPECT_NE(plan.problems[2].find("no images"), std::string::npos);
}

// /dev/zero exists: it is not "missing", it is not a file to read (issue 13, case 9).
TEST(UpscalePlan, ADeviceIsNotCalledMissing) {
  Tree t;
  const auto plan = plan_upscale({"/dev/zero"}, t.at("out"), {});
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_NE(plan.problems[0].find("not a regular file or folder"), std::string::npos) << plan.problems[0];
}

TEST(UpscalePlan, NeverReplacesTheInput) {
  Tree t;
  const auto plan = plan_upscale({t.at("in/a.png"), t.at("in/b.TIF")}, t.at("in"), {});
  EXPECT_TRUE(plan.jobs.empty());
  EXPECT_EQ(plan.problems.size(), 2u);
}

// An output folder under a regular file names the file in the way, not a raw filesystem_error
// (issue 13, case 9).
TEST(OutputFolder, AFileInTheWayIsNamed) {
  Tree t;
  const std::filesystem::path file = t.at("in/a.png");
  microsr::testing::expect_error([&] { create_output_folder(file / "sub" / "deeper"); },
                                 file.string() + " is a file, not a folder");
  create_output_folder(t.at("out/new/deeper"));
  EXPECT_TRUE(std::filesystem::is_directory(t.at("out/new/deeper")));
}

// A MICROSR_MODELS that is set but holds no model is refused, not passed over (issue 13, case 9).
TEST(DefaultModel, AMisleadingMicrosrModelsIsRefused) {
  const char* before = std::getenv("MICROSR_MODELS");
  const std::string saved = before ? before : "";
  Tree t;
  setenv("MICROSR_MODELS", t.at("nowhere").c_str(), 1);
  microsr::testing::expect_error([] { default_model_path(); }, "is not a folder");
  setenv("MICROSR_MODELS", t.at("in").c_str(), 1);
  microsr::testing::expect_error([] { default_model_path(); }, "holds neither");
  if (before)
    setenv("MICROSR_MODELS", saved.c_str(), 1);
  else
    unsetenv("MICROSR_MODELS");
}

}  // namespace
