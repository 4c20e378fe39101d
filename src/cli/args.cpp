#include "args.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>

namespace microsr::cli {

Args::Args(int argc, char** argv, const std::set<std::string>& with_value, const std::set<std::string>& switches) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      std::string name = a, value;
      const auto eq = a.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) name = a.substr(0, eq), value = a.substr(eq + 1);
      if (with_value.count(name)) {
        if (!inline_value) {
          require(i + 1 < argc, "option " + name + " needs a value");
          value = argv[++i];
        }
        values_[name] = value;
      } else if (switches.count(name) && !inline_value) {
        values_[name] = "1";
      } else {
        throw Error("unknown option " + name + " (see --help)");
      }
    } else {
      positional_.push_back(a);
    }
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int Args::get_int(const std::string& name, int fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  try {
    std::size_t used = 0;
    int n = std::stoi(v, &used);
    if (used == v.size()) return n;
  } catch (const std::logic_error&) {
  }
  throw Error("option " + name + " expects an integer, got '" + v + "'");
}

double Args::get_double(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (const std::logic_error&) {
  }
  throw Error("option " + name + " expects a number, got '" + v + "'");
}

std::string default_model_path() {
  namespace fs = std::filesystem;
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("MICROSR_MODELS")) dirs.emplace_back(env);
  dirs.emplace_back("models");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path() / ".." / "models");
    dirs.push_back(exe.parent_path() / ".." / ".." / "models");
  }
  for (const auto& d : dirs)
    for (const char* name : {"RealESRGAN_x4plus.pth", "realesrgan-x4plus.param"})
      if (fs::exists(d / name)) return (d / name).lexically_normal().string();
  throw Error("no model given and RealESRGAN_x4plus not found in $MICROSR_MODELS, ./models or next to the "
              "program; run tools/fetch_weights.sh or pass --model FILE");
}

}  // namespace microsr::cli
