// A study folder: detailed_metrics.csv (the measurements) and summary.json (what they say).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "io/file_bytes.h"
#include "io/json_min.h"
#include "microsr/evaluate.h"

namespace fs = std::filesystem;

namespace microsr {

namespace {

// A double that reads back to the same bits; JSON has no NaN/Inf, so those become null.
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::vector<std::string> split_csv_line(const std::string& line, const std::string& where) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        fields.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  require(!quoted, where + ": an unclosed quote");
  return fields;
}

const char* better_name(Better b) { return b == Better::higher ? "higher" : "lower"; }

// The values of `metric` (column index) for `method`, by image, finite ones only.
std::map<std::string, double> values_by_image(const StudyResult& s, const std::string& method, std::size_t metric) {
  std::map<std::string, double> out;
  for (const StudyRow& r : s.rows)
    if (r.method == method && std::isfinite(r.values[metric])) out[r.image] = r.values[metric];
  return out;
}

std::string summary_json(const StudyResult& s) {
  std::ostringstream j;
  auto string_list = [&](const std::vector<std::string>& items) {
    j << "[";
    for (std::size_t i = 0; i < items.size(); ++i) j << (i ? ", " : "") << io::json_quote(items[i]);
    j << "]";
  };
  j << "{\n  \"study\": " << io::json_quote(s.study) << ",\n  \"title\": " << io::json_quote(s.title)
    << ",\n  \"convention\": " << io::json_quote(s.convention) << ",\n  \"metrics\": ";
  string_list(s.metrics);
  j << ",\n  \"better\": {";
  for (std::size_t m = 0; m < s.metrics.size(); ++m)
    j << (m ? ", " : "") << io::json_quote(s.metrics[m]) << ": \"" << better_name(s.better[m]) << "\"";
  j << "},\n  \"methods\": ";
  string_list(s.methods);

  j << ",\n  \"summary\": [";
  bool first = true;
  for (const std::string& method : s.methods)
    for (std::size_t m = 0; m < s.metrics.size(); ++m) {
      std::vector<double> v;
      for (const auto& [image, value] : values_by_image(s, method, m)) v.push_back(value);
      std::size_t left_out = 0;
      for (const StudyRow& r : s.rows) left_out += r.method == method && !std::isfinite(r.values[m]);
      if (v.empty()) continue;
      const Summary sum = summarize(v);
      j << (first ? "\n" : ",\n") << "    {\"method\": " << io::json_quote(method)
        << ", \"metric\": " << io::json_quote(s.metrics[m]) << ", \"count\": " << sum.count
        << ", \"mean\": " << json_number(sum.mean) << ", \"median\": " << json_number(sum.median)
        << ", \"low\": " << json_number(sum.mean_interval.low) << ", \"high\": " << json_number(sum.mean_interval.high);
      if (left_out) j << ", \"left_out\": " << left_out;  // values that are not finite (identical images)
      j << "}";
      first = false;
    }
  j << "\n  ],\n  \"comparisons\": [";
  first = true;
  for (const auto& [a, b] : s.compare)
    for (std::size_t m = 0; m < s.metrics.size(); ++m) {
      const auto va = values_by_image(s, a, m), vb = values_by_image(s, b, m);
      std::vector<double> x, y;
      for (const auto& [image, value] : va)
        if (const auto it = vb.find(image); it != vb.end()) x.push_back(value), y.push_back(it->second);
      if (x.empty()) continue;
      const PairedComparison c = compare_paired(x, y, s.better[m]);
      const std::string winner = c.winner == Winner::first ? a : c.winner == Winner::second ? b : "tie";
      j << (first ? "\n" : ",\n") << "    {\"first\": " << io::json_quote(a) << ", \"second\": " << io::json_quote(b)
        << ", \"metric\": " << io::json_quote(s.metrics[m]) << ", \"count\": " << c.count
        << ", \"mean_difference\": " << json_number(c.mean_difference)
        << ", \"low\": " << json_number(c.difference_interval.low)
        << ", \"high\": " << json_number(c.difference_interval.high) << ", \"winner\": " << io::json_quote(winner)
        << ", \"certainty\": " << json_number(c.certainty) << "}";
      first = false;
    }
  j << "\n  ],\n  \"compare\": [";
  for (std::size_t i = 0; i < s.compare.size(); ++i)
    j << (i ? ", " : "") << "[" << io::json_quote(s.compare[i].first) << ", " << io::json_quote(s.compare[i].second)
      << "]";
  j << "],\n  \"grids\": [";
  for (std::size_t i = 0; i < s.grids.size(); ++i) {
    j << (i ? ",\n" : "\n") << "    {\"image\": " << io::json_quote(s.grids[i].image)
      << ", \"file\": " << io::json_quote(s.grids[i].file) << ", \"columns\": ";
    string_list(s.grids[i].columns);
    j << "}";
  }
  j << (s.grids.empty() ? "" : "\n  ") << "],\n  \"settings\": {";
  for (std::size_t i = 0; i < s.settings.size(); ++i)
    j << (i ? ", " : "") << io::json_quote(s.settings[i].first) << ": " << io::json_quote(s.settings[i].second);
  j << "},\n  \"notes\": ";
  string_list(s.notes);
  j << "\n}\n";
  return j.str();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const io::JsonValue& member(const io::JsonValue& object, const std::string& key, io::JsonValue::Type type,
                            const std::string& where) {
  const io::JsonValue* v = object.get(key);
  require(v != nullptr, where + ": no \"" + key + "\"");
  require(v->type == type,
          where + ": \"" + key + "\" is a " + io::json_type_name(v->type) + ", expected a " + io::json_type_name(type));
  return *v;
}

std::vector<std::string> strings_of(const io::JsonValue& array, const std::string& where) {
  std::vector<std::string> out;
  for (const io::JsonValue& v : array.array) {
    require(v.type == io::JsonValue::Type::string, where + ": expected strings");
    out.push_back(v.text);
  }
  return out;
}

}  // namespace

void write_study(const std::string& dir, const StudyResult& s) {
  require(s.better.size() == s.metrics.size(), "write_study: one 'better' per metric");
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(fs::is_directory(dir), "cannot create the study folder " + dir + (ec ? ": " + ec.message() : ""));
  std::string csv = "image,method";
  for (const std::string& m : s.metrics) csv += "," + csv_field(m);
  csv += "\n";
  for (const StudyRow& r : s.rows) {
    require(r.values.size() == s.metrics.size(), "write_study: row " + r.image + " has the wrong number of values");
    csv += csv_field(r.image) + "," + csv_field(r.method);
    for (double v : r.values) csv += "," + csv_number(v);
    csv += "\n";
  }
  io::write_text_atomically((fs::path(dir) / "detailed_metrics.csv").string(), csv);
  io::write_text_atomically((fs::path(dir) / "summary.json").string(), summary_json(s));
}

StudyResult read_study(const std::string& dir) {
  const std::string json_path = (fs::path(dir) / "summary.json").string();
  const io::JsonValue root = io::parse_json(read_text(json_path), json_path);
  require(root.type == io::JsonValue::Type::object, json_path + ": not a JSON object");
  using T = io::JsonValue::Type;
  StudyResult s;
  s.study = member(root, "study", T::string, json_path).text;
  s.title = member(root, "title", T::string, json_path).text;
  s.convention = member(root, "convention", T::string, json_path).text;
  s.metrics = strings_of(member(root, "metrics", T::array, json_path), json_path);
  s.methods = strings_of(member(root, "methods", T::array, json_path), json_path);
  const io::JsonValue& better = member(root, "better", T::object, json_path);
  for (const std::string& m : s.metrics)
    s.better.push_back(member(better, m, T::string, json_path).text == "lower" ? Better::lower : Better::higher);
  for (const io::JsonValue& pair : member(root, "compare", T::array, json_path).array) {
    const std::vector<std::string> two = strings_of(pair, json_path);
    require(two.size() == 2, json_path + ": \"compare\" holds pairs");
    s.compare.emplace_back(two[0], two[1]);
  }
  for (const io::JsonValue& g : member(root, "grids", T::array, json_path).array)
    s.grids.push_back({member(g, "image", T::string, json_path).text, member(g, "file", T::string, json_path).text,
                       strings_of(member(g, "columns", T::array, json_path), json_path)});
  for (const auto& [key, value] : member(root, "settings", T::object, json_path).object)
    s.settings.emplace_back(key, value.text);
  s.notes = strings_of(member(root, "notes", T::array, json_path), json_path);

  const std::string csv_path = (fs::path(dir) / "detailed_metrics.csv").string();
  std::istringstream csv(read_text(csv_path));
  std::string line;
  std::getline(csv, line);
  const std::vector<std::string> header = split_csv_line(line, csv_path);
  require(header.size() == s.metrics.size() + 2 && header[0] == "image" && header[1] == "method",
          csv_path + ": the header does not match summary.json's metrics");
  for (int number = 2; std::getline(csv, line); ++number) {
    if (line.empty()) continue;
    const std::string where = csv_path + ":" + std::to_string(number);
    const std::vector<std::string> f = split_csv_line(line, where);
    require(f.size() == header.size(),
            where + ": " + std::to_string(f.size()) + " fields, expected " + std::to_string(header.size()));
    StudyRow r{f[0], f[1], {}};
    for (std::size_t k = 2; k < f.size(); ++k) {
      char* end = nullptr;
      r.values.push_back(std::strtod(f[k].c_str(), &end));
      require(end && *end == 0 && !f[k].empty(), where + ": '" + f[k] + "' is not a number");
    }
    s.rows.push_back(std::move(r));
  }
  return s;
}

StudyResult merge_studies(const std::vector<StudyResult>& shards) {
  require(!shards.empty(), "nothing to merge");
  StudyResult merged = shards.front();
  merged.rows.clear(), merged.grids.clear(), merged.notes.clear();
  std::set<std::pair<std::string, std::string>> seen;
  std::set<std::string> notes;  // each shard repeats the run's notes: keep one of each
  for (const StudyResult& s : shards) {
    require(s.study == merged.study && s.metrics == merged.metrics && s.methods == merged.methods,
            "cannot merge study '" + s.study + "' into '" + merged.study + "': other metrics or methods");
    for (const StudyRow& r : s.rows) {
      require(seen.insert({r.image, r.method}).second,
              "image " + r.image + " was measured with " + r.method + " in two shards");
      merged.rows.push_back(r);
    }
    merged.grids.insert(merged.grids.end(), s.grids.begin(), s.grids.end());
    for (const std::string& n : s.notes)
      if (notes.insert(n).second) merged.notes.push_back(n);
  }
  std::stable_sort(merged.rows.begin(), merged.rows.end(),
                   [](const StudyRow& a, const StudyRow& b) { return a.image < b.image; });
  return merged;
}

}  // namespace microsr
