// Leaky ReLU in CUDA: one launch forward, one launch backward, one pass over the arrays.
//
// The activation of minigan/ops/activation.py, with slope a (ReLU is a = 0), on x of any
// shape seen flat, (N,):
//
//     forward    y[i]  = x[i]         if x[i] > 0 or x[i] is NaN
//                        a x[i]       otherwise (0 when a = 0, so that -inf gives 0)
//     backward   gx[i] = gy[i]        if x[i] > 0
//                        a gy[i]      otherwise (at x = 0 the slope of the left side)
//
// These are the array code's values. Its forward is max(x, a x) for a <= 1 and
// min(x, a x) for a > 1, both x where x > 0 and a x below, NumPy's maximum keeping a
// NaN; at a = 0 it is max(x, 0). a is rounded once to T, as NumPy rounds a Python float
// that meets an array of dtype T, and there is one multiplication: the forward agrees
// with the array code exactly. Its backward multiplies gy by an array of (1 - a) + a
// where x > 0 and a elsewhere, both rounded to T: a exactly, and 1 within one unit in the
// last place, so there the kernel's gy differs from the array code's by at most that
// unit. A NaN or infinite gy stays NaN or infinite on both (0 gy is not 0 then).
//
// Threads. Elements are independent: blocks of 256 threads, thread j of block b takes
// i = 256 b + j and strides by the grid, 256 gridDim.x elements (a grid-stride loop over
// an int64_t index); a warp reads 32 neighbouring elements, one 128-byte transaction per
// array for float. The grid is adam.cuh's for the same reason (a memory-bound kernel
// keeps DRAM busy with every SM full): min(ceil(N / 256), 4224) blocks.
//
// Traffic and launches. The array code's forward is two elementwise kernels at a != 0
// (a x into a new array, then max(a x, x) into it: 2 + 3 passes) and its backward five
// at a != 0 (x > 0, its cast to T, the multiplication by 1 - a and the addition of a in
// place, then gy times it: 2 + 2 + 2 + 2 + 3 = 11 passes, two temporaries) and three at
// a = 0 (7 passes). These kernels read x (and gy) and write one array: 2 and 3 passes,
// one launch each.
#pragma once

#include <algorithm>

#include "cuda/activation.h"
#include "cuda/device.cuh"

namespace minigan::cuda {

inline constexpr int kActivationThreads = 256;
inline constexpr int64_t kActivationMaxBlocks = 4 * 132 * (2048 / kActivationThreads);

template <typename T>
__global__ void __launch_bounds__(kActivationThreads)
    leaky_relu_forward_kernel(const T* x, T* y, int64_t size, T slope) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < size;
       i += stride) {
    const T v = x[i];
    y[i] = (v > 0 || v != v) ? v : (slope == 0 ? T(0) : slope * v);
  }
}

template <typename T>
__global__ void __launch_bounds__(kActivationThreads)
    leaky_relu_backward_kernel(const T* grad_y, const T* x, T* grad_x, int64_t size,
                               T slope) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < size;
       i += stride) {
    const T g = grad_y[i];
    grad_x[i] = x[i] > 0 ? g : slope * g;
  }
}

inline int64_t activation_blocks(int64_t size) {
  return std::min(ceil_div(size, kActivationThreads), kActivationMaxBlocks);
}

template <typename T>
void leaky_relu_forward(const T* x, T* y, int64_t size, double slope, std::uintptr_t stream) {
  const unsigned blocks = static_cast<unsigned>(activation_blocks(size));
  launch("leaky_relu_forward_kernel", leaky_relu_forward_kernel<T>, dim3(blocks),
         dim3(kActivationThreads), 0, reinterpret_cast<Stream>(stream), x, y, size,
         static_cast<T>(slope));
}

template <typename T>
void leaky_relu_backward(const T* grad_y, const T* x, T* grad_x, int64_t size, double slope,
                         std::uintptr_t stream) {
  const unsigned blocks = static_cast<unsigned>(activation_blocks(size));
  launch("leaky_relu_backward_kernel", leaky_relu_backward_kernel<T>, dim3(blocks),
         dim3(kActivationThreads), 0, reinterpret_cast<Stream>(stream), grad_y, x, grad_x,
         size, static_cast<T>(slope));
}

}  // namespace minigan::cuda
