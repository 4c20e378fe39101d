// A minimal ZIP reader and writer, enough for PyTorch's torch.save() archives.
//
// Reader: the whole file is read into memory, the central directory (ZIP64 aware) is parsed, and
// every offset and size is checked against the file before use. Entries may be stored or deflated
// (zlib); their CRC-32 is verified. Encrypted or split archives are refused.
// Writer: stored (uncompressed) entries whose data start on a 64-byte boundary, as torch's writer
// does, so a reader may map tensors in place. Archives above 4 GiB are refused (no ZIP64 writing).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace microsr::io {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 = stored, 8 = deflate
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;  // uncompressed
  uint64_t local_header_offset = 0;
};

class ZipReader {
 public:
  // Throws microsr::Error naming `path` if the file is missing or not a well-formed ZIP archive.
  explicit ZipReader(const std::string& path);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // nullptr when absent
  // The entry's uncompressed bytes (CRC-checked).
  std::vector<uint8_t> read(const ZipEntry& entry) const;
  const std::string& path() const { return path_; }

 private:
  void parse_central_directory();
  uint64_t data_offset(const ZipEntry& entry) const;

  std::string path_;
  std::vector<uint8_t> file_;
  std::vector<ZipEntry> entries_;
};

class ZipWriter {
 public:
  explicit ZipWriter(const std::string& path);  // creates/truncates; throws Error on failure
  // Appends a stored entry whose data begin at a multiple of 64 bytes from the file start.
  void add(const std::string& name, const void* data, std::size_t bytes);
  // Writes the central directory; the archive is incomplete until this returns.
  void finish();

 private:
  void write_bytes(const void* data, std::size_t bytes);

  std::string path_;
  std::ofstream out_;
  uint64_t position_ = 0;
  std::vector<ZipEntry> written_;
  bool finished_ = false;
};

}  // namespace microsr::io
