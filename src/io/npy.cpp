// NumPy .npy files (include/microsr/npy.h). The layout: the magic "\x93NUMPY", a major and minor
// version byte, the header length (2 bytes little-endian in version 1, 4 bytes in 2 and 3), then
// an ASCII Python dict {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces and a newline so the data starts on a 64-byte boundary, then the elements in C order.
#include "microsr/npy.h"

#include <cstring>
#include <fstream>

#include "io/file_bytes.h"

namespace microsr {
namespace {

struct DtypeInfo {
  const char* code;  // descr without the byte-order character
  OnnxType type;
  std::size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {"f4", OnnxType::float32, 4}, {"f2", OnnxType::float16, 2}, {"f8", OnnxType::float64, 8},
    {"i8", OnnxType::int64, 8},   {"i4", OnnxType::int32, 4},   {"i2", OnnxType::int16, 2},
    {"i1", OnnxType::int8, 1},    {"u1", OnnxType::uint8, 1},   {"u2", OnnxType::uint16, 2},
    {"u4", OnnxType::uint32, 4},  {"b1", OnnxType::boolean, 1},
};

// The text after `'key':` in the header dict, up to the end of its value.
std::string header_value(const std::string& header, const std::string& key, const std::string& name) {
  const std::size_t k = header.find("'" + key + "'");
  require(k != std::string::npos, name + ": the .npy header has no '" + key + "': " + header);
  std::size_t v = header.find(':', k);
  require(v != std::string::npos, name + ": malformed .npy header: " + header);
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  std::size_t end = v;
  if (v < header.size() && (header[v] == '\'' || header[v] == '"')) {
    end = header.find(header[v], v + 1);
    require(end != std::string::npos, name + ": malformed .npy header: " + header);
    return header.substr(v + 1, end - v - 1);
  }
  if (v < header.size() && header[v] == '(') {
    end = header.find(')', v);
    require(end != std::string::npos, name + ": malformed .npy header: " + header);
    return header.substr(v, end - v + 1);
  }
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  return header.substr(v, end - v);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& name) {
  std::vector<int64_t> shape;
  std::size_t i = 1;  // after '('
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size() || text[i] == ')') break;
    std::size_t used = 0;
    long long d = -1;
    try {
      d = std::stoll(text.substr(i), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used > 0 && d >= 0, name + ": bad shape " + text + " in the .npy header");
    shape.push_back(d);
    i += used;
  }
  return shape;
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

OnnxValue parse_npy(std::span<const uint8_t> bytes, const std::string& name) {
  require(bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0,
          name + ": not a .npy file (no \\x93NUMPY magic)");
  const int major = bytes[6];
  require(major >= 1 && major <= 3, name + ": .npy format version " + std::to_string(major) + " is not supported (1, 2, 3 are)");
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  require(bytes.size() >= 8 + length_bytes, name + ": truncated .npy header");
  const std::size_t header_len = major == 1 ? load<uint16_t>(bytes.data() + 8) : load<uint32_t>(bytes.data() + 8);
  const std::size_t data_start = 8 + length_bytes + header_len;
  require(data_start <= bytes.size(), name + ": truncated .npy header (" + std::to_string(header_len) +
                                          " bytes announced, " + std::to_string(bytes.size() - 8 - length_bytes) + " present)");
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8 + length_bytes, header_len);
  require(header.find('{') != std::string::npos && header.find('}') != std::string::npos,
          name + ": malformed .npy header: " + header);
  const std::string descr = header_value(header, "descr", name);
  const std::string fortran = header_value(header, "fortran_order", name);
  require(fortran == "False", name + ": Fortran-order arrays are not supported; save a C-order array "
                                     "(numpy.ascontiguousarray) instead");
  require(descr.size() == 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '='),
          name + ": dtype '" + descr + "' is not supported (little-endian numeric or bool arrays only)");
  const DtypeInfo* info = nullptr;
  for (const DtypeInfo& d : kDtypes)
    if (descr.substr(1) == d.code) info = &d;
  require(info != nullptr, name + ": dtype '" + descr + "' is not supported (float32/16/64, int64/32/16/8, uint8/16/32, bool)");
  OnnxValue v;
  v.type = static_cast<int32_t>(info->type);
  v.shape = parse_shape(header_value(header, "shape", name), name);
  const int64_t n = v.numel();
  const std::size_t need = static_cast<std::size_t>(n) * info->size;
  require(bytes.size() - data_start >= need, name + ": truncated data: " + v.describe() + " needs " + std::to_string(need) +
                                                 " bytes, the file holds " + std::to_string(bytes.size() - data_start));
  const uint8_t* p = bytes.data() + data_start;
  if (v.is_float()) v.floats.resize(n);
  else v.integers.resize(n);
  for (int64_t i = 0; i < n; ++i, p += info->size) {
    switch (info->type) {
      case OnnxType::float32: v.floats[i] = load<float>(p); break;
      case OnnxType::float16: v.floats[i] = half_to_float(load<uint16_t>(p)); break;
      case OnnxType::float64: v.floats[i] = static_cast<float>(load<double>(p)); break;
      case OnnxType::int64: v.integers[i] = load<int64_t>(p); break;
      case OnnxType::int32: v.integers[i] = load<int32_t>(p); break;
      case OnnxType::int16: v.integers[i] = load<int16_t>(p); break;
      case OnnxType::int8: v.integers[i] = load<int8_t>(p); break;
      case OnnxType::uint8: v.integers[i] = load<uint8_t>(p); break;
      case OnnxType::uint16: v.integers[i] = load<uint16_t>(p); break;
      case OnnxType::uint32: v.integers[i] = load<uint32_t>(p); break;
      default: v.integers[i] = *p != 0; break;  // bool
    }
  }
  return v;
}

