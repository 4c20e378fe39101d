// A small strict JSON parser (RFC 8259) for file headers such as safetensors'.
//
// Strict: no comments, no trailing commas, no duplicate object keys, no leading zeros, nesting at
// most 64 deep. Numbers keep their source text; as_uint64() reads non-negative integers exactly.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace microsr::io {

struct JsonValue {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  std::string text;  // string contents (UTF-8), or a number's source text
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;  // in source order

  const JsonValue* get(const std::string& key) const;  // objects only; nullptr when absent
};

const char* json_type_name(JsonValue::Type type);

// Parses one JSON value that spans all of `text` (surrounding whitespace allowed). Errors are
// microsr::Error starting with `where` and giving the byte offset.
JsonValue parse_json(std::string_view text, const std::string& where);

// A number that is a non-negative integer fitting in 64 bits (no fraction or exponent).
bool as_uint64(const JsonValue& value, uint64_t& out);

// `s` as a JSON string literal, quotes included.
std::string json_quote(const std::string& s);

}  // namespace microsr::io
