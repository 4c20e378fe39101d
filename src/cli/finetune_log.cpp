#include "finetune_log.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "microsr/error.h"

namespace microsr::cli {

namespace {
// Keeps the header and the rows whose first field (an integer) is ≤ last_kept.
void truncate_csv_after(const std::string& path, int64_t last_kept) {
  std::ifstream in(path);
  if (!in) return;
  std::ostringstream kept;
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header || (!line.empty() && std::stoll(line) <= last_kept)) kept << line << '\n';
    header = false;
  }
  in.close();
  std::ofstream(path, std::ios::trunc) << kept.str();
}

void append_line(const std::string& path, const std::string& header, const std::string& row) {
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  std::ofstream out(path, std::ios::app);
  require(out.good(), "cannot write the training log " + path);
  if (fresh) out << header << '\n';
  out << row << '\n';
}

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

TrainingLog::TrainingLog(const std::string& iterations_csv, const std::string& epochs_csv, int64_t total_iterations,
                         int64_t resume_iteration, int resume_epoch)
    : iterations_csv_(iterations_csv),
      epochs_csv_(epochs_csv),
      total_(total_iterations),
      first_iteration_(resume_iteration),
      tty_(::isatty(STDERR_FILENO)) {
  if (resume_iteration > 0) {
    truncate_csv_after(iterations_csv_, resume_iteration);
    truncate_csv_after(epochs_csv_, resume_epoch);
  } else {
    std::filesystem::remove(iterations_csv_);
    std::filesystem::remove(epochs_csv_);
  }
  start_ = last_report_ = std::chrono::steady_clock::now();
}

void TrainingLog::iteration(int64_t iteration, int epoch, double lr, double loss, double grad_norm, int batch) {
  images_ += batch;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char row[160];
  std::snprintf(row, sizeof row, "%lld,%d,%.6g,%.7f,%.6g,%.2f", (long long)iteration, epoch, lr, loss, grad_norm,
                images_ / std::max(seconds, 1e-9));
  append_line(iterations_csv_, "iteration,epoch,lr,loss,grad_norm,images_per_s", row);
  progress_line(iteration, epoch, loss, lr);
}

void TrainingLog::progress_line(int64_t iteration, int epoch, double loss, double lr) {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double per_iteration = seconds / double(iteration - first_iteration_);
  const double eta = per_iteration * double(total_ - iteration);
  const bool report = tty_ || iteration == total_ || std::chrono::duration<double>(now - last_report_).count() >= 30;
  if (!report) return;
  last_report_ = now;
  char line[200];
  std::snprintf(line, sizeof line,
                "iteration %lld/%lld  epoch %d  loss %.5f  lr %.3g  %.2f images/s  elapsed %s  left %s",
                (long long)iteration, (long long)total_, epoch, loss, lr, images_ / std::max(seconds, 1e-9),
                clock_text(seconds).c_str(), clock_text(eta).c_str());
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line);
    line_open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

void TrainingLog::epoch(const EpochRecord& r) {
  char row[200];
  std::snprintf(row, sizeof row, "%d,%.6g,%.7f,%s,%s,%s,%.1f", r.epoch, r.lr, r.mean_loss,
                r.has_val ? std::to_string(r.val_l1).c_str() : "", r.has_val ? std::to_string(r.val_psnr).c_str() : "",
                r.has_val ? std::to_string(r.val_ssim).c_str() : "", r.seconds);
  append_line(epochs_csv_, "epoch,lr,mean_loss,val_l1,val_psnr,val_ssim,seconds", row);
  std::ostringstream os;
  if (r.epoch == 0) {
    os << "before training:";
  } else {
    char loss[64];
    std::snprintf(loss, sizeof loss, "epoch %d: mean loss %.5f, lr %.3g", r.epoch, r.mean_loss, r.lr);
    os << loss;
  }
  if (r.has_val) {
    char val[128];
    std::snprintf(val, sizeof val, "%s validation L1 %.5f, PSNR %.3f dB, SSIM %.4f", r.epoch ? "," : "", r.val_l1,
                  r.val_psnr, r.val_ssim);
    os << val;
  }
  note(os.str());
}

void TrainingLog::note(const std::string& line) {
  if (line_open_) std::fputc('\n', stderr);
  line_open_ = false;
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace microsr::cli
