// Reading a whole file into memory, for the weight-file parsers (zip, safetensors, ncnn .bin).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace microsr::io {

// The file's bytes; throws Error naming the path when it cannot be opened or read completely.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace microsr::io
