// Reading the CSV files the report shows (a study's detailed_metrics.csv, finetune's epochs.csv).
#pragma once
#include <string>
#include <vector>

namespace microsr::report {

struct CsvRecord {
  int line = 0;  // where the record starts, from 1 (for messages)
  std::vector<std::string> fields;
};

// The records of a CSV text as RFC 4180 writes them: a field may be quoted ("a,b"), a quote inside
// quotes is doubled, and a quoted field may span lines. Empty lines are skipped; a CR before LF
// is dropped. Throws Error("<where>:<line>: an unclosed quote") for a quote that never closes.
std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& where);

// A file's whole contents; Error naming the file when it cannot be read.
std::string read_text_file(const std::string& path);

// A numeric field: "" → NaN (absent), "nan", "inf", "-inf" as such, else a number that spans the
// whole field; anything else throws Error("<where>: '<field>' is not a number").
double parse_csv_number(const std::string& field, const std::string& where);

}  // namespace microsr::report
