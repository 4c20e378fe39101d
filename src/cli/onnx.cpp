// microsr onnx ACTION MODEL.onnx: ONNX models read by our own reader (src/onnx/).
//   info   what the model declares and holds: inputs, outputs, opsets, producer, op histogram,
//          initializers (parameters, bytes) and whether the weights lie in external files.
//   run    runs the model in our graph runtime on .npy inputs and writes each output as .npy.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>

#include "args.h"
#include "microsr/npy.h"
#include "microsr/onnx.h"
#include "microsr/onnx_runtime.h"
#include "microsr/onnx_sam_checks.h"
#include "subcommands.h"

namespace microsr::cli {

namespace {
const CommandSpec kSpec{"onnx",
                        "info MODEL.onnx | run MODEL.onnx --input NAME=FILE.npy ... -o DIR",
                        R"(Reads an ONNX model with microsr's own reader (no ONNX Runtime, no protobuf library), and runs
it in microsr's own graph runtime.

actions:
  info   print the graph's inputs and outputs (type and shape; symbolic dimensions by name), the
         opsets, the producer, the count of nodes per op type, the number of initializers with
         their parameters and bytes, and whether the weights are in external data files.
  run    feed each graph input from a .npy file (--input NAME=FILE.npy, once per input), run the
         graph on the CPU and write each output to DIR/<output name>.npy (characters other than
         letters, digits, '.', '-' and '_' become '_'). Prints the node counts before and after
         constant folding, the peak activation bytes and the time per op type.
)",
                        {text("--input", "NAME=FILE.npy", "", "a graph input and the .npy file that holds it").repeats(),
                         text("--output", "DIR", "", "run: the folder for the output .npy files").short_name("-o"),
                         integer("--threads", "N", "0", "run: CPU threads (0: OpenMP's default, every core)").at_least(0),
                         integer("--runs", "N", "1", "run: run the graph N times (the first run folds the shape "
                                                     "arithmetic for the input shapes); times are the last run's")
                             .at_least(1)},
                        ""};

// An output name as a file name: only [A-Za-z0-9._-], never empty, hidden or "..".
std::string file_safe(const std::string& name) {
  std::string out;
  for (char ch : name) out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.') ? ch : '_';
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out;
}

int run_model(const Args& args, const std::string& model_path) {
  require_usage(args.has("--output"), "run needs -o DIR for the output .npy files (see --help)");
  std::map<std::string, OnnxValue> feeds;
  for (const std::string& spec : args.get_all("--input")) {
    const std::size_t eq = spec.find('=');
    require_usage(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(),
                  "--input expects NAME=FILE.npy, got '" + spec + "'");
    const std::string name = spec.substr(0, eq);
    require_usage(!feeds.count(name), "--input " + name + " is given twice");
    feeds[name] = read_npy(spec.substr(eq + 1));
  }
  if (args.get_int("--threads") > 0) omp_set_num_threads(args.get_int("--threads"));
  OnnxSession session = OnnxSession::load(model_path);
  std::map<std::string, OnnxValue> outputs;
  // Wall and process CPU time (all threads) of each run; the runs after the first (which folds the
  // shape arithmetic) give the best wall time and the mean CPU time.
  double seconds = 0.0, best = 0.0, cpu_sum = 0.0;
  const int runs = args.get_int("--runs");
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    outputs = session.run(feeds);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0 || runs == 1) {
      best = (r <= 1) ? seconds : std::min(best, seconds);
      cpu_sum += static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    }
  }
  const std::filesystem::path dir = args.output();
  std::filesystem::create_directories(dir);
  std::set<std::string> used;
  for (const auto& [name, value] : outputs) {
    std::string file = file_safe(name);
    for (int k = 2; used.count(file); ++k) file = file_safe(name) + "_" + std::to_string(k);
    used.insert(file);
    write_npy((dir / (file + ".npy")).string(), value);
    std::printf("output %-24s %s -> %s\n", name.c_str(), value.describe().c_str(), (dir / (file + ".npy")).c_str());
  }
  const OnnxRunStats& s = session.stats();
  std::printf("nodes: %lld in the model, %lld after folding at load, %lld executed for these input shapes\n",
              static_cast<long long>(s.nodes_in_model), static_cast<long long>(s.nodes_after_load_folding),
              static_cast<long long>(s.nodes_executed));
  std::string fused;
  for (const auto& [op, n] : s.fused_chains) fused += (fused.empty() ? "" : ", ") + std::to_string(n) + " " + op;
  std::printf("fused at load: %s (%lld nodes after fusion; MICROSR_ONNX_NO_FUSION=1 turns it off)\n",
              fused.empty() ? "nothing" : fused.c_str(), static_cast<long long>(s.nodes_after_fusion));
  std::printf("peak activation memory: %.1f MiB; run time %.3f s (%d threads)\n",
              static_cast<double>(s.peak_activation_bytes) / (1024.0 * 1024.0), seconds, omp_get_max_threads());
  std::printf("later runs: best %.4f s wall, %.4f s CPU per run (all threads)\n", best,
              cpu_sum / std::max(1, runs > 1 ? runs - 1 : 1));
  std::vector<std::pair<double, std::string>> split;
  double total = 0.0;
  for (const auto& [op, t] : s.seconds_per_op) split.emplace_back(t, op), total += t;
  std::sort(split.rbegin(), split.rend());
  std::printf("time per op type:\n");
  for (const auto& [t, op] : split)
    std::printf("  %-20s %9.4f s %5.1f%%\n", op.c_str(), t, total > 0 ? 100.0 * t / total : 0.0);
  return 0;
}

}  // namespace

int run_onnx(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  const std::vector<std::string>& positional = args.positional();
  require_usage(!positional.empty(), "missing the action; the actions are: info, run (see --help)");
  const std::string& action = positional[0];
  require_usage(action == "info" || action == "run",
                "unknown action '" + action + "'; the actions are: info, run (see --help)");
  require_usage(positional.size() == 2, action + " takes one MODEL.onnx (see --help)");
  if (action == "run") return run_model(args, positional[1]);
  const OnnxModel model = load_onnx(positional[1]);
  std::fputs(describe_onnx(model).c_str(), stdout);
  std::fputs(sam_decoder_crop_warning(model).c_str(), stdout);  // "" unless a baked SAM crop
  return 0;
}

}  // namespace microsr::cli
