#include "report/study_folder.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "io/json_min.h"
#include "microsr/error.h"
#include "report/csv_text.h"
#include "report/settings_rows.h"

namespace fs = std::filesystem;

namespace microsr::report {

namespace {

using io::JsonValue;
using Type = JsonValue::Type;

// Field access that names the file and the field's path ("summary[3].mean") in every error.
class JsonReader {
 public:
  explicit JsonReader(std::string file) : file_(std::move(file)) {}

  const JsonValue* optional(const JsonValue& object, const std::string& key, Type type, const std::string& at) const {
    const JsonValue* v = object.get(key);
    if (v && v->type != type)
      throw Error(file_ + ": " + path(at, key) + " is a " + io::json_type_name(v->type) + ", expected a " +
                  io::json_type_name(type));
    return v;
  }
  const JsonValue& required(const JsonValue& object, const std::string& key, Type type, const std::string& at) const {
    const JsonValue* v = optional(object, key, type, at);
    if (!v) throw Error(file_ + ": " + path(at, key) + " is missing");
    return *v;
  }
  std::string text(const JsonValue& object, const std::string& key, const std::string& at) const {
    return required(object, key, Type::string, at).text;
  }
  // A number, or null (a value evaluate could not compute) as NaN.
  double number(const JsonValue& object, const std::string& key, const std::string& at) const {
    const JsonValue* v = object.get(key);
    if (!v) throw Error(file_ + ": " + path(at, key) + " is missing");
    if (v->type == Type::null) return NAN;
    if (v->type != Type::number)
      throw Error(file_ + ": " + path(at, key) + " is a " + io::json_type_name(v->type) + ", expected a number");
    return std::strtod(v->text.c_str(), nullptr);
  }
  std::size_t count(const JsonValue& object, const std::string& key, const std::string& at) const {
    uint64_t n = 0;
    const JsonValue& v = required(object, key, Type::number, at);
    if (!io::as_uint64(v, n)) throw Error(file_ + ": " + path(at, key) + " is " + v.text + ", expected a count");
    return std::size_t(n);
  }
  std::vector<std::string> strings(const JsonValue& object, const std::string& key, const std::string& at,
                                   bool needed) const {
    const JsonValue* array = needed ? &required(object, key, Type::array, at) : optional(object, key, Type::array, at);
    std::vector<std::string> out;
    if (!array) return out;
    for (std::size_t i = 0; i < array->array.size(); ++i) {
      const JsonValue& item = array->array[i];
      if (item.type != Type::string)
        throw Error(file_ + ": " + path(at, key) + "[" + std::to_string(i) + "] is a " + io::json_type_name(item.type) +
                    ", expected a string");
      out.push_back(item.text);
    }
    return out;
  }
  // Error("<file>: <at> <what>")
  [[noreturn]] void fail(const std::string& at, const std::string& what) const {
    throw Error(file_ + ": " + at + " " + what);
  }
  static std::string path(const std::string& at, const std::string& key) { return at.empty() ? key : at + "." + key; }

