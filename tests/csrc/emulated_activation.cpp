// csrc/cuda/activation.cuh on CPU threads, for tests/csrc/test_activation_emulated.py.
// Arrays arrive as float (is_double = 0) or double (is_double = 1) pointers; `kind` picks
// the activation: 0 leaky ReLU (parameter: the slope), 1 softplus (parameter: beta).
#include "emulated.h"

#include "cuda/activation.cuh"

namespace {

// body(forward functor, backward functor) of `kind` in type T.
template <typename T, typename Body>
void with_activation(int kind, double parameter, Body body) {
  const T p = static_cast<T>(parameter);
  if (kind == 0) {
    body(minigan::cuda::LeakyReLU<T>{p}, minigan::cuda::LeakyReLUGrad<T>{p});
  } else {
    body(minigan::cuda::Softplus<T>{p}, minigan::cuda::SoftplusGrad<T>{p});
  }
}

}  // namespace

// The host launchers: their own grid, one launch each.
extern "C" int emulated_activation_forward(int kind, int is_double, const void* x, void* y,
                                           int64_t n, double parameter, char* error,
                                           size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      const auto* in = static_cast<const T*>(x);
      auto* out = static_cast<T*>(y);
      if (kind == 0) {
        minigan::cuda::leaky_relu_forward(in, out, n, parameter, 0);
      } else {
        minigan::cuda::softplus_forward(in, out, n, parameter, 0);
      }
    });
  });
}

extern "C" int emulated_activation_backward(int kind, int is_double, const void* grad_y,
                                            const void* x, void* grad_x, int64_t n,
                                            double parameter, char* error, size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      const auto* g = static_cast<const T*>(grad_y);
      const auto* in = static_cast<const T*>(x);
      auto* out = static_cast<T*>(grad_x);
      if (kind == 0) {
        minigan::cuda::leaky_relu_backward(g, in, out, n, parameter, 0);
      } else {
        minigan::cuda::softplus_backward(g, in, out, n, parameter, 0);
      }
    });
  });
}

// Both kernels of `kind` launched with a grid of `blocks` blocks of 256 threads, whatever n
// is: fewer blocks than n needs make every thread go round the grid-stride loop.
extern "C" int emulated_activation_kernels(int kind, int is_double, const void* x, void* y,
                                           const void* grad_y, void* grad_x, int64_t n,
                                           double parameter, unsigned blocks, char* error,
                                           size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      with_activation<T>(kind, parameter, [&](auto forward, auto backward) {
        const dim3 grid(blocks), block(minigan::cuda::kActivationThreads);
        minigan::cuda::launch("map_kernel",
                              minigan::cuda::map_kernel<T, decltype(forward), T>, grid, block,
                              0, nullptr, static_cast<T*>(y), n, forward,
                              static_cast<const T*>(x));
        minigan::cuda::launch("map_kernel",
                              minigan::cuda::map_kernel<T, decltype(backward), T, T>, grid,
                              block, 0, nullptr, static_cast<T*>(grad_x), n, backward,
                              static_cast<const T*>(grad_y), static_cast<const T*>(x));
      });
    });
  });
}

// How many launches the emulator has run so far (every launch with at least one block).
extern "C" unsigned emulated_launches() { return ::minigan::emulator::launches; }

// The grid the host launchers pick for n elements.
extern "C" int64_t emulated_activation_blocks(int64_t n) {
  return minigan::cuda::activation_blocks(n);
}
