// csrc/cuda/activation.cuh on CPU threads, for tests/csrc/test_activation_emulated.py.
// Arrays arrive as float (is_double = 0) or double (is_double = 1) pointers.
#include "emulated.h"

#include "cuda/activation.cuh"

// The host launchers: their own grid, one launch each.
extern "C" int emulated_leaky_relu_forward(int is_double, const void* x, void* y, int64_t n,
                                           double slope, char* error, size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      minigan::cuda::leaky_relu_forward(static_cast<const T*>(x), static_cast<T*>(y), n, slope,
                                        0);
    });
  });
}

extern "C" int emulated_leaky_relu_backward(int is_double, const void* grad_y, const void* x,
                                            void* grad_x, int64_t n, double slope, char* error,
                                            size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      minigan::cuda::leaky_relu_backward(static_cast<const T*>(grad_y),
                                         static_cast<const T*>(x), static_cast<T*>(grad_x), n,
                                         slope, 0);
    });
  });
}

// Both kernels launched with a grid of `blocks` blocks of 256 threads, whatever n is:
// fewer blocks than n needs make every thread go round the grid-stride loop.
extern "C" int emulated_leaky_relu_kernels(int is_double, const void* x, void* y,
                                           const void* grad_y, void* grad_x, int64_t n,
                                           double slope, unsigned blocks, char* error,
                                           size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      const dim3 grid(blocks), block(minigan::cuda::kActivationThreads);
      minigan::cuda::launch("leaky_relu_forward_kernel",
                            minigan::cuda::leaky_relu_forward_kernel<T>, grid, block, 0,
                            nullptr, static_cast<const T*>(x), static_cast<T*>(y), n,
                            static_cast<T>(slope));
      minigan::cuda::launch("leaky_relu_backward_kernel",
                            minigan::cuda::leaky_relu_backward_kernel<T>, grid, block, 0,
                            nullptr, static_cast<const T*>(grad_y), static_cast<const T*>(x),
                            static_cast<T*>(grad_x), n, static_cast<T>(slope));
    });
  });
}

// How many launches the emulator has run so far (every launch with at least one block).
extern "C" unsigned emulated_launches() { return ::minigan::emulator::launches; }

// The grid the host launchers pick for n elements.
extern "C" int64_t emulated_activation_blocks(int64_t n) {
  return minigan::cuda::activation_blocks(n);
}
