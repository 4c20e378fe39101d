// A TensorProto's elements: checked dims, then raw_data (little-endian, packed), a typed field
// (float_data, int32_data, ...) or an external data file, decoded into an OnnxTensor.
//
// Where ONNX puts each type's elements when raw_data is not used:
//   float32 float_data; float64 double_data; int64 int64_data; uint32, uint64 uint64_data;
//   int32, int16, int8, uint8, uint16, bool, and the bits of float16 and bfloat16: int32_data.
// External data (data_location = EXTERNAL): external_data holds "location" (a path relative to
// the model's folder), optional "offset" and "length" in bytes, and "checksum" (ignored).
#include <bit>
#include <cstring>
#include <fstream>

#include "onnx/onnx_decode.h"

namespace microsr::onnx_detail {

namespace {

namespace fs = std::filesystem;

// No tensor may claim more elements than this (2^40, 4 TB of float32): above it a dims product
// is a corrupt field, and the checks below need headroom against overflow.
constexpr uint64_t kMaxElements = uint64_t{1} << 40;

bool decoded_as_floats(int32_t type) {
  return type == int32_t(OnnxType::float32) || type == int32_t(OnnxType::float16) ||
         type == int32_t(OnnxType::bfloat16);
}
bool decoded_as_integers(int32_t type) {
  switch (static_cast<OnnxType>(type)) {
    case OnnxType::int64:
    case OnnxType::int32:
    case OnnxType::int16:
    case OnnxType::int8:
    case OnnxType::uint8:
    case OnnxType::uint16:
    case OnnxType::uint32:
    case OnnxType::boolean:
      return true;
    default:
      return false;
  }
}
bool decoded(int32_t type) {
  return decoded_as_floats(type) || decoded_as_integers(type) || type == int32_t(OnnxType::float64);
}

// A non-negative decimal integer of at most 18 digits (external data offsets and lengths).
bool parse_decimal(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoll(text);
  return true;
}

// The bytes an external-data tensor names, read from inside the model's folder only.
std::vector<uint8_t> read_external(OnnxTensor& t, const std::vector<std::pair<std::string, std::string>>& entries,
                                   uint64_t expected_bytes, const DecodeContext& context, const std::string& where) {
  bool has_location = false, has_length = false;
  for (const auto& [key, value] : entries) {
    if (key == "location") {
      t.external_location = value;
      has_location = true;
    } else if (key == "offset") {
      require(parse_decimal(value, t.external_offset),
              where + ": external_data offset '" + value + "' is not a non-negative integer");
    } else if (key == "length") {
      require(parse_decimal(value, t.external_length),
              where + ": external_data length '" + value + "' is not a non-negative integer");
      has_length = true;
    }
  }
  require(has_location && !t.external_location.empty(),
          where + ": data_location is EXTERNAL but external_data has no 'location'");
  const fs::path relative(t.external_location);
  require(relative.is_relative() && !relative.has_root_name(),
          where + ": external data location '" + t.external_location +
              "' is absolute; it must be a path inside the model's folder");
  for (const fs::path& part : relative)
    require(part != "..", where + ": external data location '" + t.external_location +
                              "' leaves the model's folder ('..' is not allowed)");
  // Symbolic links could still lead out: compare the resolved paths.
  std::error_code ec;
  const fs::path folder = fs::weakly_canonical(context.model_folder, ec);
  const fs::path file = fs::weakly_canonical(context.model_folder / relative, ec);
  require(!ec, where + ": cannot resolve external data location '" + t.external_location + "'");
  const auto [folder_end, file_at] = std::mismatch(folder.begin(), folder.end(), file.begin(), file.end());
  require(folder_end == folder.end(), where + ": external data location '" + t.external_location + "' resolves to " +
                                          file.string() + ", outside the model's folder " + folder.string());

  const std::string shown = (context.model_folder / relative).string();
  require(fs::is_regular_file(file, ec), where + ": external data file " + shown + " does not exist or is not a file");
  const uint64_t file_size = fs::file_size(file, ec);
  require(!ec, where + ": cannot read the size of external data file " + shown);
  const uint64_t offset = static_cast<uint64_t>(t.external_offset);
  require(offset <= file_size, where + ": external data offset " + std::to_string(offset) + " is past the end of " +
                                   shown + " (" + std::to_string(file_size) + " bytes)");
  if (!has_length) t.external_length = static_cast<int64_t>(file_size - offset);
  const uint64_t length = static_cast<uint64_t>(t.external_length);
  require(length <= file_size - offset, where + ": external data offset " + std::to_string(offset) + " + length " +
                                            std::to_string(length) + " is past the end of " + shown + " (" +
                                            std::to_string(file_size) + " bytes)");
  require(length == expected_bytes || (!has_length && length >= expected_bytes),
          where + ": external data holds " + std::to_string(length) + " bytes but the tensor needs " +
              std::to_string(expected_bytes));
  std::vector<uint8_t> bytes(expected_bytes);
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(expected_bytes));
  require(in.good() || (expected_bytes == 0), where + ": short read from external data file " + shown);
  return bytes;
}

template <class T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Elements from packed little-endian bytes (raw_data or an external file).
void decode_bytes(OnnxTensor& t, const uint8_t* p, int64_t n) {
  const auto type = static_cast<OnnxType>(t.data_type);
  if (decoded_as_floats(t.data_type)) {
    t.floats = Tensor::empty(Shape(t.dims.begin(), t.dims.end()));
    float* out = t.floats.f32();
    if (type == OnnxType::float32) {
      if (n > 0) std::memcpy(out, p, n * 4);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = load_le<uint16_t>(p + 2 * i);
        out[i] = type == OnnxType::float16 ? half_to_float(h) : std::bit_cast<float>(uint32_t{h} << 16);
      }
    }
  } else if (type == OnnxType::float64) {
    t.doubles.resize(n);
    if (n > 0) std::memcpy(t.doubles.data(), p, n * 8);
  } else {
    t.integers.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      switch (type) {
        case OnnxType::int64:
          t.integers[i] = load_le<int64_t>(p + 8 * i);
          break;
        case OnnxType::int32:
          t.integers[i] = load_le<int32_t>(p + 4 * i);
          break;
        case OnnxType::uint32:
          t.integers[i] = load_le<uint32_t>(p + 4 * i);
          break;
        case OnnxType::int16:
          t.integers[i] = load_le<int16_t>(p + 2 * i);
          break;
        case OnnxType::uint16:
          t.integers[i] = load_le<uint16_t>(p + 2 * i);
          break;
        case OnnxType::int8:
          t.integers[i] = static_cast<int8_t>(p[i]);
          break;
        default:  // uint8, bool
          t.integers[i] = p[i];
          break;
      }
    }
  }
  t.has_values = true;
}

