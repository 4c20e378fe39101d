// safetensors files: [u64 little-endian header length N][N bytes of JSON header][tensor bytes].
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the start of the tensor bytes); an optional "__metadata__" maps strings to strings.
// As the reference implementation does, we require the tensors to tile the data section exactly:
// no overlaps, no holes, nothing after the last tensor.
#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <set>

#include "io/file_bytes.h"
#include "io/json_min.h"
#include "microsr/weights.h"

namespace microsr {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit

struct HeaderEntry {
  std::string name;
  std::string dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

std::size_t safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

HeaderEntry parse_entry(const std::string& name, const io::JsonValue& v, const std::string& path) {
  using Type = io::JsonValue::Type;
  const std::string where = path + ": header entry '" + name + "'";
  require(v.type == Type::object, where + " is a " + io::json_type_name(v.type) + ", expected an object");
  for (const auto& [field, _] : v.object)
    require(field == "dtype" || field == "shape" || field == "data_offsets",
            where + " has an unknown field '" + field + "'");
  const io::JsonValue* dtype = v.get("dtype");
  const io::JsonValue* shape = v.get("shape");
  const io::JsonValue* offsets = v.get("data_offsets");
  require(dtype && dtype->type == Type::string, where + ": 'dtype' must be a string");
  require(shape && shape->type == Type::array, where + ": 'shape' must be an array");
  require(offsets && offsets->type == Type::array && offsets->array.size() == 2,
          where + ": 'data_offsets' must be an array [begin, end]");

  HeaderEntry e;
  e.name = name;
  e.dtype = dtype->text;
  const std::size_t elem = safetensors_dtype_size(e.dtype);
  require(elem != 0, where + " has dtype " + e.dtype + "; only F32, F16 and BF16 are supported");
  uint64_t numel = 1;
  for (const io::JsonValue& d : shape->array) {
    uint64_t dim = 0;
    require(io::as_uint64(d, dim) && dim < (uint64_t{1} << 62),
            where + ": shape entries must be non-negative integers");
    require(dim == 0 || numel <= (uint64_t{1} << 62) / dim, where + ": shape too large");
    numel *= dim;
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  require(io::as_uint64(offsets->array[0], e.begin) && io::as_uint64(offsets->array[1], e.end) && e.begin <= e.end,
          where + ": 'data_offsets' must be non-negative integers with begin <= end");
  require(e.end - e.begin == numel * elem, where + ": " + e.dtype + shape_str(e.shape) + " needs " +
                                               std::to_string(numel * elem) + " bytes but data_offsets span " +
                                               std::to_string(e.end - e.begin));
  return e;
}

void check_metadata(const io::JsonValue& v, const std::string& path) {
  require(v.type == io::JsonValue::Type::object, path + ": '__metadata__' must be an object");
  for (const auto& [key, value] : v.object)
    require(value.type == io::JsonValue::Type::string,
            path + ": '__metadata__' value of '" + key + "' must be a string");
}

Tensor widen(const HeaderEntry& e, const uint8_t* src) {
  Tensor t = Tensor::empty(e.shape);
  float* dst = t.f32();
  const int64_t n = t.numel();
  if (e.dtype == "F32") {
    std::memcpy(dst, src, n * sizeof(float));
    return t;
  }
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
    if (e.dtype == "F16") {
      dst[i] = half_to_float(h);
    } else {  // BF16: the top 16 bits of a float32
      const uint32_t bits = uint32_t{h} << 16;
      std::memcpy(&dst[i], &bits, 4);
    }
  }
  return t;
}

}  // namespace

StateDict load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  static_assert(std::endian::native == std::endian::little);
  const std::vector<uint8_t> file = io::read_file_bytes(path);
  require(file.size() >= 8, path + ": not a safetensors file (" + std::to_string(file.size()) +
                                " bytes; the 8-byte header length is missing)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file[i];
  require(header_len <= kMaxHeaderBytes && header_len <= file.size() - 8,
          path + ": header length " + std::to_string(header_len) + " runs past the end of the " +
              std::to_string(file.size()) + "-byte file");
  const std::string_view header(reinterpret_cast<const char*>(file.data() + 8), header_len);
  require(!header.empty() && header[0] == '{', path + ": the header does not start with '{'");
  const io::JsonValue json = io::parse_json(header, path + ": header");
  require(json.type == io::JsonValue::Type::object, path + ": the header is not a JSON object");

  std::vector<HeaderEntry> tensors;
  for (const auto& [name, value] : json.object) {
    if (name == "__metadata__") {
      check_metadata(value, path);
      if (metadata)
        for (const auto& [key, text] : value.object) (*metadata)[key] = text.text;
    } else
      tensors.push_back(parse_entry(name, value, path));
  }
  // File order: by data offset. The tensors must tile the data section exactly.
  std::stable_sort(tensors.begin(), tensors.end(),
                   [](const HeaderEntry& a, const HeaderEntry& b) { return a.begin < b.begin; });
  const uint64_t data_size = file.size() - 8 - header_len;
  uint64_t expected_begin = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const HeaderEntry& e = tensors[i];
    require(e.begin >= expected_begin, path + ": tensor '" + e.name + "' [" + std::to_string(e.begin) + ", " +
                                           std::to_string(e.end) + ") overlaps '" + (i ? tensors[i - 1].name : "") +
                                           "'");
    require(e.begin == expected_begin, path + ": " + std::to_string(e.begin - expected_begin) +
                                           " unused bytes before tensor '" + e.name + "' at data offset " +
                                           std::to_string(expected_begin));
    require(e.end <= data_size, path + ": tensor '" + e.name + "' ends at data offset " + std::to_string(e.end) +
                                    " but the data section holds " + std::to_string(data_size) + " bytes");
    expected_begin = e.end;
  }
  require(expected_begin == data_size, path + ": " + std::to_string(data_size - expected_begin) +
                                           " bytes after the last tensor are not described by the header");

  StateDict sd;
  const uint8_t* data = file.data() + 8 + header_len;
  for (const HeaderEntry& e : tensors) sd.add(e.name, widen(e, data + e.begin));
  return sd;
}

void save_safetensors(const std::string& path, const StateDict& sd,
                      const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, text] : metadata) {
      header += (first ? "" : ",") + io::json_quote(key) + ":" + io::json_quote(text);
      first = false;
    }
    header += '}';
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : sd.entries) {
    require(name != "__metadata__" && names.insert(name).second,
            path + ": save_safetensors: tensor name '" + name + "' is reserved or repeated");
    require(t.defined() && t.dtype() == DType::f32 && t.device().kind == DeviceKind::cpu,
            path + ": save_safetensors: tensor '" + name + "' must be f32 on the cpu, found " + t.describe());
    std::string shape;
    for (int64_t d : t.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    if (header.size() > 1) header += ',';
    header += io::json_quote(name) + ":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + t.bytes()) + "]}";
    offset += t.bytes();
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');  // pad so the data start 8-byte aligned

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  require(out.good(), path + ": cannot open file for writing");
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i));
  out.write(reinterpret_cast<const char*>(length), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& [name, t] : sd.entries) {
    const Tensor dense = t.is_contiguous() ? t : t.clone();
    out.write(static_cast<const char*>(dense.raw()), static_cast<std::streamsize>(dense.bytes()));
  }
  out.close();
  require(!out.fail(), path + ": write failed (disk full?)");
}

}  // namespace microsr
