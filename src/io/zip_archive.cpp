#include "io/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "io/file_bytes.h"
#include "microsr/error.h"

namespace microsr::io {
namespace {

// Record signatures and fixed sizes from the PKWARE APPNOTE.
constexpr uint32_t kLocalHeaderSig = 0x04034b50;      // 30 bytes + name + extra
constexpr uint32_t kCentralHeaderSig = 0x02014b50;    // 46 bytes + name + extra + comment
constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;  // 22 bytes + comment
constexpr uint32_t kZip64LocatorSig = 0x07064b50;     // 20 bytes, just before the end record
constexpr uint32_t kZip64EndSig = 0x06064b50;         // 56 bytes
constexpr std::size_t kLocalHeaderSize = 30, kCentralHeaderSize = 46, kEndSize = 22;
constexpr std::size_t kZip64LocatorSize = 20, kZip64EndSize = 56;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kPaddingExtraId = 0x4246;  // "FB": torch's alignment padding field
constexpr uint64_t kDataAlignment = 64;

// Little-endian reads that check the range [offset, offset + N) lies inside `bytes`.
class Bytes {
 public:
  Bytes(const std::vector<uint8_t>& bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  void need(uint64_t offset, uint64_t count, const char* what) const {
    if (offset > bytes_.size() || count > bytes_.size() - offset)  // hot: no message unless failing
      throw Error(path_ + ": corrupt ZIP archive: " + what + " at byte " + std::to_string(offset) + " (+" +
                  std::to_string(count) + " bytes) runs past the end of the " + std::to_string(bytes_.size()) +
                  "-byte file");
  }
  uint64_t le(uint64_t offset, int width, const char* what) const {
    need(offset, width, what);
    uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i) value = (value << 8) | bytes_[offset + i];
    return value;
  }
  uint16_t u16(uint64_t o, const char* what) const { return static_cast<uint16_t>(le(o, 2, what)); }
  uint32_t u32(uint64_t o, const char* what) const { return static_cast<uint32_t>(le(o, 4, what)); }
  uint64_t u64(uint64_t o, const char* what) const { return le(o, 8, what); }
  std::string text(uint64_t o, uint64_t n, const char* what) const {
    need(o, n, what);
    return std::string(reinterpret_cast<const char*>(bytes_.data() + o), n);
  }

