// Process-wide host-memory policy for backends that compute in host memory.
#pragma once

namespace microsr {

// Activations of a network pass are tens of MiB each (RealESRGAN at 128x128 input: 64 channels at
// 512x512 = 67 MB) and are freed and allocated again every pass. glibc serves blocks above its mmap
// threshold (at most 32 MiB) with mmap and unmaps them on free, so each pass would fault in and
// zero its big activations anew (perf at 128^2 on AMX: ~8% of the samples in the page-fault path).
// This serves them from the heap and keeps the heap untrimmed (mallopt M_MMAP_THRESHOLD and
// M_TRIM_THRESHOLD at 1 GiB), so a freed activation's pages are reused at once; the cost is a
// higher resident peak (RealESRGAN 128^2, 1 thread: 420 -> 565 MB). Called once per process (the
// CPU backend calls it on construction); MICROSR_HOST_HEAP_CACHE=0 leaves glibc's defaults, for
// A/B runs.
void keep_large_host_buffers_in_heap();

}  // namespace microsr
