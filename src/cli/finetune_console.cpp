#include "finetune_console.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace microsr::cli {

namespace {
std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = int64_t(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  return buf;
}
}  // namespace

FinetuneConsole::FinetuneConsole() : tty_(::isatty(STDERR_FILENO)), last_report_(std::chrono::steady_clock::now()) {}

void FinetuneConsole::iteration(const IterationRecord& r) {
  if (first_iteration_ < 0) first_iteration_ = r.iteration - 1;
  const auto now = std::chrono::steady_clock::now();
  const bool report = tty_ || r.iteration == r.total || std::chrono::duration<double>(now - last_report_).count() >= 30;
  if (!report) return;
  last_report_ = now;
  const double per_iteration = r.seconds / double(r.iteration - first_iteration_);
  const double eta = per_iteration * double(r.total - r.iteration);
  char line[200];
  std::snprintf(line, sizeof line,
                "iteration %lld/%lld  epoch %d  loss %.5f  lr %.3g  %.2f images/s  elapsed %s  left %s",
                (long long)r.iteration, (long long)r.total, r.epoch, r.loss, r.lr, r.images_per_second,
                clock_text(r.seconds).c_str(), clock_text(eta).c_str());
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line);
    line_open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

void FinetuneConsole::epoch(const EpochRecord& r) {
  std::ostringstream os;
  if (r.epoch == 0) {
    os << "before training:";
  } else {
    char loss[64];
    std::snprintf(loss, sizeof loss, "epoch %d: mean loss %.5f, lr %.3g", r.epoch, r.mean_loss, r.lr);
    os << loss;
  }
  auto scores = [](const char* name, const ValidationScores& v) {
    char text[128];
    std::snprintf(text, sizeof text, " %s L1 %.5f, PSNR %.3f dB, SSIM %.4f", name, v.l1, v.psnr, v.ssim);
    return std::string(text);
  };
  if (r.has_val) os << (r.epoch ? ";" : "") << " validation" << scores("params", r.val);
  if (r.has_ema_val) os << ";" << scores("params_ema", r.ema_val);
  note(os.str());
}

void FinetuneConsole::note(const std::string& line) {
  if (line_open_) std::fputc('\n', stderr);
  line_open_ = false;
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace microsr::cli
