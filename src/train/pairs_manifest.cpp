// PAIRS_DIR/manifest.csv: writing (atomically) and reading, RFC 4180 quoting.
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/file_bytes.h"
#include "microsr/error.h"
#include "microsr/pairs.h"

namespace microsr {
namespace {

const std::vector<std::string> kColumns = {"name",     "hr",        "lr",        "hr_width", "hr_height",
                                           "lr_width", "lr_height", "bit_depth", "channels", "source",
                                           "sigma",    "scale",     "min_size",  "resize",   "order"};

std::string quoted(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char ch : field) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// The shortest decimal that reads back as the same double ("0.5", not "0.50000000000000000").
std::string shortest(double v) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, result.ptr);
}

// Splits CSV text into records of fields. Quoted fields may hold commas, "" and line breaks;
// records end at \n or \r\n; blank lines are skipped.
std::vector<std::vector<std::string>> csv_records(const std::string& text, const std::string& path) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool in_quotes = false, field_started = false;
  int line = 1;
  auto end_field = [&] {
    record.push_back(field);
    field.clear();
    field_started = false;
  };
  auto end_record = [&] {
    if (field_started || !record.empty()) end_field();
    if (!record.empty()) records.push_back(record);
    record.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\n') ++line;
    if (in_quotes) {
      if (ch != '"')
        field += ch;
      else if (i + 1 < text.size() && text[i + 1] == '"')
        field += '"', ++i;
      else
        in_quotes = false;
    } else if (ch == '"' && field.empty()) {
      in_quotes = field_started = true;
    } else if (ch == ',') {
      end_field();
      field_started = true;  // a comma always opens a next field, even an empty last one
    } else if (ch == '\n') {
      end_record();
    } else if (ch != '\r') {
      field += ch;
      field_started = true;
    }
  }
  require(!in_quotes, "cannot read " + path + ": a quoted field is not closed before the end of the file");
  end_record();
  return records;
}

int to_int(const std::string& s, const std::string& where) {
  int v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  require(r.ec == std::errc() && r.ptr == s.data() + s.size(), where + ": expected an integer, found '" + s + "'");
  return v;
}

double to_double(const std::string& s, const std::string& where) {
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  require(r.ec == std::errc() && r.ptr == s.data() + s.size(), where + ": expected a number, found '" + s + "'");
  return v;
}

}  // namespace

std::string manifest_csv(const std::vector<ManifestRow>& rows) {
  std::string out;
  auto add_field = [&out](std::size_t i, const std::string& field) {
    if (i) out += ',';
    out += quoted(field);
  };
  for (std::size_t i = 0; i < kColumns.size(); ++i) add_field(i, kColumns[i]);
  out += '\n';
  for (const ManifestRow& r : rows) {
    const std::vector<std::string> fields = {r.name,
                                             r.hr,
                                             r.lr,
                                             std::to_string(r.hr_width),
                                             std::to_string(r.hr_height),
                                             std::to_string(r.lr_width),
                                             std::to_string(r.lr_height),
                                             std::to_string(r.bit_depth),
                                             std::to_string(r.channels),
                                             r.source,
                                             shortest(r.sigma),
                                             std::to_string(r.scale),
                                             std::to_string(r.min_size),
                                             r.resize,
                                             r.order};
    for (std::size_t i = 0; i < fields.size(); ++i) add_field(i, fields[i]);
    out += '\n';
  }
  return out;
}

std::vector<ManifestRow> parse_manifest(const std::string& text, const std::string& path) {
  const auto records = csv_records(text, path);
  require(!records.empty(), "cannot read " + path + ": the file is empty (expected a header line)");
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < records[0].size(); ++i) column[records[0][i]] = i;
  for (const std::string& name : kColumns)
    require(column.count(name), "cannot read " + path + ": no column '" + name + "' in the header");
  std::vector<ManifestRow> rows;
  for (std::size_t k = 1; k < records.size(); ++k) {
    const auto& rec = records[k];
    const std::string where = path + ", row " + std::to_string(k);
    require(rec.size() == records[0].size(), "cannot read " + where + ": " + std::to_string(rec.size()) +
                                                 " fields, the header has " + std::to_string(records[0].size()));
    auto text_of = [&](const char* name) { return rec[column.at(name)]; };
    auto int_of = [&](const char* name) { return to_int(text_of(name), "cannot read " + where + ", " + name); };
    ManifestRow r;
    r.name = text_of("name"), r.hr = text_of("hr"), r.lr = text_of("lr"), r.source = text_of("source");
    r.hr_width = int_of("hr_width"), r.hr_height = int_of("hr_height");
    r.lr_width = int_of("lr_width"), r.lr_height = int_of("lr_height");
    r.bit_depth = int_of("bit_depth"), r.channels = int_of("channels"), r.scale = int_of("scale");
    r.min_size = int_of("min_size");
    r.sigma = to_double(text_of("sigma"), "cannot read " + where + ", sigma");
    r.resize = text_of("resize"), r.order = text_of("order");
    require(!r.name.empty() && !r.hr.empty() && !r.lr.empty(), "cannot read " + where + ": empty name, hr or lr");
    rows.push_back(r);
  }
  return rows;
}

std::vector<ManifestRow> read_manifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(bool(in), "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_manifest(text.str(), path);
}

void write_manifest(const std::string& path, const std::vector<ManifestRow>& rows) {
  io::write_text_atomically(path, manifest_csv(rows));
}

}  // namespace microsr