 private:
  const std::vector<uint8_t>& bytes_;
  const std::string& path_;
};

uint32_t crc32_of(const uint8_t* data, uint64_t bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (bytes > 0) {  // zlib takes 32-bit lengths
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(bytes, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    bytes -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

// Raw deflate (no zlib header) of exactly `expected_size` output bytes.
std::vector<uint8_t> inflate_exact(const uint8_t* src, uint64_t src_size, uint64_t expected_size,
                                   const std::string& where) {
  // Deflate expands at most ~1032:1; a larger claim is corrupt (and would waste memory).
  require(expected_size <= src_size * 1032 + 64, where + ": uncompressed size " + std::to_string(expected_size) +
                                                     " is impossible for " + std::to_string(src_size) +
                                                     " compressed bytes");
  require(src_size <= std::numeric_limits<uInt>::max() && expected_size < std::numeric_limits<uInt>::max(),
          where + ": deflated entries above 4 GiB are not supported");
  // One spare byte: zlib wants a non-null output buffer, and overrun must be detectable.
  std::vector<uint8_t> out(expected_size + 1);
  z_stream zs{};
  require(inflateInit2(&zs, -MAX_WBITS) == Z_OK, where + ": zlib inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(src);
  zs.avail_in = static_cast<uInt>(src_size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&zs, Z_FINISH);
  const uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  require(status == Z_STREAM_END && produced == expected_size,
          where + ": deflate stream is corrupt (zlib status " + std::to_string(status) + ", " +
              std::to_string(produced) + " of " + std::to_string(expected_size) + " bytes)");
  out.pop_back();
  return out;
}

}  // namespace

// ---- reader ------------------------------------------------------------------------------------

ZipReader::ZipReader(const std::string& path) : path_(path), file_(read_file_bytes(path)) { parse_central_directory(); }

void ZipReader::parse_central_directory() {
  const Bytes b(file_, path_);
  require(file_.size() >= kEndSize, path_ + ": not a ZIP archive (only " + std::to_string(file_.size()) + " bytes)");

  // The end record sits in the last 22 + (up to 65535 comment) bytes; search backwards.
  uint64_t end_offset = 0;
  bool found = false;
  const uint64_t lowest = file_.size() >= kEndSize + 0xffff ? file_.size() - kEndSize - 0xffff : 0;
  for (uint64_t o = file_.size() - kEndSize + 1; o-- > lowest;) {
    if (b.u32(o, "end record") == kEndOfCentralDirSig &&
        o + kEndSize + b.u16(o + 20, "comment length") == file_.size()) {
      end_offset = o;
      found = true;
      break;
    }
  }
  if (!found) {
    // Say which of three things it is: a ZIP cut short (its first local header is there, its
    // directory at the end is not), torch.save's pre-1.6 format (a bare pickle: PROTO opcode
    // 0x80 first), or something else.
    const std::string size = std::to_string(file_.size()) + " bytes";
    if (b.u32(0, "signature") == kLocalHeaderSig)
      throw Error(path_ + ": truncated or damaged ZIP archive (" + size +
                  ", no end-of-central-directory record): copy or download the file again");
    if (file_[0] == 0x80)
      throw Error(path_ +
                  ": a torch.save file from before PyTorch 1.6 (a bare pickle, not a ZIP archive); "
                  "that format is not supported — re-save it with a current PyTorch");
    throw Error(path_ + ": not a ZIP archive (" + size + ", no end-of-central-directory record)");
  }
  require(b.u16(end_offset + 4, "disk number") == 0 && b.u16(end_offset + 6, "disk") == 0,
          path_ + ": multi-disk (split) ZIP archives are not supported");
  uint64_t count = b.u16(end_offset + 10, "entry count");
  uint64_t dir_size = b.u32(end_offset + 12, "central directory size");
  uint64_t dir_offset = b.u32(end_offset + 16, "central directory offset");

  // ZIP64: a locator just before the end record points at the 64-bit end record.
  if (end_offset >= kZip64LocatorSize && b.u32(end_offset - kZip64LocatorSize, "ZIP64 locator") == kZip64LocatorSig) {
    const uint64_t end64 = b.u64(end_offset - kZip64LocatorSize + 8, "ZIP64 end offset");
    b.need(end64, kZip64EndSize, "ZIP64 end record");
    require(b.u32(end64, "ZIP64 end record") == kZip64EndSig,
            path_ + ": corrupt ZIP64 archive: no ZIP64 end record at byte " + std::to_string(end64));
    count = b.u64(end64 + 32, "ZIP64 entry count");
    dir_size = b.u64(end64 + 40, "ZIP64 central directory size");
    dir_offset = b.u64(end64 + 48, "ZIP64 central directory offset");
  }
  b.need(dir_offset, dir_size, "central directory");
  require(count <= dir_size / kCentralHeaderSize, path_ + ": corrupt ZIP archive: " + std::to_string(count) +
                                                      " entries cannot fit in a " + std::to_string(dir_size) +
                                                      "-byte central directory");

  std::unordered_set<std::string> names;
  uint64_t o = dir_offset;
  const uint64_t dir_end = dir_offset + dir_size;
  for (uint64_t i = 0; i < count; ++i) {
    require(o + kCentralHeaderSize <= dir_end && b.u32(o, "central header") == kCentralHeaderSig,
            path_ + ": corrupt ZIP archive: central directory entry " + std::to_string(i) +
                " is missing or runs past the directory");
    ZipEntry e;
    const uint16_t flags = b.u16(o + 8, "flags");
    e.method = b.u16(o + 10, "method");
    e.crc32 = b.u32(o + 16, "crc");
    e.compressed_size = b.u32(o + 20, "compressed size");
    e.size = b.u32(o + 24, "size");
    const uint16_t name_len = b.u16(o + 28, "name length");
    const uint16_t extra_len = b.u16(o + 30, "extra length");
    const uint16_t comment_len = b.u16(o + 32, "comment length");
    e.local_header_offset = b.u32(o + 42, "local header offset");
    require(o + kCentralHeaderSize + name_len + extra_len + comment_len <= dir_end,
            path_ + ": corrupt ZIP archive: central directory entry " + std::to_string(i) + " runs past the directory");
    e.name = b.text(o + kCentralHeaderSize, name_len, "entry name");

    // ZIP64 extended information replaces the fields saturated at 0xffffffff, in this order.
    for (uint64_t x = o + kCentralHeaderSize + name_len, x_end = x + extra_len; x + 4 <= x_end;) {
      const uint16_t id = b.u16(x, "extra id"), len = b.u16(x + 2, "extra length");
      require(x + 4 + len <= x_end,
              path_ + ": corrupt ZIP archive: extra field of '" + e.name + "' runs past its header");
      if (id == kZip64ExtraId) {
        uint64_t field = x + 4;
        auto take = [&](uint64_t& value) {
          require(field + 8 <= x + 4 + len, path_ + ": corrupt ZIP64 extra field for '" + e.name + "'");
          value = b.u64(field, "ZIP64 field");
          field += 8;
        };
        if (e.size == 0xffffffffu) take(e.size);
        if (e.compressed_size == 0xffffffffu) take(e.compressed_size);
        if (e.local_header_offset == 0xffffffffu) take(e.local_header_offset);
      }
      x += 4 + len;
    }

    require(!(flags & 1), path_ + ": entry '" + e.name + "' is encrypted; not supported");
    require(e.method == 0 || e.method == 8, path_ + ": entry '" + e.name + "' uses compression method " +
                                                std::to_string(e.method) +
                                                "; only stored (0) and deflate (8) are supported");
    require(e.method != 0 || e.compressed_size == e.size,
            path_ + ": corrupt ZIP archive: stored entry '" + e.name + "' has compressed size " +
                std::to_string(e.compressed_size) + " != size " + std::to_string(e.size));
    require(names.insert(e.name).second, path_ + ": corrupt ZIP archive: entry '" + e.name + "' appears twice");
    data_offset(e);  // validates the local header and the data range now, not on first read
    entries_.push_back(std::move(e));
    o += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
}

uint64_t ZipReader::data_offset(const ZipEntry& e) const {
  const Bytes b(file_, path_);
  const uint64_t h = e.local_header_offset;
  require(h < file_.size() && b.u32(h, "local header") == kLocalHeaderSig,
          path_ + ": corrupt ZIP archive: no local header for '" + e.name + "' at byte " + std::to_string(h));
  const uint64_t start =
      h + kLocalHeaderSize + b.u16(h + 26, "local name length") + b.u16(h + 28, "local extra length");
  b.need(start, e.compressed_size, ("data of entry '" + e.name + "'").c_str());
  return start;
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<uint8_t> ZipReader::read(const ZipEntry& e) const {
  const uint8_t* src = file_.data() + data_offset(e);
  const std::string where = path_ + ": entry '" + e.name + "'";
  std::vector<uint8_t> out =
      e.method == 0 ? std::vector<uint8_t>(src, src + e.size) : inflate_exact(src, e.compressed_size, e.size, where);
  require(crc32_of(out.data(), out.size()) == e.crc32,
          where + ": CRC-32 mismatch (the archive is corrupt or truncated)");
  return out;
}

// ---- writer ------------------------------------------------------------------------------------

namespace {
void put_le(std::vector<uint8_t>& out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, the earliest DOS date
}  // namespace

ZipWriter::ZipWriter(const std::string& path) : path_(path), out_(path, std::ios::binary | std::ios::trunc) {
  require(out_.good(), path + ": cannot open file for writing");
}

void ZipWriter::write_bytes(const void* data, std::size_t bytes) {
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  require(out_.good(), path_ + ": write failed (disk full?)");
  position_ += bytes;
}

void ZipWriter::add(const std::string& name, const void* data, std::size_t bytes) {
  require(!finished_, path_ + ": ZipWriter::add after finish");
  require(name.size() <= 0xffff, path_ + ": entry name too long: " + name);
  const uint64_t limit = 0xffffffffu;
  require(position_ + bytes + 0x10000 < limit, path_ + ": archives above 4 GiB are not supported by this writer");

  // Pad with an "FB" extra field so the data start on a 64-byte boundary.
  const uint64_t unpadded = position_ + kLocalHeaderSize + name.size() + 4;
  const uint16_t padding = static_cast<uint16_t>((kDataAlignment - unpadded % kDataAlignment) % kDataAlignment);
  ZipEntry e;
  e.name = name;
  e.crc32 = crc32_of(static_cast<const uint8_t*>(data), bytes);
  e.size = e.compressed_size = bytes;
  e.local_header_offset = position_;

  std::vector<uint8_t> header;
  put_le(header, kLocalHeaderSig, 4);
  put_le(header, 20, 2);  // version needed: 2.0
  put_le(header, 0, 2);   // flags
  put_le(header, 0, 2);   // method: stored
  put_le(header, 0, 2);   // time
  put_le(header, kDosDate, 2);
  put_le(header, e.crc32, 4);
  put_le(header, bytes, 4);
  put_le(header, bytes, 4);
  put_le(header, name.size(), 2);
  put_le(header, 4 + padding, 2);
  header.insert(header.end(), name.begin(), name.end());
  put_le(header, kPaddingExtraId, 2);
  put_le(header, padding, 2);
  header.resize(header.size() + padding, 0);
  write_bytes(header.data(), header.size());
  write_bytes(data, bytes);
  written_.push_back(std::move(e));
}

void ZipWriter::finish() {
  if (finished_) return;
  const uint64_t dir_offset = position_;
  std::vector<uint8_t> dir;
  for (const ZipEntry& e : written_) {
    put_le(dir, kCentralHeaderSig, 4);
    put_le(dir, 20, 2);  // version made by
    put_le(dir, 20, 2);  // version needed
    put_le(dir, 0, 2);   // flags
    put_le(dir, 0, 2);   // method: stored
    put_le(dir, 0, 2);   // time
    put_le(dir, kDosDate, 2);
    put_le(dir, e.crc32, 4);
    put_le(dir, e.size, 4);
    put_le(dir, e.size, 4);
    put_le(dir, e.name.size(), 2);
    put_le(dir, 0, 2);  // extra length
    put_le(dir, 0, 2);  // comment length
    put_le(dir, 0, 2);  // disk number
    put_le(dir, 0, 2);  // internal attributes
    put_le(dir, 0, 4);  // external attributes
    put_le(dir, e.local_header_offset, 4);
    dir.insert(dir.end(), e.name.begin(), e.name.end());
  }
  require(written_.size() < 0xffff, path_ + ": too many entries for a non-ZIP64 archive");
  const uint64_t dir_size = dir.size();
  put_le(dir, kEndOfCentralDirSig, 4);
  put_le(dir, 0, 2);  // this disk
  put_le(dir, 0, 2);  // disk with the directory
  put_le(dir, written_.size(), 2);
  put_le(dir, written_.size(), 2);
  put_le(dir, dir_size, 4);
  put_le(dir, dir_offset, 4);
  put_le(dir, 0, 2);  // comment length
  write_bytes(dir.data(), dir.size());
  out_.close();
  require(!out_.fail(), path_ + ": closing the file failed");
  finished_ = true;
}

}  // namespace microsr::io
