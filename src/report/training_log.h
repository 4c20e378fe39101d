// finetune's per-epoch log (DIR/NAME.epochs.csv, include/microsr/finetune.h) as the report's
// training curve reads it.
#pragma once
#include <string>
#include <vector>

namespace microsr::report {

struct TrainingLog {
  std::string file;
  // One entry per row, in file order. Epoch 0 is the model before training (its mean_loss is
  // "nan"); an empty field (no validation set, no EMA) reads as NaN.
  std::vector<double> epoch, mean_loss, val_psnr, val_ssim, ema_val_psnr, ema_val_ssim, seconds;

  // Whether any row has a validation value of the plain weights (params) / of the EMA (params_ema).
  bool has_validation() const;
  bool has_ema_validation() const;
  int epochs_trained() const;  // the largest epoch number (0: none)
};

// Columns are found by their header names (epoch and mean_loss are required; val_psnr, val_ssim,
// ema_val_psnr, ema_val_ssim and seconds are optional, so a log from before the EMA columns
// reads too). Throws Error naming the file and line for anything else.
TrainingLog read_epochs_csv(const std::string& path);

}  // namespace microsr::report
