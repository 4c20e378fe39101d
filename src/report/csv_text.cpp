#include "report/csv_text.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "io/file_bytes.h"
#include "microsr/error.h"

namespace microsr::report {

std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& where) {
  std::vector<CsvRecord> records;
  CsvRecord record;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, quote_line = 0;
  auto end_record = [&] {
    if (field_started || !record.fields.empty()) {
      record.fields.push_back(field);
      records.push_back(std::move(record));
    }
    record = CsvRecord{};
    field.clear();
    field_started = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!field_started && record.fields.empty()) record.line = line;
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        quoted = true, field_started = true, quote_line = line;
        break;
      case ',':
        record.fields.push_back(field);
        field.clear();
        field_started = true;  // "a," has two fields, the second empty
        break;
      case '\r':
        break;
      case '\n':
        end_record();
        ++line;
        break;
      default:
        field += c;
        field_started = true;
    }
  }
  if (quoted) throw Error(where + ":" + std::to_string(quote_line) + ": an unclosed quote");
  end_record();
  return records;
}

std::string read_text_file(const std::string& path) {
  require(std::filesystem::exists(path), path + ": no such file");
  const std::vector<uint8_t> bytes = io::read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

double parse_csv_number(const std::string& field, const std::string& where) {
  if (field.empty()) return NAN;
  char* end = nullptr;
  const double value = std::strtod(field.c_str(), &end);  // also reads nan, inf, -inf
  require(end == field.c_str() + field.size(), where + ": '" + field + "' is not a number");
  return value;
}

}  // namespace microsr::report
