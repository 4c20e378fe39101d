#include "pipeline_stages.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/file_bytes.h"
#include "io/json_min.h"
#include "microsr/error.h"
#include "shard.h"

namespace fs = std::filesystem;

namespace microsr::cli {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

std::string clock_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d", int(seconds) / 60, int(seconds) % 60);
  return buf;
}

// A stage's manifest: its inputs hash, status, and (when done) the time and memory it took.
struct Manifest {
  std::string inputs, status;
  double seconds = 0, peak_rss_mb = 0;
};

Manifest read_manifest(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  try {
    const io::JsonValue root = io::parse_json(text.str(), path.string());
    const io::JsonValue* inputs = root.get("inputs");
    const io::JsonValue* status = root.get("status");
    const io::JsonValue* seconds = root.get("seconds");
    const io::JsonValue* peak = root.get("peak_rss_mb");
    if (!inputs || !status) return {};
    return {inputs->text, status->text, seconds ? std::stod(seconds->text) : 0, peak ? std::stod(peak->text) : 0};
  } catch (const std::exception&) {  // a damaged manifest: the stage runs again from scratch
  }
  return {};
}

void write_manifest(const fs::path& path, const StageRecord& r, const std::string& status) {
  char numbers[96];
  std::snprintf(numbers, sizeof numbers, "\"seconds\": %.2f, \"peak_rss_mb\": %.1f", r.seconds, r.peak_rss_mb);
  io::write_text_atomically(path.string(), "{\"inputs\": " + io::json_quote(r.inputs) + ", \"status\": \"" + status +
                                               "\", " + numbers + "}\n");
}

}  // namespace

std::string content_hash(const std::vector<std::string>& paths, const std::string& settings) {
  uint64_t h = stable_hash(settings);
  auto mix = [&](const void* data, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  for (const std::string& root : paths) {
    std::vector<fs::path> files;
    if (fs::is_directory(root)) {
      for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file() && e.path().filename().string().front() != '.') files.push_back(e.path());
    } else if (fs::is_regular_file(root)) {
      files.push_back(root);
    }
    std::sort(files.begin(), files.end());
    mix(root.data(), root.size());
    std::vector<char> buffer(1 << 20);
    for (const fs::path& f : files) {
      const std::string name = fs::relative(f, fs::is_directory(root) ? fs::path(root) : f.parent_path()).string();
      mix(name.data(), name.size() + 1);
      std::ifstream in(f, std::ios::binary);
      while (in.read(buffer.data(), std::streamsize(buffer.size())) || in.gcount() > 0)
        mix(buffer.data(), std::size_t(in.gcount()));
    }
  }
  char text[24];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

PipelineRun::PipelineRun(std::string run_dir, std::vector<std::string> arguments, int stage_count)
    : dir_(std::move(run_dir)), arguments_(std::move(arguments)), stage_count_(stage_count), started_(now_seconds()) {
  fs::create_directories(fs::path(dir_) / "stages");
}

void PipelineRun::note(const std::string& key, const std::string& value) { settings_.emplace_back(key, value); }

int PipelineRun::stage(const std::string& name, const std::string& output_dir, const std::string& files_hash,
                       const std::function<int()>& work) {
  // Another microsr version may make other outputs from the same inputs: it reruns the stage.
  const std::string inputs_hash = content_hash({}, files_hash + " microsr " MICROSR_VERSION);
  const fs::path manifest = fs::path(dir_) / "stages" / (name + ".json");
  const Manifest previous = read_manifest(manifest);
  const int number = int(stages_.size()) + 1;
  std::fprintf(stderr, "\n== [%d/%d] %s  (run time %s) ==\n", number, stage_count_, name.c_str(),
               clock_text(now_seconds() - started_).c_str());
  StageRecord record{name, "skipped", previous.seconds, previous.peak_rss_mb, inputs_hash};
  if (previous.inputs == inputs_hash && previous.status == "done") {
    std::fprintf(stderr, "%s: finished before with the same inputs, skipped\n", name.c_str());
    stages_.push_back(record);  // with the time and memory it took when it ran
    write_run_json();
    return 0;
  }
  if (!previous.inputs.empty() && previous.inputs != inputs_hash && !output_dir.empty()) {
    std::fprintf(stderr, "%s: its inputs changed since the last run; starting it over\n", name.c_str());
    fs::remove_all(output_dir);
  } else if (previous.status == "running") {
    std::fprintf(stderr, "%s: cut short last time; resuming\n", name.c_str());
  }
  write_manifest(manifest, record, "running");
  const double start = now_seconds();
  const int status = work();
  record.seconds = now_seconds() - start;
  record.peak_rss_mb = peak_rss_mb();
  record.status = status == 0 ? "done" : status == 130 ? "interrupted" : "failed";
  if (status == 0) write_manifest(manifest, record, "done");
  stages_.push_back(record);
  write_run_json();
  return status;
}

void PipelineRun::write_run_json() const {
  std::ostringstream j;
  j << "{\n  \"microsr\": \"" << MICROSR_VERSION << "\",\n  \"arguments\": [";
  for (std::size_t i = 0; i < arguments_.size(); ++i) j << (i ? ", " : "") << io::json_quote(arguments_[i]);
  char started[64];
  const std::time_t t = std::time_t(started_);
  std::strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  j << "],\n  \"started\": \"" << started << "\",\n  \"settings\": {";
  for (std::size_t i = 0; i < settings_.size(); ++i)
    j << (i ? ", " : "") << io::json_quote(settings_[i].first) << ": " << io::json_quote(settings_[i].second);
  j << "},\n  \"stages\": [";
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    const StageRecord& s = stages_[i];
    char numbers[96];
    std::snprintf(numbers, sizeof numbers, "\"seconds\": %.2f, \"peak_rss_mb\": %.1f", s.seconds, s.peak_rss_mb);
    j << (i ? ",\n" : "\n") << "    {\"name\": " << io::json_quote(s.name) << ", \"status\": \"" << s.status << "\", "
      << numbers << ", \"inputs\": \"" << s.inputs << "\"}";
  }
  j << "\n  ]\n}\n";
  io::write_text_atomically((fs::path(dir_) / "run.json").string(), j.str());
}

}  // namespace microsr::cli
