#include "progress.h"

#include <unistd.h>

namespace microsr::cli {

bool Progress::is_terminal() { return isatty(fileno(stderr)) != 0; }

void Progress::start_image(int index, const std::string& name) {
  index_ = index;
  name_ = name;
  image_start_ = std::chrono::steady_clock::now();
}

void Progress::tile_done(int done, int total) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - image_start_).count();
  const double per_tile = done ? seconds / done : 0;
  const double eta = per_tile * (total - done);
  if (tty_) {
    constexpr int kBarWidth = 24;
    const int filled = total ? kBarWidth * done / total : 0;
    std::fprintf(stderr, "\r[%d/%d] %s [%s%s] tile %d/%d  %.1f s/tile  ETA %.0f s  ", index_, images_, name_.c_str(),
                 std::string(filled, '#').c_str(), std::string(kBarWidth - filled, '.').c_str(), done, total, per_tile,
                 eta);
    line_open_ = done < total;
    if (!line_open_) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "[%d/%d] %s: tile %d/%d, %.1f s/tile, ETA %.0f s\n", index_, images_, name_.c_str(), done,
                 total, per_tile, eta);
  }
  std::fflush(stderr);
}

void Progress::note(const std::string& line) {
  if (line_open_) std::fputc('\n', stderr);
  line_open_ = false;
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace microsr::cli
