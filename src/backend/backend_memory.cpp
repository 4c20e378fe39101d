// The default of Backend::memory_for_tiles: half of the host's available memory (a backend that
// computes in host memory; the CUDA backend overrides it with its device's).
#include "microsr/backend.h"
#include "microsr/tiler.h"

namespace microsr {

int64_t Backend::memory_for_tiles() const { return available_host_memory() / 2; }

}  // namespace microsr
