// Ctrl-C (SIGINT) and SIGTERM during a long command. The first asks the command to stop at its
// next safe point — it polls InterruptGuard::requested() between tiles, pairs or iterations —
// so that every finished output stays complete and a rerun continues. A second one stops the
// process at once with exit status 130: the file being written then stays a hidden
// ".NAME.partial-PID", which the next write into that folder removes (io::partial_path_for).
#pragma once

namespace microsr::cli {

class InterruptGuard {
 public:
  InterruptGuard();   // clears the request and installs the handlers
  ~InterruptGuard();  // restores the default handlers; requested() keeps its answer
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static bool requested();
};

}  // namespace microsr::cli
