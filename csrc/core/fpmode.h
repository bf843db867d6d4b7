// Denormal handling: flush-to-zero / denormals-are-zero inside kernel threads,
// so denormal inputs cannot slow a kernel by orders of magnitude. On by default,
// switchable from Python (gradcore.set_flush_denormal).
#pragma once

namespace gradcore {

bool flush_denormal_enabled();
void set_flush_denormal(bool on);

// RAII: sets FTZ/DAZ on the current thread for the duration of a kernel when enabled,
// and restores the caller's MXCSR afterwards.
class DenormalGuard {
 public:
  DenormalGuard();
  ~DenormalGuard();
  DenormalGuard(const DenormalGuard&) = delete;
  DenormalGuard& operator=(const DenormalGuard&) = delete;

 private:
  unsigned saved_ = 0;
  bool active_ = false;
};

}  // namespace gradcore
