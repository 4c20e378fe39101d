#include "io/file_bytes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
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

void replace_file_atomically(const std::string& path, const std::function<void(const std::string& temp)>& write_to) {
  const std::filesystem::path target(path);
  require(!target.filename().empty(), "cannot write " + path + ": the path names a folder, not a file");
  const std::filesystem::path folder = target.parent_path().empty() ? "." : target.parent_path();
  std::string temp_name = target.filename().string();  // appended, not "." + s: GCC 12 misfires -Wrestrict
  temp_name.insert(temp_name.begin(), '.');
  temp_name += ".partial-" + std::to_string(::getpid());
  const std::string temp = (folder / temp_name).string();
  try {
    write_to(temp);
    const int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
    require(fd >= 0, "reopening " + temp + " failed");
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    require(synced, "flushing " + temp + " to disk failed");
    require(std::rename(temp.c_str(), path.c_str()) == 0, "renaming " + temp + " over it failed");
  } catch (const std::exception& e) {
    std::remove(temp.c_str());
    throw Error("cannot write " + path + ": " + e.what());
  }
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) ::fsync(dir), ::close(dir);
}

void write_text_atomically(const std::string& path, const std::string& text) {
  replace_file_atomically(path, [&](const std::string& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    require(out.good(), "cannot create " + temp);
    out.write(text.data(), std::streamsize(text.size()));
    out.close();
    require(!out.fail(), "writing " + temp + " failed (disk full?)");
  });
}

}  // namespace microsr::io
