// The order in which a backward convolution (cudnn_backward.cpp) tries its ways to run, as plain
// C++ so that CI tests it without a device (tests/test_cuda_backward_order.cpp).
//
// Training promises that a stopped and resumed run ends with the same bits as one without a stop,
// so a deterministic algorithm is worth a copy: cuDNN's deterministic algorithms are tried on the
// operands as they are (channel slices of the dense blocks' concatenations), then on packed copies
// of them, and only then the nondeterministic ones (views first, copies last).
#pragma once
#include <array>
#include <vector>

namespace microsr::cudnn_order {

enum class Operands { views, packed_copies };

struct Attempt {
  Operands operands;
  bool deterministic_only;
};

inline constexpr std::array<Attempt, 4> kAttempts = {{{Operands::views, true},
                                                      {Operands::packed_copies, true},
                                                      {Operands::views, false},
                                                      {Operands::packed_copies, false}}};

// Runs the attempts in order until one runs. try_with(Attempt) -> bool (true: it ran).
template <class TryWith>
bool run_in_order(TryWith try_with) {
  for (const Attempt& attempt : kAttempts)
    if (try_with(attempt)) return true;
  return false;
}

// A plan's candidates are ordered deterministic first (best first within each kind). Runs the
// first that cuDNN accepts, erasing each refused one for good (it is refused for these strides
// and alignments, whatever the data); with deterministic_only, stops at the first
// nondeterministic candidate and leaves it for a later attempt.
// Candidate has a `bool deterministic`; run(const Candidate&) -> bool (false: refused).
template <class Candidate, class Run>
bool run_first_accepted(std::vector<Candidate>& candidates, bool deterministic_only, Run run) {
  while (!candidates.empty() && (candidates.front().deterministic || !deterministic_only)) {
    if (run(candidates.front())) return true;
    candidates.erase(candidates.begin());
  }
  return false;
}

}  // namespace microsr::cudnn_order
