// The ground-truth CSV that goes with every synthetic image.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "microsr/error.h"
#include "microsr/synth.h"

namespace microsr {
namespace {

constexpr const char* kHeader = "id,centre_x,centre_y,radius,kind,cut_by_border";

FeatureKind parse_kind(const std::string& text, const std::string& where) {
  for (FeatureKind k : {FeatureKind::disk, FeatureKind::dust, FeatureKind::scratch, FeatureKind::pad})
    if (text == feature_kind_name(k)) return k;
  throw Error(where + ": unknown kind '" + text + "' (expected disk, dust, scratch or pad)");
}

double parse_number(const std::string& text, const std::string& where, const char* field) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::logic_error&) {
  }
  throw Error(where + ": field " + field + " is not a number: '" + text + "'");
}

}  // namespace

void write_truth_csv(const std::string& path, const std::vector<TruthRow>& rows) {
  std::ostringstream text;
  text << kHeader << '\n';
  char line[160];
  for (const TruthRow& r : rows) {
    std::snprintf(line, sizeof line, "%d,%.3f,%.3f,%.3f,%s,%d\n", r.id, r.centre_x, r.centre_y, r.radius,
                  feature_kind_name(r.kind), int(r.cut_by_border));
    text << line;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text.str();
  out.flush();
  require(bool(out), "cannot write " + path);
}

std::vector<TruthRow> read_truth_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(bool(in), "cannot open " + path);
  std::string line;
  require(std::getline(in, line) && line == kHeader,
          path + ": line 1 should be the header '" + std::string(kHeader) + "', found '" + line + "'");
  std::vector<TruthRow> rows;
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(number);
    std::vector<std::string> fields;
    std::stringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
    require(fields.size() == 6, where + ": expected 6 fields, found " + std::to_string(fields.size()));
    TruthRow r;
    r.id = int(parse_number(fields[0], where, "id"));
    r.centre_x = parse_number(fields[1], where, "centre_x");
    r.centre_y = parse_number(fields[2], where, "centre_y");
    r.radius = parse_number(fields[3], where, "radius");
    r.kind = parse_kind(fields[4], where);
    require(fields[5] == "0" || fields[5] == "1", where + ": cut_by_border must be 0 or 1, found '" + fields[5] + "'");
    r.cut_by_border = fields[5] == "1";
    rows.push_back(r);
  }
  return rows;
}

}  // namespace microsr
