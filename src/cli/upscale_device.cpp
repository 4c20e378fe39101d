// How large a tile the chosen backend can take (--tile auto).
#include <algorithm>

#include "microsr/tiler.h"
#include "upscale_jobs.h"

namespace microsr::cli {

// The backend says how much memory a tile may take (Backend::memory_for_tiles) and how wide its
// activations are; the planner does not ask which device it is. (`precision` is the backend's own.)
int auto_tile_for(const Backend& backend, const RRDBNetConfig& config, int tile_pad, Precision) {
  return auto_tile_size(config, backend.memory_for_tiles(), tile_pad, 0, 0, backend.bytes_per_activation());
}

// Batches of tiles help GPUs only (TileOptions::batch); on the CPU one tile per call.
int auto_batch_for(const Backend& backend, const RRDBNetConfig& config, int tile, int tile_pad, Precision) {
  if (!is_cuda(backend) || tile <= 0) return 1;
  const int64_t piece = int64_t(tile) + 2 * int64_t(tile_pad);
  const int64_t one = estimate_forward_bytes(config, piece, piece, 1, backend.bytes_per_activation());
  return static_cast<int>(std::clamp<int64_t>(backend.memory_for_tiles() / std::max<int64_t>(one, 1), 1, 64));
}

}  // namespace microsr::cli
