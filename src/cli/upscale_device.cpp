// How large a tile the chosen backend can take (--tile auto).
#include <algorithm>
#include <cstdio>

#include "microsr/tiler.h"
#include "upscale_jobs.h"

namespace microsr::cli {

namespace {
// What one forward pass may take on the device: 80% of what is free, less one cuDNN workspace.
int64_t device_budget(const Backend& backend) {
  const int64_t workspace = int64_t(CudaOptions{}.workspace_limit);
  return std::max<int64_t>(0, device_memory_stats(backend).available * 8 / 10 - workspace);
}
int bytes_per_value(Precision precision) { return precision == Precision::fp16 ? 2 : 4; }
}  // namespace

int auto_tile_for(const Backend& backend, const RRDBNetConfig& config, int tile_pad, Precision precision) {
  if (!is_cuda(backend)) return auto_tile_size(config, available_host_memory() / 2, tile_pad);
  return auto_tile_size(config, device_budget(backend), tile_pad, 0, 0, bytes_per_value(precision));
}

int auto_batch_for(const Backend& backend, const RRDBNetConfig& config, int tile, int tile_pad, Precision precision) {
  if (!is_cuda(backend) || tile <= 0) return 1;
  const int64_t piece = int64_t(tile) + 2 * int64_t(tile_pad);
  const int64_t one = estimate_forward_bytes(config, piece, piece, 1, bytes_per_value(precision));
  return static_cast<int>(std::clamp<int64_t>(device_budget(backend) / std::max<int64_t>(one, 1), 1, 64));
}

}  // namespace microsr::cli
