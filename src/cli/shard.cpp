#include "shard.h"

#include <cstdlib>
#include <optional>

namespace microsr::cli {

namespace {
std::optional<long long> whole_number(const char* text) {
  if (!text || !*text) return std::nullopt;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (*end != 0) return std::nullopt;
  return v;
}

Shard checked(long long index, long long count, std::string source, const std::string& what) {
  require_usage(count >= 1 && count <= 1000000 && index >= 0 && index < count,
                what + ": shard " + std::to_string(index) + " of " + std::to_string(count) +
                    " (the index must be in [0, count), the count at least 1)");
  return {int(index), int(count), std::move(source)};
}
}  // namespace

uint64_t stable_hash(const std::string& text) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a offset basis
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool Shard::owns(const std::string& name) const { return count <= 1 || int(stable_hash(name) % count) == index; }

std::string Shard::describe() const {
  return std::to_string(index) + "/" + std::to_string(count) + " (" + source + ")";
}

Option shard_option() {
  return text("--shard", "I/N", "",
              "process only shard I of N (0-based) of the inputs; default: from\n"
              "SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX + MICROSR_SHARD_COUNT")
      .default_is("all inputs")
      .checked_by([](const std::string& v) { parse_shard(v, [](const char*) -> const char* { return nullptr; }); });
}

Shard parse_shard(const std::string& option, const std::function<const char*(const char*)>& getenv) {
  if (!option.empty()) {
    const std::size_t slash = option.find('/');
    const auto i = slash == std::string::npos ? std::nullopt : whole_number(option.substr(0, slash).c_str());
    const auto n = slash == std::string::npos ? std::nullopt : whole_number(option.substr(slash + 1).c_str());
    require_usage(i && n, "--shard wants I/N (e.g. 0/4), got '" + option + "'");
    return checked(*i, *n, "--shard", "--shard " + option);
  }
  if (const auto id = whole_number(getenv("SLURM_ARRAY_TASK_ID"))) {
    const auto count = whole_number(getenv("SLURM_ARRAY_TASK_COUNT"));
    require_usage(count.has_value(), "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
    const long long min = whole_number(getenv("SLURM_ARRAY_TASK_MIN")).value_or(0);
    return checked(*id - min, *count, "SLURM", "SLURM_ARRAY_TASK_ID");
  }
  if (const auto index = whole_number(getenv("JOB_COMPLETION_INDEX"))) {
    const auto count = whole_number(getenv("MICROSR_SHARD_COUNT"));
    require_usage(count.has_value(),
                  "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): set MICROSR_SHARD_COUNT to its "
                  "completions, or pass --shard I/N");
    return checked(*index, *count, "Kubernetes", "JOB_COMPLETION_INDEX");
  }
  return {};
}

Shard shard_from(const Args& args) {
  return parse_shard(args.get("--shard"), [](const char* name) { return std::getenv(name); });
}

}  // namespace microsr::cli
