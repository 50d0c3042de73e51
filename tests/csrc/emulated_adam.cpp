// csrc/cuda/adam.cuh on CPU threads, for tests/csrc/test_adam_emulated.py. The step's scalars
// arrive as 7 doubles in the order of AdamStep (lr, beta1, beta2, eps, weight_decay,
// bias_correction1, bias_correction2) and its flags as 2 ints (decoupled_weight_decay,
// maximize); arrays as float (is_double = 0) or double (is_double = 1) pointers,
// max_exp_avg_sq null unless amsgrad.
#include "emulated.h"

#include "cuda/adam.cuh"

namespace {

minigan::cuda::AdamStep adam_step_of(const double* scalars, const int* flags) {
  return {scalars[0], scalars[1], scalars[2], scalars[3], scalars[4],
          scalars[5], scalars[6], flags[0] != 0,  flags[1] != 0};
}

}  // namespace

// The host launcher adam_step: its own grid, one launch.
extern "C" int emulated_adam_step(int is_double, void* param, const void* grad, void* exp_avg,
                                  void* exp_avg_sq, void* max_exp_avg_sq, int64_t n,
                                  const double* scalars, const int* flags, char* error,
                                  size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      minigan::cuda::adam_step(static_cast<T*>(param), static_cast<const T*>(grad),
                               static_cast<T*>(exp_avg), static_cast<T*>(exp_avg_sq),
                               static_cast<T*>(max_exp_avg_sq), n,
                               adam_step_of(scalars, flags), 0);
    });
  });
}

// adam_step_kernel launched with a grid of `blocks` blocks of 256 threads, whatever n is:
// fewer blocks than n needs make every thread go round the grid-stride loop.
extern "C" int emulated_adam_step_kernel(int is_double, void* param, const void* grad,
                                         void* exp_avg, void* exp_avg_sq,
                                         void* max_exp_avg_sq, int64_t n,
                                         const double* scalars, const int* flags,
                                         unsigned blocks, char* error, size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      using A = typename minigan::cuda::Accumulator<T>::type;
      minigan::cuda::launch(
          "adam_step_kernel", minigan::cuda::adam_step_kernel<T>, dim3(blocks),
          dim3(minigan::cuda::kAdamThreads), 0, nullptr, static_cast<T*>(param),
          static_cast<const T*>(grad), static_cast<T*>(exp_avg), static_cast<T*>(exp_avg_sq),
          static_cast<T*>(max_exp_avg_sq), n,
          minigan::cuda::adam_coefficients<A>(adam_step_of(scalars, flags)));
    });
  });
}

// How many launches the emulator has run so far (every launch with at least one block).
extern "C" unsigned emulated_launches() { return ::minigan::emulator::launches; }

// The grid adam_step picks for n elements.
extern "C" int64_t emulated_adam_blocks(int64_t n) { return minigan::cuda::adam_blocks(n); }
