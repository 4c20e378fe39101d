// The CPU backend's flat elementwise loops at speed: split among the kernels' threads
// (cpu/threads.h), each chunk run by the widest body this CPU has (cpu/cpu_isa.h). The same bits as
// the reference loops in kernels/cpu/ref/elementwise_ref.cpp (tested in tests/test_conv_cpu.cpp).
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"

namespace microsr::kernels {

namespace {

// Runs body(begin, end) over [0, n) split among the kernels' threads in chunks of whole cache lines
// (16 floats, so that no two threads write one line), one thread per 2^16 floats at most: below
// that a second thread costs more than it saves (a 64x64 feature map is 262144 floats).
template <class Body>
void split_among_threads(int64_t n, Body body) {
  constexpr int64_t kMinPerThread = int64_t{1} << 16;
  const int64_t wanted = n / kMinPerThread;
  const int threads = static_cast<int>(wanted < 1 ? 1 : wanted < team_size() ? wanted : team_size());
#pragma omp parallel num_threads(threads)
  {
    const int64_t lines = (n + 15) / 16, t = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t begin = std::min(n, 16 * (lines * t / count)), end = std::min(n, 16 * (lines * (t + 1) / count));
    body(begin, end);
  }
}

}  // namespace

void scaled_add(float* y, const float* a, float s, const float* b, int64_t n) {
  const bool avx2 = cpu_isa_at_least(CpuIsa::kAvx2);
  split_among_threads(n, [&](int64_t begin, int64_t end) {
    if (avx2)
      scaled_add_avx2(y + begin, a + begin, s, b + begin, end - begin);
    else
      scaled_add_ref(y + begin, a + begin, s, b + begin, end - begin);
  });
}

void floats_to_fp16(uint16_t* y, const float* x, int64_t n) {
  const bool f16c = cpu_isa_at_least(CpuIsa::kAvx2);
  split_among_threads(n, [&](int64_t begin, int64_t end) {
    if (f16c)
      floats_to_fp16_avx2(y + begin, x + begin, end - begin);
    else
      floats_to_fp16_ref(y + begin, x + begin, end - begin);
  });
}

void copy_floats(float* y, const float* x, int64_t n) {
  split_among_threads(n, [&](int64_t begin, int64_t end) {
    if (end > begin) std::memcpy(y + begin, x + begin, (end - begin) * sizeof(float));
  });
}

}  // namespace microsr::kernels
