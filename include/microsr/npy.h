// NumPy .npy files (format versions 1, 2 and 3), read into and written from OnnxValues, so a user
// can feed `microsr onnx run` and compare its outputs with their own reference.
//
// Read: float32, float16 (widened to float32), float64 (narrowed to float32, type kept as float64),
// int64, int32, int16, int8, uint8, uint16, uint32 and bool, little-endian ('<', '|' or '='),
// C order. Anything else — Fortran order, big-endian, object or string arrays, a truncated file,
// a malformed header — is an Error naming the file and what was found.
// Write: the dtype of the value's ONNX type (float32 '<f4', float16 '<f2', float64 '<f8',
// int64 '<i8', int32 '<i4', bool '|b1', uint8 '|u1', ...), format version 1 (2 when the header
// needs it).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "microsr/onnx_runtime.h"

namespace microsr {

OnnxValue read_npy(const std::string& path);
// The same from bytes in memory; `name` is used in errors.
OnnxValue parse_npy(std::span<const uint8_t> bytes, const std::string& name);

void write_npy(const std::string& path, const OnnxValue& value);
std::vector<uint8_t> encode_npy(const OnnxValue& value);

}  // namespace microsr
