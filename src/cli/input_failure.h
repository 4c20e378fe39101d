// One input's failure, in the commands that process many inputs (upscale, detect, make-pairs):
// what concerns only that input becomes one line naming it, and the command goes on with the
// next. Three kinds are an input's own failure:
//   microsr::Error                 bad or unsupported input, a refusal, an OutOfMemory that
//                                  names the buffer and its size;
//   std::filesystem::filesystem_error   a file that cannot be read or written;
//   std::bad_alloc                 host memory ran out somewhere that could not name its size:
//                                  the line says so, with the memory that was free.
// Anything else (an interruption, a bug) is not an input's failure and passes through.
#pragma once
#include <string>

namespace microsr::cli {

// "out of memory (... N MiB of host memory was free then)": for a std::bad_alloc, which names
// no size.
std::string out_of_memory_text();

// Call inside `catch (...)`: the current exception as a failure text, or rethrows it when it is
// not an input's failure.
std::string input_failure_text();

}  // namespace microsr::cli
