// Settings as key/value rows for the report's tables: a study's "settings" object, or a run's
// JSON file (the pipeline's run.json, or any JSON object given with --settings).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "io/json_min.h"

namespace microsr::report {

using SettingRows = std::vector<std::pair<std::string, std::string>>;

// `value` flattened: members of nested objects get dotted keys ("stages.finetune.seconds"),
// arrays of plain values are joined with ", ", other arrays are indexed ("stages[2].name").
// Strings are shown as they are, numbers as written, and true, false and null as words.
SettingRows flatten_json(const io::JsonValue& value, const std::string& prefix = "");

// A JSON file whose top level is an object, flattened; Error naming the file otherwise.
SettingRows read_settings_file(const std::string& path);

}  // namespace microsr::report
