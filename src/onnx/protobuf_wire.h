// A reader of the protobuf wire format, bounded: every length is checked against the bytes left,
// varints are at most 10 bytes, and a message's fields are visited one at a time.
//
// The wire format in brief. A message is a sequence of fields, each a key and a value:
//   key    varint (field_number << 3) | wire_type
//   value  by wire type: 0 varint (int32/int64/uint64/bool/enum: 7 bits per byte, low group
//          first, the top bit set on every byte but the last; negative int32/int64 take all 10
//          bytes as two's complement), 1 fixed64 (8 bytes little-endian: double, fixed64),
//          2 length-delimited (a varint byte count, then the bytes: strings, bytes, nested
//          messages, packed repeated scalars), 5 fixed32 (4 bytes little-endian: float).
//          Wire types 3 and 4 (groups) are deprecated; ONNX never writes them and we refuse them.
// Fields may come in any order and repeat; a repeated scalar comes either as one field per
// element or "packed": one length-delimited field whose bytes are the elements back to back.
// A field number we do not know is skipped by its wire type.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace microsr::onnx_wire {

enum class WireType : uint8_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };
const char* wire_type_name(WireType type);

// One field as read: its number and wire type, and the value (varint/fixed bits, or the bytes of
// a length-delimited field, a view into the message's buffer).
struct Field {
  uint32_t number = 0;
  WireType type = WireType::varint;
  uint64_t bits = 0;               // varint, fixed64, fixed32
  std::span<const uint8_t> bytes;  // length_delimited
  uint64_t offset = 0;             // the field's key, in bytes from the start of the file
};

// Visits the fields of one message. `where` ("model.onnx: graph.node[3]") begins every error;
// `base_offset` is the position of `bytes` in the file, so errors give file offsets.
class MessageReader {
 public:
  MessageReader(std::span<const uint8_t> bytes, std::string where, uint64_t base_offset = 0)
      : bytes_(bytes), where_(std::move(where)), base_(base_offset) {}

  // Reads the next field into `field`; false at the end of the message.
  bool next(Field& field);
  const std::string& where() const { return where_; }
  // The file offset of a view into this message's bytes (for nested readers' errors).
  uint64_t offset_of(std::span<const uint8_t> inner) const { return base_ + (inner.data() - bytes_.data()); }

  [[noreturn]] void fail(const std::string& what, uint64_t file_offset) const;

 private:
  uint64_t read_varint();
  std::span<const uint8_t> bytes_;
  std::string where_;
  uint64_t base_ = 0;
  std::size_t pos_ = 0;
};

// ---- decoding one field's value, checking its wire type -------------------------------------
// `what` names the field in errors ("TensorProto.dims").
int64_t as_int64(const MessageReader& reader, const Field& field, const char* what);
float as_float(const MessageReader& reader, const Field& field, const char* what);
std::string as_string(const MessageReader& reader, const Field& field, const char* what);
std::span<const uint8_t> as_bytes(const MessageReader& reader, const Field& field, const char* what);

// Repeated scalars, packed or not: each appends the field's element(s) to `out`.
void append_int64s(const MessageReader& reader, const Field& field, const char* what, std::vector<int64_t>& out);
void append_uint64s(const MessageReader& reader, const Field& field, const char* what, std::vector<uint64_t>& out);
void append_floats(const MessageReader& reader, const Field& field, const char* what, std::vector<float>& out);
void append_doubles(const MessageReader& reader, const Field& field, const char* what, std::vector<double>& out);

}  // namespace microsr::onnx_wire
