#include "onnx/protobuf_wire.h"

#include <bit>
#include <cstring>

#include "microsr/error.h"

namespace microsr::onnx_wire {

static_assert(std::endian::native == std::endian::little, "the wire reader assumes a little-endian host");

const char* wire_type_name(WireType type) {
  switch (type) {
    case WireType::varint:
      return "varint";
    case WireType::fixed64:
      return "64-bit";
    case WireType::length_delimited:
      return "length-delimited";
    case WireType::fixed32:
      return "32-bit";
  }
  return "?";
}

void MessageReader::fail(const std::string& what, uint64_t file_offset) const {
  throw Error(where_ + ": " + what + " (at byte " + std::to_string(file_offset) + ")");
}

// A varint: 7 bits per byte, least significant group first; a byte with its top bit clear ends
// it. 64 bits need at most 10 bytes, so an 11th byte means a corrupt file.
uint64_t MessageReader::read_varint() {
  const std::size_t start = pos_;
  uint64_t value = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= bytes_.size()) fail("truncated varint (the message ends inside it)", base_ + start);
    const uint8_t byte = bytes_[pos_++];
    value |= uint64_t{byte & 0x7fu} << (7 * i);
    if (!(byte & 0x80)) return value;
  }
  fail("varint longer than 10 bytes", base_ + start);
}

bool MessageReader::next(Field& field) {
  if (pos_ >= bytes_.size()) return false;
  field.offset = base_ + pos_;
  const uint64_t key = read_varint();
  const uint64_t number = key >> 3;
  if (number == 0 || number > 0x1fffffff) fail("field number " + std::to_string(number) + " is invalid", field.offset);
  field.number = static_cast<uint32_t>(number);
  const unsigned type = key & 7;
  const std::size_t left_after_key = bytes_.size() - pos_;
  auto take_fixed = [&](std::size_t width) {
    if (width > left_after_key)
      fail("field " + std::to_string(number) + ": " + std::to_string(width) + "-byte value but only " +
               std::to_string(left_after_key) + " bytes left",
           field.offset);
    uint64_t v = 0;
    std::memcpy(&v, bytes_.data() + pos_, width);
    pos_ += width;
    return v;
  };
  switch (type) {
    case 0:
      field.type = WireType::varint;
      field.bits = read_varint();
      return true;
    case 1:
      field.type = WireType::fixed64;
      field.bits = take_fixed(8);
      return true;
    case 5:
      field.type = WireType::fixed32;
      field.bits = take_fixed(4);
      return true;
    case 2: {
      field.type = WireType::length_delimited;
      const uint64_t length = read_varint();
      const std::size_t left = bytes_.size() - pos_;
      if (length > left)
        fail("field " + std::to_string(number) + ": length " + std::to_string(length) + " but only " +
                 std::to_string(left) + " bytes left in the enclosing message",
             field.offset);
      field.bytes = bytes_.subspan(pos_, static_cast<std::size_t>(length));
      pos_ += static_cast<std::size_t>(length);
      return true;
    }
    default:
      fail("field " + std::to_string(number) + " has wire type " + std::to_string(type) +
               (type == 3 || type == 4 ? " (a group, which ONNX never uses)" : " (no such wire type)"),
           field.offset);
  }
}

namespace {

[[noreturn]] void wrong_type(const MessageReader& reader, const Field& field, const char* what, const char* expected) {
  reader.fail(std::string(what) + ": expected a " + expected + " field, found " + wire_type_name(field.type),
              field.offset);
}

// Decodes a packed run of varints (a length-delimited field's bytes).
template <class Int>
void append_packed_varints(const MessageReader& reader, const Field& field, const char* what, std::vector<Int>& out) {
  MessageReader packed(field.bytes, reader.where() + ": " + what, reader.offset_of(field.bytes));
  // Read them as the values of a pseudo message: no keys, so decode varints by hand.
  const std::span<const uint8_t> b = field.bytes;
  std::size_t pos = 0;
  while (pos < b.size()) {
    const std::size_t start = pos;
    uint64_t value = 0;
    bool done = false;
    for (int i = 0; i < 10 && pos < b.size(); ++i) {
      const uint8_t byte = b[pos++];
      value |= uint64_t{byte & 0x7fu} << (7 * i);
      if (!(byte & 0x80)) {
        done = true;
        break;
      }
    }
    if (!done)
      packed.fail(pos - start >= 10 ? "packed varint longer than 10 bytes" : "packed varints end inside a value",
                  reader.offset_of(b) + start);
    out.push_back(static_cast<Int>(value));
  }
}

template <class T>
void append_packed_fixed(const MessageReader& reader, const Field& field, const char* what, std::vector<T>& out) {
  if (field.bytes.size() % sizeof(T) != 0)
    reader.fail(std::string(what) + ": packed " + std::to_string(sizeof(T)) + "-byte values, but the field holds " +
                    std::to_string(field.bytes.size()) + " bytes",
                field.offset);
  const std::size_t count = field.bytes.size() / sizeof(T);
  if (count == 0) return;  // memcpy must not see the null data() of an empty vector
  const std::size_t old = out.size();
  out.resize(old + count);
  std::memcpy(out.data() + old, field.bytes.data(), count * sizeof(T));
}

}  // namespace

int64_t as_int64(const MessageReader& reader, const Field& field, const char* what) {
  if (field.type != WireType::varint) wrong_type(reader, field, what, "varint");
  return static_cast<int64_t>(field.bits);  // int32 and int64 alike: two's complement in 64 bits
}

float as_float(const MessageReader& reader, const Field& field, const char* what) {
  if (field.type != WireType::fixed32) wrong_type(reader, field, what, "32-bit");
  const uint32_t bits = static_cast<uint32_t>(field.bits);
  return std::bit_cast<float>(bits);
}

std::span<const uint8_t> as_bytes(const MessageReader& reader, const Field& field, const char* what) {
  if (field.type != WireType::length_delimited) wrong_type(reader, field, what, "length-delimited");
  return field.bytes;
}

std::string as_string(const MessageReader& reader, const Field& field, const char* what) {
  const std::span<const uint8_t> b = as_bytes(reader, field, what);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

void append_int64s(const MessageReader& reader, const Field& field, const char* what, std::vector<int64_t>& out) {
  if (field.type == WireType::length_delimited) return append_packed_varints(reader, field, what, out);
  out.push_back(as_int64(reader, field, what));
}

void append_uint64s(const MessageReader& reader, const Field& field, const char* what, std::vector<uint64_t>& out) {
  if (field.type == WireType::length_delimited) return append_packed_varints(reader, field, what, out);
  if (field.type != WireType::varint) wrong_type(reader, field, what, "varint");
  out.push_back(field.bits);
}

void append_floats(const MessageReader& reader, const Field& field, const char* what, std::vector<float>& out) {
  if (field.type == WireType::length_delimited) return append_packed_fixed(reader, field, what, out);
  out.push_back(as_float(reader, field, what));
}

void append_doubles(const MessageReader& reader, const Field& field, const char* what, std::vector<double>& out) {
  if (field.type == WireType::length_delimited) return append_packed_fixed(reader, field, what, out);
  if (field.type != WireType::fixed64) wrong_type(reader, field, what, "64-bit");
  out.push_back(std::bit_cast<double>(field.bits));
}

}  // namespace microsr::onnx_wire
