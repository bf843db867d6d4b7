// Scalar argument checks shared by every binding module (_C, its CUDA test driver and
// _C_cuda): no pybind11 here. A failed check throws std::invalid_argument("<op>: <what>"),
// which pybind11 raises as ValueError.
#pragma once
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace gradcore::argcheck {

// A number as Python prints it (1, 0.9, 1e-08).
inline std::string num_str(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

[[noreturn]] inline void fail_invalid(const std::string& op, const std::string& msg) {
  throw std::invalid_argument(op + ": " + msg);
}

// lo <= v <= hi (strict at an end when lo_open / hi_open); NaN always fails.
inline void check_range(double v, const char* op, const char* arg, double lo, double hi,
                        bool lo_open = false, bool hi_open = false) {
  const bool ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (!ok) {
    const std::string range = std::string(lo_open ? "(" : "[") + num_str(lo) + ", " +
                              (std::isinf(hi) ? "inf" : num_str(hi)) + (hi_open ? ")" : "]");
    fail_invalid(op, std::string(arg) + " must be in " + range + ", got " + num_str(v));
  }
}

}  // namespace gradcore::argcheck