// Elements from the typed field that holds this type, whose count must be numel.
void decode_typed_fields(OnnxTensor& t, TensorFields& f, int64_t n, const std::string& where) {
  const auto type = static_cast<OnnxType>(t.data_type);
  auto need_count = [&](std::size_t found, const char* field) {
    require(found == static_cast<uint64_t>(n), where + ": " + onnx_type_name(t.data_type) + " tensor of dims " +
                                                   shape_str(t.dims) + " needs " + std::to_string(n) +
                                                   " elements, but " + field + " holds " + std::to_string(found) +
                                                   (found == 0 ? " (and there is no raw_data)" : ""));
  };
  if (type == OnnxType::float32) {
    need_count(f.float_data.size(), "float_data");
    t.floats = Tensor::empty(Shape(t.dims.begin(), t.dims.end()));
    if (n > 0) std::memcpy(t.floats.f32(), f.float_data.data(), n * 4);
  } else if (type == OnnxType::float16 || type == OnnxType::bfloat16) {
    need_count(f.int32_data.size(), "int32_data");
    t.floats = Tensor::empty(Shape(t.dims.begin(), t.dims.end()));
    float* out = t.floats.f32();
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = static_cast<uint16_t>(f.int32_data[i]);
      out[i] = type == OnnxType::float16 ? half_to_float(h) : std::bit_cast<float>(uint32_t{h} << 16);
    }
  } else if (type == OnnxType::float64) {
    need_count(f.double_data.size(), "double_data");
    t.doubles = std::move(f.double_data);
  } else if (type == OnnxType::int64) {
    need_count(f.int64_data.size(), "int64_data");
    t.integers = std::move(f.int64_data);
  } else if (type == OnnxType::uint32) {
    need_count(f.uint64_data.size(), "uint64_data");
    t.integers.assign(f.uint64_data.begin(), f.uint64_data.end());
    for (int64_t& v : t.integers) v &= 0xffffffff;
  } else {  // int32, int16, int8, uint8, uint16, bool: int32_data, each value's own width
    need_count(f.int32_data.size(), "int32_data");
    t.integers.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = f.int32_data[i];
      switch (type) {
        case OnnxType::int32:
          t.integers[i] = static_cast<int32_t>(v);
          break;
        case OnnxType::int16:
          t.integers[i] = static_cast<int16_t>(v);
          break;
        case OnnxType::int8:
          t.integers[i] = static_cast<int8_t>(v);
          break;
        case OnnxType::uint16:
          t.integers[i] = static_cast<uint16_t>(v);
          break;
        default:  // uint8, bool
          t.integers[i] = static_cast<uint8_t>(v);
          break;
      }
    }
  }
  t.has_values = true;
}

}  // namespace

