#include "training_csv.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "microsr/error.h"

namespace microsr::train_detail {

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

void append_line(const std::string& path, const char* header, const std::string& row) {
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  std::ofstream out(path, std::ios::app);
  require(out.good(), "cannot write the training log " + path);
  if (fresh) out << header << '\n';
  out << row << '\n';
}

// An optional validation figure: empty when there was no validation.
std::string optional_field(bool present, double value) { return present ? std::to_string(value) : ""; }
}  // namespace

TrainingCsv::TrainingCsv(std::string iterations_csv, std::string epochs_csv, int64_t resume_iteration, int resume_epoch)
    : iterations_csv_(std::move(iterations_csv)), epochs_csv_(std::move(epochs_csv)) {
  if (resume_iteration > 0) {
    truncate_csv_after(iterations_csv_, resume_iteration);
    truncate_csv_after(epochs_csv_, resume_epoch);
  } else {
    std::filesystem::remove(iterations_csv_);
    std::filesystem::remove(epochs_csv_);
  }
}

void TrainingCsv::iteration(const IterationRecord& r) {
  char row[160];
  std::snprintf(row, sizeof row, "%lld,%d,%.6g,%.7f,%.6g,%.2f", (long long)r.iteration, r.epoch, r.lr, r.loss,
                r.grad_norm, r.images_per_second);
  append_line(iterations_csv_, "iteration,epoch,lr,loss,grad_norm,images_per_s", row);
}

void TrainingCsv::epoch(const EpochRecord& r) {
  char row[320];
  std::snprintf(row, sizeof row, "%d,%.6g,%.7f,%s,%s,%s,%s,%s,%s,%.1f", r.epoch, r.lr, r.mean_loss,
                optional_field(r.has_val, r.val.l1).c_str(), optional_field(r.has_val, r.val.psnr).c_str(),
                optional_field(r.has_val, r.val.ssim).c_str(), optional_field(r.has_ema_val, r.ema_val.l1).c_str(),
                optional_field(r.has_ema_val, r.ema_val.psnr).c_str(),
                optional_field(r.has_ema_val, r.ema_val.ssim).c_str(), r.seconds);
  append_line(epochs_csv_, "epoch,lr,mean_loss,val_l1,val_psnr,val_ssim,ema_val_l1,ema_val_psnr,ema_val_ssim,seconds",
              row);
}

}  // namespace microsr::train_detail
