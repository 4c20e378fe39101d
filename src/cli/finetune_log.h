// What `microsr finetune` tells the user while it runs: a progress line (redrawn on a terminal,
// one line per reporting interval in a log), per-iteration and per-epoch CSV files, and the
// closing summary.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace microsr::cli {

struct EpochRecord {
  int epoch = 0;  // 1-based; 0 is the state before training (validation only)
  double lr = 0;
  double mean_loss = 0;  // mean training L1 over the epoch's iterations (NaN for epoch 0)
  bool has_val = false;
  double val_l1 = 0, val_psnr = 0, val_ssim = 0;
  double seconds = 0;  // since the run (or its resumption) started
};

class TrainingLog {
 public:
  // Opens (appends to) the CSV files. On a resumed run, rows after `resume_iteration` /
  // `resume_epoch` (written after the checkpoint, by the run that was interrupted) are dropped
  // first, so the files read as if the run had never stopped.
  TrainingLog(const std::string& iterations_csv, const std::string& epochs_csv, int64_t total_iterations,
              int64_t resume_iteration, int resume_epoch);

  void iteration(int64_t iteration, int epoch, double lr, double loss, double grad_norm, int batch);
  void epoch(const EpochRecord& record);
  void note(const std::string& line);  // a message that must not be overwritten by the progress line

 private:
  void progress_line(int64_t iteration, int epoch, double loss, double lr);

  std::string iterations_csv_, epochs_csv_;
  int64_t total_ = 0, first_iteration_ = 0;
  bool tty_ = false, line_open_ = false;
  std::chrono::steady_clock::time_point start_, last_report_;
  double images_ = 0;
};

}  // namespace microsr::cli
