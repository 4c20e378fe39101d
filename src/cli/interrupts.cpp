#include "interrupts.h"

#include <unistd.h>

#include <csignal>

namespace microsr::cli {
namespace {

volatile std::sig_atomic_t g_requested = 0;

// Only async-signal-safe calls here: write(2) and _exit(2).
extern "C" void on_interrupt(int) {
  if (g_requested) {
    static const char kNow[] = "\nstopped at once (second interrupt)\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kNow, sizeof kNow - 1);
    ::_exit(130);
  }
  g_requested = 1;
  static const char kSoon[] = "\ninterrupt: stopping after the current step (interrupt again to stop at once)\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kSoon, sizeof kSoon - 1);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_requested = 0;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

bool InterruptGuard::requested() { return g_requested != 0; }

}  // namespace microsr::cli
