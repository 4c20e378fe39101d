#include "io/file_bytes.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

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

int remove_stale_partials(const std::string& folder) {
  namespace fs = std::filesystem;
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::size_t at = name.rfind(".partial-");
    if (name.empty() || name[0] != '.' || at == std::string::npos) continue;
    const std::string digits = name.substr(at + 9);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = pid_t(std::stol(digits));
    if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code gone;
    if (fs::remove(it->path(), gone)) ++removed;
  }
  return removed;
}

std::string partial_path_for(const std::string& path) {
  const std::filesystem::path target(path);
  require(!target.filename().empty(), "cannot write " + path + ": the path names a folder, not a file");
  const std::filesystem::path folder = target.parent_path().empty() ? "." : target.parent_path();
  {
    static std::mutex mutex;
    static std::set<std::string> cleaned;  // folders already swept by this process
    std::error_code ec;
    const std::filesystem::path key = std::filesystem::weakly_canonical(folder, ec);
    std::lock_guard<std::mutex> lock(mutex);
    if (cleaned.insert(ec ? folder.string() : key.string()).second) remove_stale_partials(folder.string());
  }
  std::string temp_name = target.filename().string();  // appended, not "." + s: GCC 12 misfires -Wrestrict
  temp_name.insert(temp_name.begin(), '.');
  temp_name += ".partial-" + std::to_string(::getpid());
  return (folder / temp_name).string();
}

void replace_file_atomically(const std::string& path, const std::function<void(const std::string& temp)>& write_to) {
  const std::string temp = partial_path_for(path);
  const std::filesystem::path target(path);
  const std::filesystem::path folder = target.parent_path().empty() ? "." : target.parent_path();
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
