#include "report/training_log.h"

#include <algorithm>
#include <cmath>

#include "microsr/error.h"
#include "report/csv_text.h"

namespace microsr::report {

namespace {

bool any_finite(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

}  // namespace

bool TrainingLog::has_validation() const { return any_finite(val_psnr); }
bool TrainingLog::has_ema_validation() const { return any_finite(ema_val_psnr); }

int TrainingLog::epochs_trained() const {
  double last = 0;
  for (const double e : epoch) last = std::max(last, e);
  return int(last);
}

TrainingLog read_epochs_csv(const std::string& path) {
  const std::vector<CsvRecord> records = parse_csv(read_text_file(path), path);
  require(!records.empty(), path + ": empty (expected finetune's epochs.csv, header epoch,lr,mean_loss,...)");
  const std::vector<std::string>& header = records.front().fields;
  auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : int(it - header.begin());
  };
  const int epoch = column("epoch"), loss = column("mean_loss");
  require(epoch >= 0 && loss >= 0,
          path + ": the header has no epoch or no mean_loss column (is this finetune's NAME.epochs.csv?)");
  struct Wanted {
    int index;
    std::vector<double>* into;
  };
  TrainingLog log;
  log.file = path;
  const Wanted wanted[] = {{epoch, &log.epoch},
                           {loss, &log.mean_loss},
                           {column("val_psnr"), &log.val_psnr},
                           {column("val_ssim"), &log.val_ssim},
                           {column("ema_val_psnr"), &log.ema_val_psnr},
                           {column("ema_val_ssim"), &log.ema_val_ssim},
                           {column("seconds"), &log.seconds}};
  for (std::size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& record = records[r];
    const std::string where = path + ":" + std::to_string(record.line);
    require(record.fields.size() == header.size(), where + ": " + std::to_string(record.fields.size()) +
                                                       " fields, the header has " + std::to_string(header.size()));
    for (const Wanted& w : wanted)
      w.into->push_back(w.index < 0 ? NAN
                                    : parse_csv_number(record.fields[std::size_t(w.index)],
                                                       where + " (" + header[std::size_t(w.index)] + ")"));
    require(std::isfinite(log.epoch.back()), where + ": the epoch is not a number");
  }
  require(!log.epoch.empty(), path + ": no rows after the header");
  return log;
}

}  // namespace microsr::report
