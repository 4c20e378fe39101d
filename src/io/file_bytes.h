// Reading a whole file into memory, for the weight-file parsers (zip, safetensors, ncnn .bin).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace microsr::io {

// The file's bytes; throws Error naming the path when it cannot be opened or read completely.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// The temporary name ".<name>.partial-<pid>" beside `path` under which an atomic write builds
// its file before renaming it to `path`. The first call for a folder in this process also
// removes that folder's partial files whose writing process is gone (killed between its write
// and its rename): otherwise each would stay forever, a checkpoint's 267 MB included.
std::string partial_path_for(const std::string& path);
// Removes the ".*.partial-<pid>" files in `folder` whose process no longer exists (a file of a
// live process, or of another machine's process with a live local pid, is kept); returns how many.
int remove_stale_partials(const std::string& folder);

// Writes `path` so that it is either the old file or the complete new one, never a torn mix:
// `write_to(temp)` writes a temporary file beside it, which is then flushed to disk and renamed
// over `path`. On any error the temporary file is removed and the Error names `path`.
void replace_file_atomically(const std::string& path, const std::function<void(const std::string& temp)>& write_to);
// The same for a text (or any byte string) held in memory.
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace microsr::io