OnnxValue read_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file_bytes(path);
  return parse_npy(bytes, path);
}

std::vector<uint8_t> encode_npy(const OnnxValue& value) {
  const DtypeInfo* info = nullptr;
  for (const DtypeInfo& d : kDtypes)
    if (static_cast<int32_t>(d.type) == value.type) info = &d;
  require(info != nullptr, "cannot write " + value.describe() + " as .npy: no numpy dtype for " + onnx_type_name(value.type));
  const int64_t n = value.numel();
  require(static_cast<int64_t>(value.is_float() ? value.floats.size() : value.integers.size()) == n,
          "cannot write " + value.describe() + " as .npy: its element count does not match its shape");
  std::string shape = "(";
  for (int64_t d : value.shape) shape += std::to_string(d) + ", ";
  if (value.shape.size() > 1) shape.erase(shape.size() - 2);  // (3, ) is (3,) in numpy
  else if (value.shape.size() == 1) shape.erase(shape.size() - 1);
  shape += ")";
  const bool one_byte = info->size == 1;
  std::string header = std::string("{'descr': '") + (one_byte ? "|" : "<") + info->code +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  const bool v2 = header.size() + 11 > 65535;
  const std::size_t prefix = v2 ? 12 : 10;
  const std::size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;  // data on a 64-byte boundary
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(v2 ? 2 : 1), 0};
  const auto hl = static_cast<uint32_t>(header.size());
  for (std::size_t b = 0; b < (v2 ? 4u : 2u); ++b) out.push_back(static_cast<uint8_t>(hl >> (8 * b)));
  out.insert(out.end(), header.begin(), header.end());
  auto put = [&out](auto v) {
    uint8_t raw[sizeof(v)];
    std::memcpy(raw, &v, sizeof(v));
    out.insert(out.end(), raw, raw + sizeof(v));
  };
  for (int64_t i = 0; i < n; ++i) {
    switch (info->type) {
      case OnnxType::float32: put(value.floats[i]); break;
      case OnnxType::float16: put(float_to_half(value.floats[i])); break;
      case OnnxType::float64: put(static_cast<double>(value.floats[i])); break;
      case OnnxType::int64: put(value.integers[i]); break;
      case OnnxType::int32: put(static_cast<int32_t>(value.integers[i])); break;
      case OnnxType::int16: put(static_cast<int16_t>(value.integers[i])); break;
      case OnnxType::int8: put(static_cast<int8_t>(value.integers[i])); break;
      case OnnxType::uint8: put(static_cast<uint8_t>(value.integers[i])); break;
      case OnnxType::uint16: put(static_cast<uint16_t>(value.integers[i])); break;
      case OnnxType::uint32: put(static_cast<uint32_t>(value.integers[i])); break;
      default: put(static_cast<uint8_t>(value.integers[i] != 0)); break;
    }
  }
  return out;
}

void write_npy(const std::string& path, const OnnxValue& value) {
  const std::vector<uint8_t> bytes = encode_npy(value);
  io::write_text_atomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace microsr
