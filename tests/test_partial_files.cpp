// Leftover partial files (issue 13, case 6): a process killed between writing ".NAME.partial-PID"
// and renaming it leaves the file behind. The next atomic write into that folder — an image, a
// checkpoint, a CSV: every writer goes through io::partial_path_for — removes the partial files
// whose process is gone, and only those.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/file_bytes.h"
#include "microsr/image_io.h"
#include "test_helpers.h"

using namespace microsr;
namespace fs = std::filesystem;

namespace {

// The pid of a process that has exited and been reaped: no process has it (until the system
// reuses it, which takes tens of thousands of new processes).
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

void touch(const fs::path& p) { std::ofstream(p) << "partial"; }

TEST(PartialFiles, TheNextWriteIntoAFolderRemovesTheDeadOnesOnly) {
  for (const std::string writer : {"image", "text"}) {
    const fs::path dir = microsr::testing::temp_path("partials_" + writer);
    fs::remove_all(dir);
    fs::create_directories(dir);
    const pid_t dead = dead_pid();
    const fs::path stale = dir / (".old.png.partial-" + std::to_string(dead));
    const fs::path stale_checkpoint = dir / (".ckpt.safetensors.partial-" + std::to_string(dead));
    const fs::path live = dir / (".busy.tif.partial-" + std::to_string(::getpid()));  // a writer at work
    const fs::path not_ours = dir / ".notes.partial-draft";                           // no pid: left alone
    const fs::path plain = dir / "old.png";
    for (const auto& p : {stale, stale_checkpoint, live, not_ours, plain}) touch(p);

    if (writer == "image") {
      Image img;
      img.width = 2, img.height = 2, img.channels = 1;
      img.pixels.assign(4, 0.5f);
      write_image((dir / "new.png").string(), img);
    } else {
      io::write_text_atomically((dir / "new.csv").string(), "a,b\n");
    }
    EXPECT_FALSE(fs::exists(stale)) << writer;
    EXPECT_FALSE(fs::exists(stale_checkpoint)) << writer;
    EXPECT_TRUE(fs::exists(live)) << writer;
    EXPECT_TRUE(fs::exists(not_ours)) << writer;
    EXPECT_TRUE(fs::exists(plain)) << writer;
    fs::remove_all(dir);
  }
}

TEST(PartialFiles, RemoveStalePartialsCountsWhatItRemoved) {
  const fs::path dir = microsr::testing::temp_path("partials_count");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const pid_t dead = dead_pid();
  touch(dir / (".a.partial-" + std::to_string(dead)));
  touch(dir / (".b.partial-" + std::to_string(dead)));
  touch(dir / ("c.partial-" + std::to_string(dead)));  // not hidden: not a name our writers make
  EXPECT_EQ(io::remove_stale_partials(dir.string()), 2);
  EXPECT_TRUE(fs::exists(dir / ("c.partial-" + std::to_string(dead))));
  EXPECT_EQ(io::remove_stale_partials((dir / "missing").string()), 0);  // a missing folder: nothing, no error
  fs::remove_all(dir);
}

}  // namespace
