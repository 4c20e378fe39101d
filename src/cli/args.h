// A small command-line reader shared by the subcommands: positional arguments, --flag VALUE,
// --flag=VALUE and boolean --switches; unknown options are errors with the subcommand's usage.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "microsr/error.h"

namespace microsr::cli {

class Args {
 public:
  // `with_value` lists the options that take a value; `switches` the boolean ones.
  Args(int argc, char** argv, const std::set<std::string>& with_value, const std::set<std::string>& switches);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  int get_int(const std::string& name, int fallback) const;
  double get_double(const std::string& name, double fallback) const;
  // The value of -o or its long form --output ("" when neither was given).
  std::string output() const { return has("-o") ? get("-o") : get("--output"); }
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// Where the default model lives: $MICROSR_MODELS, ./models, or <program dir>/../models; in each,
// RealESRGAN_x4plus.pth first, then the ncnn pair realesrgan-x4plus.param/.bin.
std::string default_model_path();

}  // namespace microsr::cli
