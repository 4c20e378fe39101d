// The bookkeeping of `microsr pipeline`: each stage's manifest, the content hash of its inputs,
// and RUN/run.json.
//
// RUN/stages/NAME.json records a stage's inputs hash and whether it finished. On a rerun:
//   finished, same inputs  → skipped;
//   cut short, same inputs → run again, and the command resumes (finetune from its checkpoint,
//                            make-pairs and upscale keep the outputs they finished);
//   other inputs           → its output folder is cleared and it starts over.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace microsr::cli {

// FNV-1a over the relative names and bytes of every file below `paths` (files or folders, in
// sorted order; hidden files — an atomic write's partials — left out), and `settings`.
std::string content_hash(const std::vector<std::string>& paths, const std::string& settings);

struct StageRecord {
  std::string name, status;  // done, skipped, failed, interrupted
  double seconds = 0, peak_rss_mb = 0;
  std::string inputs;  // the content hash
};

class PipelineRun {
 public:
  PipelineRun(std::string run_dir, std::vector<std::string> arguments, int stage_count);

  // Runs stage `name` (whose outputs live in `output_dir`, "" = none of its own) unless it is
  // finished with these inputs. `work` returns an exit status: 0 done, 130 interrupted, else
  // failed. Returns that status (0 for a skipped stage).
  int stage(const std::string& name, const std::string& output_dir, const std::string& inputs_hash,
            const std::function<int()>& work);

  void note(const std::string& key, const std::string& value);  // a setting for run.json
  void write_run_json() const;                                  // RUN/run.json, atomically; called after every stage

 private:
  std::string dir_;
  std::vector<std::string> arguments_;
  std::vector<std::pair<std::string, std::string>> settings_;
  std::vector<StageRecord> stages_;
  int stage_count_ = 0;
  double started_ = 0;  // seconds since the epoch
};

}  // namespace microsr::cli
