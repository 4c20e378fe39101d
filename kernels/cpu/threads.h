// How many threads the optimized CPU kernels' parallel regions use.
//
// Every parallel region under kernels/cpu (and the CPU backend's own flat loops) says
// num_threads(team_size()). The count is the caller's, not the process's: a ThreadCount scope sets
// it for the calling thread until the scope ends (the CPU backend opens one with its instance's
// CpuOptions::threads around each operation; benchmarks around each timed kernel), so two backends
// with different counts, on one thread or on several, do not disturb each other, and OpenMP's own
// default (omp_set_num_threads, OMP_NUM_THREADS) is left as it is for everything else.
#pragma once
#include <omp.h>

namespace microsr::kernels {

namespace detail {
inline thread_local int scoped_threads = 0;  // 0: no scope open on this thread
}  // namespace detail

// The team size for a parallel region started now on this thread: the innermost ThreadCount's
// count, or OpenMP's default (omp_get_max_threads(): every core unless OMP_NUM_THREADS says less).
inline int team_size() { return detail::scoped_threads > 0 ? detail::scoped_threads : omp_get_max_threads(); }

// Sets the kernels' thread count on this thread for the scope's lifetime (threads <= 0: OpenMP's
// default), restoring the previous one at its end.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : saved_(detail::scoped_threads) {
    detail::scoped_threads = threads > 0 ? threads : 0;
  }
  ~ThreadCount() { detail::scoped_threads = saved_; }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

}  // namespace microsr::kernels
