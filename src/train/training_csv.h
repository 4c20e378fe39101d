// The two CSV logs of a fine-tuning run (see include/microsr/finetune.h for their columns).
// Rows are appended as the run goes, so a run killed at any moment keeps every row it finished.
#pragma once
#include <cstdint>
#include <string>

#include "microsr/finetune.h"

namespace microsr::train_detail {

class TrainingCsv {
 public:
  // A fresh run (resume_iteration 0) starts both files anew. A resumed one keeps the header and
  // the rows up to its checkpoint (iteration ≤ resume_iteration, epoch ≤ resume_epoch) and
  // drops the rest, which the interrupted run wrote after its last checkpoint.
  TrainingCsv(std::string iterations_csv, std::string epochs_csv, int64_t resume_iteration, int resume_epoch);

  void iteration(const IterationRecord& record);
  void epoch(const EpochRecord& record);

 private:
  std::string iterations_csv_, epochs_csv_;
};

}  // namespace microsr::train_detail