 private:
  std::string file_;
};

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// A grid's file must stay inside the study folder: relative, without "..".
bool inside_folder(const std::string& relative) {
  const fs::path p(relative);
  if (relative.empty() || p.is_absolute() || p.has_root_name()) return false;
  for (const fs::path& part : p)
    if (part == "..") return false;
  return true;
}

void read_summary(StudyFolder& s, const std::string& file) {
  const JsonValue root = io::parse_json(read_text_file(file), file);
  const JsonReader r(file);
  if (root.type != Type::object)
    r.fail("the top level", std::string("is a ") + io::json_type_name(root.type) + ", expected an object");
  s.study = r.text(root, "study", "");
  const JsonValue* title = r.optional(root, "title", Type::string, "");
  s.title = title && !title->text.empty() ? title->text : s.study;
  if (const JsonValue* c = r.optional(root, "convention", Type::string, "")) s.convention = c->text;
  s.metrics = r.strings(root, "metrics", "", true);
  s.methods = r.strings(root, "methods", "", true);
  if (const JsonValue* better = r.optional(root, "better", Type::object, ""))
    for (const auto& [metric, direction] : better->object) {
      const std::string at = "better." + metric;
      if (direction.type != Type::string || (direction.text != "higher" && direction.text != "lower"))
        r.fail(at, "must be \"higher\" or \"lower\"");
      s.better[metric] = direction.text;
    }

  const JsonValue& summary = r.required(root, "summary", Type::array, "");
  for (std::size_t i = 0; i < summary.array.size(); ++i) {
    const std::string at = "summary[" + std::to_string(i) + "]";
    const JsonValue& e = summary.array[i];
    if (e.type != Type::object) r.fail(at, "is not an object");
    SummaryEntry entry{
        r.text(e, "method", at),   r.text(e, "metric", at), r.count(e, "count", at), r.number(e, "mean", at),
        r.number(e, "median", at), r.number(e, "low", at),  r.number(e, "high", at), 0};
    if (e.get("left_out")) entry.left_out = r.count(e, "left_out", at);
    if (!contains(s.methods, entry.method)) r.fail(at + ".method", "'" + entry.method + "' is not among \"methods\"");
    if (!contains(s.metrics, entry.metric)) r.fail(at + ".metric", "'" + entry.metric + "' is not among \"metrics\"");
    s.summary.push_back(entry);
  }

  const JsonValue& comparisons = r.required(root, "comparisons", Type::array, "");
  for (std::size_t i = 0; i < comparisons.array.size(); ++i) {
    const std::string at = "comparisons[" + std::to_string(i) + "]";
    const JsonValue& e = comparisons.array[i];
    if (e.type != Type::object) r.fail(at, "is not an object");
    ComparisonEntry c{r.text(e, "first", at),
                      r.text(e, "second", at),
                      r.text(e, "metric", at),
                      r.count(e, "count", at),
                      r.number(e, "mean_difference", at),
                      r.number(e, "low", at),
                      r.number(e, "high", at),
                      r.text(e, "winner", at),
                      r.number(e, "certainty", at)};
    for (const auto& [key, method] : {std::pair{".first", c.first}, std::pair{".second", c.second}})
      if (!contains(s.methods, method)) r.fail(at + key, "'" + method + "' is not among \"methods\"");
    if (!contains(s.metrics, c.metric)) r.fail(at + ".metric", "'" + c.metric + "' is not among \"metrics\"");
    if (c.winner != c.first && c.winner != c.second && c.winner != "tie")
      r.fail(at + ".winner", "'" + c.winner + "' is neither of the two methods nor \"tie\"");
    s.comparisons.push_back(c);
  }

  if (const JsonValue* grids = r.optional(root, "grids", Type::array, ""))
    for (std::size_t i = 0; i < grids->array.size(); ++i) {
      const std::string at = "grids[" + std::to_string(i) + "]";
      const JsonValue& g = grids->array[i];
      if (g.type != Type::object) r.fail(at, "is not an object");
      GridEntry grid{r.text(g, "image", at), r.text(g, "file", at), r.strings(g, "columns", at, false)};
      if (!inside_folder(grid.file)) r.fail(at + ".file", "'" + grid.file + "' is not a path inside the study folder");
      // A missing picture costs the page one figure, not the whole report: it is said, not fatal.
      const fs::path on_disk = fs::path(s.folder) / grid.file;
      if (fs::is_regular_file(on_disk))
        s.grids.push_back(grid);
      else
        s.warnings.push_back("summary.json lists the grid " + grid.file + ", which is missing; it is not shown.");
    }
  if (const JsonValue* settings = r.optional(root, "settings", Type::object, "")) s.settings = flatten_json(*settings);
  s.notes = r.strings(root, "notes", "", false);
}

void read_measurements(StudyFolder& s, const std::string& file) {
  const std::vector<CsvRecord> records = parse_csv(read_text_file(file), file);
  require(!records.empty(), file + ": empty (expected the header image,method,<metric>...)");
  const std::vector<std::string>& header = records.front().fields;
  require(header.size() >= 2 && header[0] == "image" && header[1] == "method",
          file + ": the header must start with image,method");
  Measurements& m = s.measurements;
  m.metrics.assign(header.begin() + 2, header.end());
  for (const std::string& metric : s.metrics)
    require(contains(m.metrics, metric), file + ": no column '" + metric + "' (summary.json lists it as a metric)");
  for (std::size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& record = records[r];
    const std::string where = file + ":" + std::to_string(record.line);
    require(record.fields.size() == header.size(), where + ": " + std::to_string(record.fields.size()) +
                                                       " fields, the header has " + std::to_string(header.size()));
    Measurements::Row row{record.fields[0], record.fields[1], {}};
    for (std::size_t k = 2; k < record.fields.size(); ++k)
      row.values.push_back(parse_csv_number(record.fields[k], where + " (" + header[k] + ")"));
    m.rows.push_back(std::move(row));
  }
}

// What the page should point out: summary.json and the CSV disagreeing on counts, an image
// measured twice with one method, a CSV method that summary.json does not list.
void check_consistency(StudyFolder& s) {
  std::set<std::pair<std::string, std::string>> seen;
  std::set<std::string> duplicated, unlisted;
  for (const Measurements::Row& row : s.measurements.rows) {
    if (!seen.insert({row.image, row.method}).second) duplicated.insert(row.image + " (" + row.method + ")");
    if (!contains(s.methods, row.method)) unlisted.insert(row.method);
  }
  for (const std::string& d : duplicated)
    s.warnings.push_back("detailed_metrics.csv measures " + d + " more than once; the plots use its last row.");
  for (const std::string& u : unlisted)
    s.warnings.push_back("detailed_metrics.csv has rows for '" + u + "', which summary.json does not list.");
  for (const SummaryEntry& e : s.summary) {
    const std::size_t rows = s.measurements.by_image(e.method, e.metric).size();
    if (rows != e.count)
      s.warnings.push_back("summary.json counts " + std::to_string(e.count) + " values of " + e.metric + " for " +
                           e.method + ", detailed_metrics.csv has " + std::to_string(rows) + ".");
  }
}

}  // namespace

std::map<std::string, double> Measurements::by_image(const std::string& method, const std::string& metric) const {
  std::map<std::string, double> out;
  const auto column = std::find(metrics.begin(), metrics.end(), metric);
  if (column == metrics.end()) return out;
  const std::size_t k = std::size_t(column - metrics.begin());
  for (const Row& row : rows)
    if (row.method == method && std::isfinite(row.values[k])) out[row.image] = row.values[k];
  return out;
}

bool StudyFolder::higher_is_better(const std::string& metric) const {
  const auto it = better.find(metric);
  return it == better.end() || it->second == "higher";
}

StudyFolder read_study_folder(const std::string& folder) {
  StudyFolder s;
  s.folder = folder;
  read_summary(s, (fs::path(folder) / "summary.json").string());
  read_measurements(s, (fs::path(folder) / "detailed_metrics.csv").string());
  check_consistency(s);
  return s;
}

const std::vector<std::string>& known_studies() {
  static const std::vector<std::string> kKnown = {"sr_pairs", "workflow", "truth", "cross_mag"};
  return kKnown;
}

std::vector<std::string> find_study_folders(const std::string& dir, std::vector<std::string>* absent) {
  require(fs::is_directory(dir), dir + ": no such folder (--eval expects a study folder or a folder of them)");
  const fs::path root(dir);
  if (fs::exists(root / "summary.json")) return {dir};

  // Known studies first, in their order; a folder counts as one when named after it or after it
  // plus a suffix ("sr_pairs_10x", "sr_pairs_4x": the pipeline's). Then the others, by name.
  std::vector<std::string> subfolders;
  for (const fs::directory_entry& entry : fs::directory_iterator(root))
    if (entry.is_directory()) subfolders.push_back(entry.path().filename().string());
  std::sort(subfolders.begin(), subfolders.end());
  auto is_study = [](const std::string& folder, const std::string& study) {
    return folder == study || folder.starts_with(study + "_");
  };
  std::vector<std::string> found, missing;
  std::vector<bool> taken(subfolders.size(), false);
  for (const std::string& study : known_studies()) {
    bool any = false;
    for (std::size_t i = 0; i < subfolders.size(); ++i) {
      if (taken[i] || !is_study(subfolders[i], study)) continue;
      const fs::path folder = root / subfolders[i];
      require(fs::exists(folder / "summary.json"), (folder / "summary.json").string() + ": no such file (the " +
                                                       subfolders[i] +
                                                       " study folder has no summary: did evaluate finish?)");
      found.push_back(folder.string());
      taken[i] = any = true;
    }
    if (!any) missing.push_back(study);
  }
  for (std::size_t i = 0; i < subfolders.size(); ++i)
    if (!taken[i] && fs::exists(root / subfolders[i] / "summary.json"))
      found.push_back((root / subfolders[i]).string());
  require(!found.empty(), (root / "summary.json").string() +
                              ": no such file, and the folder holds no study folder (sr_pairs/, workflow/, "
                              "truth/, cross_mag/) with one");
  if (absent) *absent = missing;
  return found;
}

}  // namespace microsr::report
