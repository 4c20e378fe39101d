#include "input_failure.h"

#include <sys/resource.h>

#include <exception>
#include <filesystem>
#include <new>

#include "microsr/error.h"
#include "microsr/tiler.h"

namespace microsr::cli {

std::string out_of_memory_text() {
  std::string text = "out of memory (an allocation failed that could not say its size; ";
  const int64_t free_mib = available_host_memory() >> 20;
  text += free_mib > 0 ? std::to_string(free_mib) + " MiB of host memory was free then" : "free memory unknown";
  rlimit limit{};  // a cap set with `ulimit -v` (or a batch system) fails allocations long before memory is full
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    text += ", under an address-space limit (ulimit -v) of " + std::to_string(limit.rlim_cur >> 20) + " MiB";
  return text + ")";
}

std::string input_failure_text() {
  try {
    throw;
  } catch (const Error& e) {
    return e.what();
  } catch (const std::filesystem::filesystem_error& e) {
    return e.what();
  } catch (const std::bad_alloc&) {
    return out_of_memory_text() + " while processing this input";
  }
}

}  // namespace microsr::cli
