#include "io/file_bytes.h"

#include <fstream>

#include "microsr/error.h"

namespace microsr::io {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  require(in.good(), path + ": cannot open file for reading");
  const std::streamoff size = in.tellg();
  require(size >= 0, path + ": cannot determine the file size");
  std::vector<uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  require(in.gcount() == size, path + ": short read");
  return bytes;
}

}  // namespace microsr::io
