#include "io/deflate.h"

#include <zlib.h>

#include <algorithm>
#include <string>

#include "microsr/error.h"

namespace microsr::detail {
namespace {

constexpr std::size_t kWindow = 32768;  // deflate's history: how far back a match may reach

// RAII for one deflate stream; windowBits 15 = zlib format, -15 = raw deflate.
class Deflater {
 public:
  Deflater(int level, int window_bits) {
    if (deflateInit2(&z_, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw Error("zlib could not start a deflate stream (out of memory?)");
  }
  ~Deflater() { deflateEnd(&z_); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  void prime(const uint8_t* dictionary, std::size_t size) {
    if (size > 0 && deflateSetDictionary(&z_, dictionary, uInt(size)) != Z_OK)
      throw Error("zlib refused a deflate dictionary");
  }

  // Compresses data[0, size) with `flush` at its end (Z_SYNC_FLUSH or Z_FINISH), appending to out.
  void compress(const uint8_t* data, std::size_t size, int flush, std::vector<uint8_t>& out) {
    z_.next_in = const_cast<Bytef*>(data);
    z_.avail_in = uInt(size);
    const std::size_t start = out.size();
    out.resize(start + deflateBound(&z_, uLong(size)) + 16);  // + room for the flush marker
    z_.next_out = out.data() + start;
    z_.avail_out = uInt(out.size() - start);
    const int status = deflate(&z_, flush);
    if (!(status == Z_STREAM_END || (status == Z_OK && flush != Z_FINISH)) || z_.avail_in != 0)
      throw Error("zlib deflate failed (status " + std::to_string(status) + ")");
    out.resize(out.size() - z_.avail_out);
  }

 private:
  z_stream z_{};
};

}  // namespace

std::vector<uint8_t> zlib_compress(const uint8_t* data, std::size_t size, int level) {
  require(size < (std::size_t(1) << 31), "zlib_compress: more than 2 GiB in one stream");
  std::vector<uint8_t> out;
  Deflater(level, 15).compress(data, size, Z_FINISH, out);
  return out;
}

std::vector<uint8_t> zlib_compress_parallel(const uint8_t* data, std::size_t size, int level, std::size_t piece) {
  require(piece > 0, "zlib_compress_parallel: piece must be > 0");
  const std::size_t pieces = std::max<std::size_t>(1, (size + piece - 1) / piece);
  std::vector<std::vector<uint8_t>> parts(pieces);
  std::string failure;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t i = 0; i < pieces; ++i) {
    try {
      const std::size_t begin = i * piece, end = std::min(size, begin + piece);
      Deflater raw(level, -15);
      const std::size_t primed = std::min(begin, kWindow);
      raw.prime(data + begin - primed, primed);
      raw.compress(data + begin, end - begin, i + 1 == pieces ? Z_FINISH : Z_SYNC_FLUSH, parts[i]);
    } catch (const Error& e) {
#pragma omp critical(microsr_deflate_failure)
      failure = e.what();
    }
  }
  if (!failure.empty()) throw Error(failure);

  // zlib header: CMF 0x78 (deflate, 32 KiB window), FLG with the level hint and FCHECK so that
  // (CMF·256 + FLG) is a multiple of 31 (RFC 1950 §2.2).
  const uint8_t level_hint = level <= 1 ? 0 : level <= 5 ? 1 : level == 6 || level == Z_DEFAULT_COMPRESSION ? 2 : 3;
  uint8_t flg = uint8_t(level_hint << 6);
  flg = uint8_t(flg + (31 - (0x78 * 256 + flg) % 31) % 31);
  std::size_t total = 2 + 4;
  for (const auto& p : parts) total += p.size();
  std::vector<uint8_t> out;
  out.reserve(total);
  out.push_back(0x78);
  out.push_back(flg);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  // Adler-32 of the whole input, big-endian; zlib's adler32 takes at most 4 GiB a call.
  uLong adler = adler32(0L, Z_NULL, 0);
  for (std::size_t at = 0; at < size;) {
    const std::size_t n = std::min<std::size_t>(size - at, std::size_t(1) << 30);
    adler = adler32(adler, data + at, uInt(n));
    at += n;
  }
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(adler >> shift));
  return out;
}

}  // namespace microsr::detail
