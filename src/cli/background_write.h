// One image file written on a thread of its own, so that `microsr upscale` encodes image i while
// the network works on image i + 1. On the H200 (2026-12-04) writing one 6400×4800 output took
// 7-10 s against 0.33 s of network: written in turn, the GPU waited on the encoder.
#pragma once
#include <chrono>
#include <future>
#include <string>
#include <utility>

#include "microsr/image_io.h"

namespace microsr::cli {

class BackgroundWrite {
 public:
  // Starts writing `image` to `target` (write_image: atomic, so an interrupted write leaves
  // nothing behind). `message` is what the caller prints once the file is complete.
  BackgroundWrite(std::string input, std::string target, Image image, std::string message)
      : input_(std::move(input)), message_(std::move(message)) {
    done_ = std::async(std::launch::async, [target = std::move(target), image = std::move(image)] {
      const auto start = std::chrono::steady_clock::now();
      write_image(target, image, format_from_extension(target));
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    });
  }

  // Waits for the file. Returns the seconds the write took; rethrows its Error.
  double wait() { return done_.get(); }

  const std::string& input() const { return input_; }
  const std::string& message() const { return message_; }

 private:
  std::string input_, message_;
  std::future<double> done_;
};

}  // namespace microsr::cli
