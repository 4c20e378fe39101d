#include "report/settings_rows.h"

#include "microsr/error.h"
#include "report/csv_text.h"

namespace microsr::report {

namespace {

using Type = io::JsonValue::Type;

bool is_plain(const io::JsonValue& v) { return v.type != Type::array && v.type != Type::object; }

std::string plain_text(const io::JsonValue& v) {
  switch (v.type) {
    case Type::null:
      return "null";
    case Type::boolean:
      return v.boolean ? "true" : "false";
    default:
      return v.text;  // a string's contents, or a number's source text
  }
}

void flatten_into(const io::JsonValue& value, const std::string& key, SettingRows& rows) {
  if (is_plain(value)) {
    rows.emplace_back(key, plain_text(value));
  } else if (value.type == Type::object) {
    for (const auto& [name, member] : value.object) flatten_into(member, key.empty() ? name : key + "." + name, rows);
  } else {
    bool all_plain = true;
    for (const io::JsonValue& item : value.array) all_plain = all_plain && is_plain(item);
    if (all_plain) {
      std::string joined;
      for (const io::JsonValue& item : value.array) joined += (joined.empty() ? "" : ", ") + plain_text(item);
      rows.emplace_back(key, joined);
    } else {
      for (std::size_t i = 0; i < value.array.size(); ++i)
        flatten_into(value.array[i], key + "[" + std::to_string(i) + "]", rows);
    }
  }
}

}  // namespace

SettingRows flatten_json(const io::JsonValue& value, const std::string& prefix) {
  SettingRows rows;
  flatten_into(value, prefix, rows);
  return rows;
}

SettingRows read_settings_file(const std::string& path) {
  const io::JsonValue root = io::parse_json(read_text_file(path), path);
  require(root.type == Type::object,
          path + ": expected a JSON object of settings, found a " + io::json_type_name(root.type));
  return flatten_json(root);
}

}  // namespace microsr::report
