// Study folders made by hand for the report's tests, as `microsr evaluate` writes them
// (docs/evaluation.md): detailed_metrics.csv with known values, and a summary.json computed from
// those values (as printed in the CSV) with the statistics functions of include/microsr/statistics.h.
#pragma once
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/json_min.h"
#include "microsr/image_io.h"
#include "microsr/statistics.h"

namespace microsr::testing::report_fixture {

namespace fs = std::filesystem;

struct StudySpec {
  std::string study, title, convention;
  std::vector<std::string> metrics;
  std::vector<std::string> better;  // per metric: "higher" or "lower"
  std::vector<std::string> methods;
  std::vector<std::pair<std::string, std::string>> compare;  // (first, second)
  std::vector<std::string> images;
  std::function<double(std::size_t image, std::size_t method, std::size_t metric)> value;
  std::vector<std::pair<std::string, std::string>> grids;  // (image, file relative to the folder)
  std::vector<std::string> notes;
  std::vector<std::pair<std::string, std::string>> settings;
};

inline std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

inline std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

inline std::string json_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A small RGB test image (a gradient with a bright disk), for grids and overlays.
inline Image test_picture(int width, int height) {
  Image image;
  image.width = width, image.height = height, image.channels = 3;
  image.pixels.resize(std::size_t(3) * width * height);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const double dx = x - width / 2.0, dy = y - height / 2.0;
        const bool disk = dx * dx + dy * dy < height * height / 9.0;
        image.plane(c)[std::size_t(y) * width + x] = disk ? 0.9f : float(0.1 + 0.3 * x / width + 0.1 * c);
      }
  return image;
}

// Writes DIR/detailed_metrics.csv, DIR/summary.json and the grid PNGs.
inline void write_study_folder(const std::string& dir, const StudySpec& s) {
  fs::create_directories(dir);
  // The CSV, and the values as it prints them (what evaluate's statistics see).
  std::map<std::pair<std::string, std::string>, std::map<std::string, double>> finite;  // (method, metric) → image → v
  std::map<std::pair<std::string, std::string>, std::size_t> left_out;
  std::string csv = "image,method";
  for (const std::string& m : s.metrics) csv += "," + m;
  csv += "\n";
  for (std::size_t i = 0; i < s.images.size(); ++i)
    for (std::size_t k = 0; k < s.methods.size(); ++k) {
      csv += csv_field(s.images[i]) + "," + csv_field(s.methods[k]);
      for (std::size_t m = 0; m < s.metrics.size(); ++m) {
        const std::string printed = csv_number(s.value(i, k, m));
        csv += "," + printed;
        const double v = std::strtod(printed.c_str(), nullptr);
        if (std::isfinite(v))
          finite[{s.methods[k], s.metrics[m]}][s.images[i]] = v;
        else
          ++left_out[{s.methods[k], s.metrics[m]}];
      }
      csv += "\n";
    }
  std::ofstream(dir + "/detailed_metrics.csv", std::ios::binary) << csv;

  auto list = [](const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + io::json_quote(items[i]);
    return out + "]";
  };
  std::string j = "{\n  \"study\": " + io::json_quote(s.study) + ",\n  \"title\": " + io::json_quote(s.title) +
                  ",\n  \"convention\": " + io::json_quote(s.convention) + ",\n  \"metrics\": " + list(s.metrics) +
                  ",\n  \"better\": {";
  for (std::size_t m = 0; m < s.metrics.size(); ++m)
    j += (m ? ", " : "") + io::json_quote(s.metrics[m]) + ": " + io::json_quote(s.better[m]);
  j += "},\n  \"methods\": " + list(s.methods) + ",\n  \"summary\": [";
  bool first = true;
  for (const std::string& method : s.methods)
    for (const std::string& metric : s.metrics) {
      std::vector<double> v;
      for (const auto& [image, value] : finite[{method, metric}]) v.push_back(value);  // image-name order
      const Summary sum = summarize(v);
      j += std::string(first ? "\n" : ",\n") + "    {\"method\": " + io::json_quote(method) +
           ", \"metric\": " + io::json_quote(metric) + ", \"count\": " + std::to_string(sum.count) +
           ", \"mean\": " + json_number(sum.mean) + ", \"median\": " + json_number(sum.median) +
           ", \"low\": " + json_number(sum.mean_interval.low) + ", \"high\": " + json_number(sum.mean_interval.high);
      if (const std::size_t n = left_out[{method, metric}]) j += ", \"left_out\": " + std::to_string(n);
      j += "}";
      first = false;
    }
  j += "\n  ],\n  \"comparisons\": [";
  first = true;
  for (const auto& [a, b] : s.compare)
    for (std::size_t m = 0; m < s.metrics.size(); ++m) {
      const auto& va = finite[{a, s.metrics[m]}];
      const auto& vb = finite[{b, s.metrics[m]}];
      std::vector<double> x, y;
      for (const auto& [image, value] : va)
        if (const auto it = vb.find(image); it != vb.end()) x.push_back(value), y.push_back(it->second);
      const PairedComparison c = compare_paired(x, y, s.better[m] == "lower" ? Better::lower : Better::higher);
      const std::string winner = c.winner == Winner::first ? a : c.winner == Winner::second ? b : "tie";
      j += std::string(first ? "\n" : ",\n") + "    {\"first\": " + io::json_quote(a) +
           ", \"second\": " + io::json_quote(b) + ", \"metric\": " + io::json_quote(s.metrics[m]) +
           ", \"count\": " + std::to_string(c.count) + ", \"mean_difference\": " + json_number(c.mean_difference) +
           ", \"low\": " + json_number(c.difference_interval.low) +
           ", \"high\": " + json_number(c.difference_interval.high) + ", \"winner\": " + io::json_quote(winner) +
           ", \"certainty\": " + json_number(c.certainty) + "}";
      first = false;
    }
  j += "\n  ],\n  \"grids\": [";
  for (std::size_t g = 0; g < s.grids.size(); ++g) {
    const auto& [image, file] = s.grids[g];
    j += std::string(g ? ",\n" : "\n") + "    {\"image\": " + io::json_quote(image) +
         ", \"file\": " + io::json_quote(file) +
         ", \"columns\": " + list({"LR", "bicubic", "pretrained", "fine-tuned", "HR"}) + "}";
    fs::create_directories(fs::path(dir + "/" + file).parent_path());
    write_png(dir + "/" + file, test_picture(5 * 48 + 16, 48));
  }
  j += "],\n  \"settings\": {";
  for (std::size_t i = 0; i < s.settings.size(); ++i)
    j += (i ? ", " : "") + io::json_quote(s.settings[i].first) + ": " + io::json_quote(s.settings[i].second);
  j += "},\n  \"notes\": " + list(s.notes) + "\n}\n";
  std::ofstream(dir + "/summary.json", std::ios::binary) << j;
}

