// Spectral normalization's power iteration on the GPU (spectral_norm.cuh): the host API
// that bindings.cpp calls. Plain C++: no CUDA headers here.
#pragma once

#include <cstdint>

#include "cuda/arithmetic.h"

namespace minigan::cuda {

// Column slabs (= blocks) of a weight with n columns: one block owns kPowerSlab columns.
inline constexpr int64_t kPowerSlab = 32;
inline int64_t power_iteration_slabs(int64_t n) { return ceil_div(n, kPowerSlab); }

// Elements of the workspace the caller provides (type T): slabs x m partial products W t,
// then slabs squared norms of t.
inline int64_t power_iteration_workspace(int64_t m, int64_t n) {
  return power_iteration_slabs(n) * (m + 1);
}

// n_iterations >= 1 steps of  v = normalize(W^T u), u = normalize(W v),  one launch each,
// then sigma = u^T W v.  weight: (m, n) C-contiguous, u: (m,) (read only), u_out: (m,),
// v: (n,), sigma: (), workspace: power_iteration_workspace(m, n) elements, counter: one
// int that is 0 before the call (and is again 0 after it). normalize(x) = x / max(|x|, eps).
// All device pointers, of one type T (float or double); the launches go on `stream`.
template <typename T>
void power_iteration(const T* weight, const T* u, T* u_out, T* v, T* sigma, T* workspace,
                     int* counter, int64_t m, int64_t n, int64_t n_iterations, double eps,
                     std::uintptr_t stream);

}  // namespace minigan::cuda
