// csrc/cuda/normalization.cuh on CPU threads, for tests/csrc/test_normalization_emulated.py.
// Sizes arrive as 5 int64 (a, g, b, c, per_position); arrays as float (is_double = 0) or
// double (is_double = 1) pointers, null where the host API takes nullptr.
#include "emulated.h"

#include "cuda/normalization.cuh"

namespace {

minigan::cuda::NormSizes sizes_of(const int64_t* sizes) {
  return {sizes[0], sizes[1], sizes[2], sizes[3], sizes[4] != 0};
}

}  // namespace

// The host launcher normalize_forward: y, mean, var, invstd and the running averages
// (running_mean null: none).
extern "C" int emulated_normalize_forward(int is_double, const void* x, const void* weight,
                                          const void* bias, void* y, void* mean, void* var,
                                          void* invstd, const int64_t* sizes, double eps,
                                          void* running_mean, void* running_var,
                                          double momentum, char* error, size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      const minigan::cuda::RunningStats<T> running{static_cast<T*>(running_mean),
                                                   static_cast<T*>(running_var), momentum};
      minigan::cuda::normalize_forward(static_cast<const T*>(x), static_cast<const T*>(weight),
                                       static_cast<const T*>(bias), static_cast<T*>(y),
                                       static_cast<T*>(mean), static_cast<T*>(var),
                                       static_cast<T*>(invstd), sizes_of(sizes), eps, running,
                                       0);
    });
  });
}

// The host launcher normalize_backward: the two group sums (not null) and dx (not null).
extern "C" int emulated_normalize_backward(int is_double, const void* grad_y, const void* x,
                                           const void* weight, const void* mean,
                                           const void* invstd, void* grad_x, void* sum_grad_y,
                                           void* sum_grad_y_xhat, const int64_t* sizes,
                                           int batch_stats, char* error, size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      minigan::cuda::normalize_backward(
          static_cast<const T*>(grad_y), static_cast<const T*>(x), static_cast<const T*>(weight),
          static_cast<const T*>(mean), static_cast<const T*>(invstd), static_cast<T*>(grad_x),
          static_cast<T*>(sum_grad_y), static_cast<T*>(sum_grad_y_xhat), sizes_of(sizes),
          batch_stats != 0, 0);
    });
  });
}

// How many launches the emulator has run so far (every launch with at least one block).
extern "C" unsigned emulated_launches() { return ::minigan::emulator::launches; }
