// csrc/cuda/spectral_norm.cuh on CPU threads, for tests/csrc/test_spectral_norm_emulated.py.
#include "emulated.h"

#include "cuda/spectral_norm.cuh"

extern "C" int emulated_power_iteration(int is_double, const void* weight, const void* u,
                                        void* u_out, void* v, void* sigma, void* workspace,
                                        int* counter, int64_t m, int64_t n,
                                        int64_t n_iterations, double eps, char* error,
                                        size_t size) {
  return guarded(error, size, [&] {
    if (is_double) {
      minigan::cuda::power_iteration(
          static_cast<const double*>(weight), static_cast<const double*>(u),
          static_cast<double*>(u_out), static_cast<double*>(v), static_cast<double*>(sigma),
          static_cast<double*>(workspace), counter, m, n, n_iterations, eps, 0);
    } else {
      minigan::cuda::power_iteration(
          static_cast<const float*>(weight), static_cast<const float*>(u),
          static_cast<float*>(u_out), static_cast<float*>(v), static_cast<float*>(sigma),
          static_cast<float*>(workspace), counter, m, n, n_iterations, eps, 0);
    }
  });
}

extern "C" int64_t emulated_power_iteration_workspace(int64_t m, int64_t n) {
  return minigan::cuda::power_iteration_workspace(m, n);
}
