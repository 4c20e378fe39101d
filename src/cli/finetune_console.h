// What `microsr finetune` tells the person watching while it runs: a progress line (redrawn on
// a terminal, one line per 30 s in a log), each epoch's summary, and the run's notes. Ctrl-C
// (InterruptGuard) becomes the run's stop request. The CSV logs are the library's
// (include/microsr/finetune.h).
#pragma once
#include <chrono>
#include <string>

#include "interrupts.h"
#include "microsr/finetune.h"

namespace microsr::cli {

class FinetuneConsole : public FinetuneObserver {
 public:
  FinetuneConsole();
  void note(const std::string& line) override;  // never overwritten by the progress line
  void iteration(const IterationRecord& record) override;
  void epoch(const EpochRecord& record) override;
  bool stop_requested() override { return InterruptGuard::requested(); }

 private:
  bool tty_ = false, line_open_ = false;
  int64_t first_iteration_ = -1;  // the first iteration this process ran (resumes start later)
  std::chrono::steady_clock::time_point last_report_;
  InterruptGuard interrupts_;  // Ctrl-C: checkpoint after this iteration and stop; twice: at once
};

}  // namespace microsr::cli
