// Training checkpoints: weights, optimizer state and resume metadata in one safetensors file.
#include "io/file_bytes.h"
#include "microsr/train.h"

namespace microsr {

namespace {
constexpr const char* kWeightsPrefix = "weights.";
constexpr const char* kOptimizerPrefix = "optimizer.";
constexpr const char* kFormatKey = "microsr_checkpoint";
constexpr const char* kFormatVersion = "1";
}  // namespace

void save_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint) {
  StateDict all;
  for (const auto& [key, t] : checkpoint.weights.entries) all.add(kWeightsPrefix + key, t);
  for (const auto& [key, t] : checkpoint.optimizer.entries) all.add(kOptimizerPrefix + key, t);
  std::map<std::string, std::string> info = checkpoint.info;
  info.insert_or_assign(kFormatKey, std::string(kFormatVersion));
  io::replace_file_atomically(path, [&](const std::string& temp) { save_safetensors(temp, all, info); });
}

TrainingCheckpoint load_checkpoint(const std::string& path) {
  TrainingCheckpoint checkpoint;
  const StateDict all = load_safetensors(path, &checkpoint.info);
  const auto version = checkpoint.info.find(kFormatKey);
  require(version != checkpoint.info.end(),
          path + ": not a microsr training checkpoint (no '" + kFormatKey + "' metadata)");
  require(version->second == kFormatVersion, path + ": checkpoint format " + version->second +
                                                 " is not the one this build reads (" + kFormatVersion + ")");
  for (const auto& [key, t] : all.entries) {
    if (key.starts_with(kWeightsPrefix))
      checkpoint.weights.add(key.substr(std::string(kWeightsPrefix).size()), t);
    else if (key.starts_with(kOptimizerPrefix))
      checkpoint.optimizer.add(key.substr(std::string(kOptimizerPrefix).size()), t);
    else
      throw Error(path + ": unexpected tensor '" + key + "' in a training checkpoint");
  }
  return checkpoint;
}

}  // namespace microsr