// A spread in [-1, 1) that depends on (i, k, m) as a hash does (splitmix64's finaliser): values
// with known but irregular structure, so paired differences vary from image to image.
inline double wobble(std::size_t i, std::size_t k, std::size_t m) {
  uint64_t z =
      uint64_t(i) * 0x9E3779B97F4A7C15ull + uint64_t(k) * 0xBF58476D1CE4E5B9ull + uint64_t(m) * 0x94D049BB133111EBull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return double(z >> 11) / double(uint64_t(1) << 52) - 1.0;
}

// sr_pairs: 12 crops; bicubic, pretrained and fine-tuned at about 30, 27 and 31 dB; one bicubic
// PSNR is +∞ (an image identical to its reference), as evaluate writes it; two grids, one of them
// with '#' and a space in its file name.
inline StudySpec sr_pairs_spec() {
  StudySpec s;
  s.study = "sr_pairs";
  s.title = "Super-resolution <10X> & \"crops\"";
  s.convention = "skimage";
  s.metrics = {"psnr", "ssim"};
  s.better = {"higher", "higher"};
  s.methods = {"bicubic", "pretrained", "fine-tuned"};
  s.compare = {{"bicubic", "fine-tuned"}, {"pretrained", "fine-tuned"}};
  for (int i = 0; i < 12; ++i) s.images.push_back("field_00" + std::to_string(i % 3) + "_10x#" + std::to_string(i));
  s.value = [](std::size_t i, std::size_t k, std::size_t m) {
    if (i == 4 && k == 0 && m == 0) return double(INFINITY);
    const double base[2][3] = {{30.1, 27.2, 31.0}, {0.91, 0.83, 0.93}};
    const double spread[2] = {1.5, 0.03};
    return base[m][k] + spread[m] * wobble(i, k, m) + (m == 0 ? 0.3 : 0.002) * double(i % 4);
  };
  s.grids = {{"field_000_10x#0", "grids/field_000_10x #0.png"}, {"field_001_10x#1", "grids/field_001_10x_1.png"}};
  s.notes = {"the fine-tuned model ran 2 epochs on the CPU: a short run, not the seed's 50"};
  s.settings = {{"models", "pretrained=models/RealESRGAN_x4plus.pth; fine-tuned=run/tuned.pth"},
                {"weights", "params_ema"}};
  return s;
}

// A workflow-like study whose labels carry markup characters: escaping has to hold everywhere.
inline StudySpec workflow_spec() {
  StudySpec s;
  s.study = "workflow";
  s.title = "Which workflow gives sharper disks";
  s.metrics = {"sharpness", "edge_strength"};
  s.better = {"higher", "higher"};
  s.methods = {"method1", "method2", "m2 <margin> & 'ctx'"};
  s.compare = {{"method2", "method1"}, {"method2", "m2 <margin> & 'ctx'"}};
  for (int i = 0; i < 9; ++i) s.images.push_back("frame,a#" + std::to_string(i));
  s.value = [](std::size_t i, std::size_t k, std::size_t m) {
    const double base[2][3] = {{6.54, 6.30, 6.41}, {17.59, 17.14, 17.30}};
    return base[m][k] + 0.4 * wobble(i, k, m);
  };
  s.notes = {"<script>alert('notes')</script> are text & stay text"};
  return s;
}

}  // namespace microsr::testing::report_fixture
