// Progress for long work: on a terminal one line redrawn in place, in a log one plain line per
// step. Shows the image (k of n), the tile (i of m), the rate and the time left.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace microsr::cli {

class Progress {
 public:
  explicit Progress(int images) : images_(images), tty_(is_terminal()) {}
  void start_image(int index, const std::string& name);
  void tile_done(int done, int total);
  void note(const std::string& line);  // a message that must not be overwritten

 private:
  static bool is_terminal();
  int images_;
  bool tty_;
  int index_ = 0;
  std::string name_;
  std::chrono::steady_clock::time_point image_start_;
  bool line_open_ = false;
};

}  // namespace microsr::cli