OnnxTensor make_tensor(TensorFields&& f, const DecodeContext& context, const std::string& where) {
  OnnxTensor t;
  t.name = f.name;
  t.data_type = f.data_type;
  t.dims = f.dims;
  require(!f.has_segment, where + ": segmented tensors (TensorProto.segment) are not supported");
  uint64_t numel = 1;
  for (std::size_t i = 0; i < f.dims.size(); ++i) {
    require(f.dims[i] >= 0, where + ": dims[" + std::to_string(i) + "] is " + std::to_string(f.dims[i]) +
                                "; a tensor's dimensions must not be negative");
    const uint64_t d = static_cast<uint64_t>(f.dims[i]);
    require(d == 0 || numel <= kMaxElements / d,
            where + ": dims " + shape_str(f.dims) + " give more than 2^40 elements; the field is corrupt");
    numel *= d;
  }
  const int64_t n = static_cast<int64_t>(numel);
  const std::size_t element_size = onnx_type_size(f.data_type);
  const uint64_t expected_bytes = numel * element_size;

  if (f.data_location == 1) {
    t.external = true;
    if (!decoded(f.data_type) || element_size == 0) {
      // Keep where it is, but do not read a type we cannot decode.
      for (const auto& [key, value] : f.external_data)
        if (key == "location") t.external_location = value;
      return t;
    }
    const std::vector<uint8_t> bytes = read_external(t, f.external_data, expected_bytes, context, where);
    decode_bytes(t, bytes.data(), n);
    return t;
  }
  require(f.data_location == 0, where + ": data_location is " + std::to_string(f.data_location) +
                                    "; expected 0 (in the model) or 1 (external)");
  if (f.has_raw_data) {
    require(element_size == 0 || f.raw_data.size() == expected_bytes,
            where + ": raw_data holds " + std::to_string(f.raw_data.size()) + " bytes, but " +
                onnx_type_name(f.data_type) + " dims " + shape_str(f.dims) + " need " + std::to_string(expected_bytes));
    if (decoded(f.data_type)) decode_bytes(t, f.raw_data.data(), n);
    return t;
  }
  if (decoded(f.data_type)) decode_typed_fields(t, f, n, where);
  return t;
}

}  // namespace microsr::onnx_detail
