// keep_large_host_buffers_in_heap (host_memory.h).
#include "core/host_memory.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace microsr {

void keep_large_host_buffers_in_heap() {
  static const bool done = [] {
    const char* set = std::getenv("MICROSR_HOST_HEAP_CACHE");
    if (set && std::strcmp(set, "0") == 0) return false;
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)done;
}

}  // namespace microsr
