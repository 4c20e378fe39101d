// Running out of host memory on one input (issue 13, case 5): the commands that process many
// inputs report it as that input's failure — a line naming the file and, where the allocation
// knows it, the size asked for — and go on with the next; never a bare std::bad_alloc.
//
// The program runs under an address-space limit (`ulimit -v`) found by probing: the smallest
// limit under which it handles a small image, plus a margin far below what the large image needs.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>

#include "../src/cli/input_failure.h"
#include "microsr/error.h"
#include "microsr/image_io.h"
#include "microsr/weights.h"
#include "test_helpers.h"

namespace fs = std::filesystem;

namespace microsr {
namespace {

std::string failure_text_of(const std::function<void()>& fail) {
  try {
    fail();
  } catch (...) {
    return cli::input_failure_text();
  }
  return "";
}

TEST(InputFailure, NamesWhatConcernsOneInputAndPassesTheRestThrough) {
  EXPECT_EQ(failure_text_of([] { throw Error("cannot read a.png: truncated"); }), "cannot read a.png: truncated");
  EXPECT_EQ(failure_text_of([] { throw OutOfMemory("out of memory for a 9×9 tensor"); }),
            "out of memory for a 9×9 tensor");
  EXPECT_NE(failure_text_of([] {
              throw fs::filesystem_error("cannot open", "b.png", std::make_error_code(std::errc::permission_denied));
            }).find("b.png"),
            std::string::npos);
  const std::string oom = failure_text_of([] { throw std::bad_alloc(); });
  EXPECT_EQ(oom.rfind("out of memory (", 0), 0u) << oom;
  EXPECT_NE(oom.find("while processing this input"), std::string::npos) << oom;
  EXPECT_EQ(oom.find("bad_alloc"), std::string::npos) << oom;
  // A bug is not an input's failure: it reaches main's "internal error" line.
  EXPECT_THROW(failure_text_of([] { throw std::logic_error("a bug"); }), std::logic_error);
  struct Interrupted {};
  EXPECT_THROW(failure_text_of([] { throw Interrupted{}; }), Interrupted);
}

struct Outcome {
  int status = -1;
  std::string stderr_text;
};

// `microsr ARGS` in `dir` under `ulimit -v kib` (0: no limit).
Outcome run_limited(const std::string& dir, const std::string& args, int64_t kib) {
  const std::string err = dir + "/stderr.txt";
  std::string command = "cd '" + dir + "' && ";
  if (kib > 0) command += "ulimit -v " + std::to_string(kib) + " && ";
  command += std::string("'") + MICROSR_PROGRAM + "' " + args + " >/dev/null 2>'" + err + "'";
  const int raw = std::system(command.c_str());
  Outcome o;
  o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream in(err);
  std::stringstream text;
  text << in.rdbuf();
  o.stderr_text = text.str();
  return o;
}

// The smallest limit (KiB, within 8 MiB) under which `args` succeeds.
int64_t smallest_limit_that_works(const std::string& dir, const std::string& args) {
  int64_t lo = 16 << 10, hi = 8 << 20;  // 16 MiB .. 8 GiB
  if (run_limited(dir, args, hi).status != 0) return -1;
  while (hi - lo > (8 << 10)) {
    const int64_t mid = (lo + hi) / 2;
    (run_limited(dir, args, mid).status == 0 ? hi : lo) = mid;
  }
  return hi;
}

class OutOfMemoryCli : public ::testing::Test {
 protected:
  static inline std::string dir;
  static void SetUpTestSuite() {
    dir = testing::temp_path("out_of_memory");
    fs::remove_all(dir);
    fs::create_directories(dir + "/one");
    fs::create_directories(dir + "/both");
    // small: 160×120; large: 3000×2500 (86 MiB as floats, 21 MiB as 8-bit samples). Flat grey
    // with a few dark disks, so that detect and make-pairs have something to do.
    auto image = [](int w, int h) {
      Image img;
      img.width = w, img.height = h, img.channels = 3;
      img.pixels.assign(std::size_t(w) * h * 3, 0.7f);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x) {
            const int dx = x % 80 - 40, dy = y % 80 - 40;
            if (dx * dx + dy * dy < 400) img.plane(c)[std::size_t(y) * w + x] = 0.2f;
          }
      return img;
    };
    write_png(dir + "/one/a_small.png", image(160, 120));
    fs::copy_file(dir + "/one/a_small.png", dir + "/both/a_small.png");
    write_png(dir + "/both/b_large.png", image(3000, 2500));
    const StateDict fixture = load_safetensors(testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors"));
    save_safetensors(dir + "/tiny.safetensors", testing::rrdbnet_weights_of(fixture));
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }

  // Under the limit that handles the small image alone (+48 MiB), the large one must fail as an
  // out-of-memory that names it, the small one must still be done, and the exit status is 1.
  static void expect_reported_per_input(const std::string& one, const std::string& both) {
    const int64_t limit = smallest_limit_that_works(dir, one);
    ASSERT_GT(limit, 0) << "microsr " << one << " fails even without a tight limit";
    const Outcome o = run_limited(dir, both, limit + (48 << 10));
    EXPECT_EQ(o.status, 1) << o.stderr_text;
    EXPECT_NE(o.stderr_text.find("b_large.png"), std::string::npos) << o.stderr_text;
    EXPECT_NE(o.stderr_text.find("out of memory"), std::string::npos) << o.stderr_text;
    EXPECT_EQ(o.stderr_text.find("bad_alloc"), std::string::npos) << o.stderr_text;
    EXPECT_EQ(o.stderr_text.find("internal error"), std::string::npos) << o.stderr_text;
  }
};

TEST_F(OutOfMemoryCli, Detect) {
  expect_reported_per_input("detect one/a_small.png -o det_one --no-crops",
                            "detect both/a_small.png both/b_large.png -o det_both --no-crops");
  EXPECT_TRUE(fs::exists(dir + "/det_both/detections.csv"));
}

TEST_F(OutOfMemoryCli, MakePairs) {
  expect_reported_per_input("make-pairs one -o pairs_one --min-size 32", "make-pairs both -o pairs_both --min-size 32");
  EXPECT_TRUE(fs::exists(dir + "/pairs_both/hr/a_small.png"));
}

TEST_F(OutOfMemoryCli, Upscale) {
  const std::string model = " --model tiny.safetensors --device cpu --threads 1";
  expect_reported_per_input("upscale one -o up_one" + model, "upscale both -o up_both" + model);
  EXPECT_TRUE(fs::exists(dir + "/up_both/a_small.png"));
}

}  // namespace
}  // namespace microsr
