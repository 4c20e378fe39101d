// How large a tile the chosen backend can take (--tile auto).
#include <algorithm>
#include <cstdio>

#include "microsr/tiler.h"
#include "upscale_jobs.h"

namespace microsr::cli {

int auto_tile_for(const Backend& backend, const RRDBNetConfig& config, int tile_pad, Precision precision) {
  if (!is_cuda(backend)) return auto_tile_size(config, available_host_memory() / 2, tile_pad);
  const bool fp16 = precision == Precision::fp16;
  const int64_t workspace = int64_t(CudaOptions{}.workspace_limit);
  const int64_t budget = std::max<int64_t>(0, device_memory_stats(backend).available * 8 / 10 - workspace);
  return auto_tile_size(config, budget, tile_pad, 0, 0, fp16 ? 2 : 4);
}

}  // namespace microsr::cli
