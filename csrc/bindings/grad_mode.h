// Autograd's grad mode and anomaly mode, per thread (PyTorch's GradMode is thread-local as
// well): `no_grad()` in one thread leaves the others' modes alone, and a new thread starts
// with grad on and anomaly off. Read directly by Function.apply's C path
// (bind_autograd.cpp); Python reads and sets them through bind_grad_mode.cpp's functions.
#pragma once

namespace gradcore::bindings {

inline thread_local bool tls_grad_enabled = true;
inline thread_local bool tls_anomaly = false;

}  // namespace gradcore::bindings
