// Sharded runs on a cluster, with the cluster's own scheduler: n copies of one command, each
// taking a stable 1/n of the inputs (upscale, detect, evaluate). docs/cluster.md has the sbatch
// array script and the Kubernetes Indexed Job.
//
// Which shard a process is:
//   --shard i/n                    explicit (0 ≤ i < n);
//   else SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (the ID minus SLURM_ARRAY_TASK_MIN, so
//   an array 1-8 works as well as 0-7);
//   else JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) with MICROSR_SHARD_COUNT (the Job's
//   completions, which Kubernetes does not pass on);
//   else the only shard.
// An input belongs to shard FNV-1a(name) mod n, where name is the input's path as the command
// lists it (relative to a folder given on the command line): the same on every node, whatever
// the order or the other inputs.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "args.h"

namespace microsr::cli {

struct Shard {
  int index = 0, count = 1;
  std::string source = "none";  // "--shard", "SLURM", "Kubernetes", "none"

  bool owns(const std::string& name) const;
  std::string describe() const;  // "2/8 (SLURM)"
};

// 64-bit FNV-1a of the bytes of `text`.
uint64_t stable_hash(const std::string& text);

Option shard_option();
// From --shard, else the environment (see above). Throws UsageError on a malformed value.
Shard shard_from(const Args& args);
// The same from text and an environment lookup (for tests).
Shard parse_shard(const std::string& option, const std::function<const char*(const char*)>& getenv);

}  // namespace microsr::cli
