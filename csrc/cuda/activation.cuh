// Leaky ReLU and softplus in CUDA: one launch forward, one launch backward, one pass over
// the arrays.
//
// Leaky ReLU (minigan/ops/activation.py), with slope a (ReLU is a = 0), on x of any shape
// seen flat, (N,):
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
// Softplus, with beta b > 0 (the logistic losses of GANs are softplus of the logits):
//
//     forward    y[i]  = (max(z, 0) + log1p(e^-|z|)) / b,   z = b x[i]
//     backward   gx[i] = gy[i] sigmoid(z),  sigmoid(z) = 1 / (1 + e) for z >= 0 and
//                        e / (1 + e) for z < 0, e = e^-|z|
//
// the array code's formulas, in its order, exact and overflow-free for any x: e^-|z| is at
// most 1, and each branch of the sigmoid divides by 1 + e, between 1 and 2. expf and
// log1pf (exp and log1p for double) are CUDA's, within a few units in the last place of
// NumPy's; at b = 1 the product and the division are exact.
//
// Threads. Elements are independent in all four kernels: blocks of 256 threads, thread
// j of block b takes i = 256 b + j and strides by the grid, 256 gridDim.x elements (a
// grid-stride loop over an int64_t index); a warp reads 32 neighbouring elements, one
// 128-byte transaction per array for float. The grid is adam.cuh's for the same reason (a
// memory-bound kernel keeps DRAM busy with every SM full): min(ceil(N / 256), 4224)
// blocks. The four are one template, map_kernel (one input forward, gy and x backward),
// over the functors below that hold each formula.
//
// Traffic and launches. Leaky ReLU's array code is two elementwise kernels forward at
// a != 0 (a x into a new array, then max(a x, x) into it: 2 + 3 passes) and five backward
// (x > 0, its cast to T, the multiplication by 1 - a and the addition of a in place, then
// gy times it: 2 + 2 + 2 + 2 + 3 = 11 passes, two temporaries), three at a = 0 (7
// passes). Softplus's is 8 kernels forward (b x, max, |.|, negation, exp, log1p, +, / b;
// 6 at b = 1) and 10 backward (b x, the sigmoid's |.|, negation, exp, 1 +, 1 /, z >= 0,
// e r and where, then gy times it; 9 at b = 1). Each kernel here reads x (and gy) and
// writes one array: 2 or 3 passes, one launch. On the small arrays of a loss (a batch of
// logits) the launches are all there is.
#pragma once

#include <algorithm>

#include "cuda/activation.h"
#include "cuda/device.cuh"

namespace minigan::cuda {

inline constexpr int kActivationThreads = 256;
inline constexpr int64_t kActivationMaxBlocks = 4 * 132 * (2048 / kActivationThreads);

// y = x where x > 0 or x is NaN, else a x (0 at a = 0).
template <typename T>
struct LeakyReLU {
  T slope;
  __device__ __forceinline__ T operator()(T x) const {
    return (x > 0 || x != x) ? x : (slope == 0 ? T(0) : slope * x);
  }
};

// gx = gy where x > 0, else a gy.
template <typename T>
struct LeakyReLUGrad {
  T slope;
  __device__ __forceinline__ T operator()(T gy, T x) const { return x > 0 ? gy : slope * gy; }
};

// e^-|z|: at most 1, never overflows.
template <typename T>
__device__ __forceinline__ T exp_minus_abs(T z) {
  return exp_(z >= 0 ? -z : z);
}

// y = (max(z, 0) + log1p(e^-|z|)) / b, z = b x; max keeps a NaN.
template <typename T>
struct Softplus {
  T beta;
  __device__ __forceinline__ T operator()(T x) const {
    const T z = beta * x;
    const T positive = (z > 0 || z != z) ? z : T(0);
    return (positive + log1p_(exp_minus_abs(z))) / beta;
  }
};

// gx = gy sigmoid(z), z = b x, each branch dividing by 1 + e^-|z|.
template <typename T>
struct SoftplusGrad {
  T beta;
  __device__ __forceinline__ T operator()(T gy, T x) const {
    const T z = beta * x;
    const T e = exp_minus_abs(z);
    const T r = T(1) / (T(1) + e);
    return gy * (z >= 0 ? r : e * r);
  }
};

// out[i] = op(in[i]...) (one input forward, two backward: gy and x) for i = 256 b + j,
// then + 256 gridDim.x, ... below size.
template <typename T, typename Op, typename... In>
__global__ void __launch_bounds__(kActivationThreads)
    map_kernel(T* out, int64_t size, Op op, const In*... in) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < size;
       i += stride) {
    out[i] = op(in[i]...);
  }
}

inline int64_t activation_blocks(int64_t size) {
  return std::min(ceil_div(size, kActivationThreads), kActivationMaxBlocks);
}

template <typename T, typename Op, typename... In>
void map(const char* name, T* out, int64_t size, Op op, std::uintptr_t stream,
         const In*... in) {
  const unsigned blocks = static_cast<unsigned>(activation_blocks(size));
  launch(name, map_kernel<T, Op, In...>, dim3(blocks), dim3(kActivationThreads), 0,
         reinterpret_cast<Stream>(stream), out, size, op, in...);
}

template <typename T>
void leaky_relu_forward(const T* x, T* y, int64_t size, double slope, std::uintptr_t stream) {
  map("leaky_relu_forward_kernel", y, size, LeakyReLU<T>{static_cast<T>(slope)}, stream, x);
}

template <typename T>
void leaky_relu_backward(const T* grad_y, const T* x, T* grad_x, int64_t size, double slope,
                         std::uintptr_t stream) {
  map("leaky_relu_backward_kernel", grad_x, size, LeakyReLUGrad<T>{static_cast<T>(slope)},
      stream, grad_y, x);
}

template <typename T>
void softplus_forward(const T* x, T* y, int64_t size, double beta, std::uintptr_t stream) {
  map("softplus_forward_kernel", y, size, Softplus<T>{static_cast<T>(beta)}, stream, x);
}

template <typename T>
void softplus_backward(const T* grad_y, const T* x, T* grad_x, int64_t size, double beta,
                       std::uintptr_t stream) {
  map("softplus_backward_kernel", grad_x, size, SoftplusGrad<T>{static_cast<T>(beta)},
      stream, grad_y, x);
}

}  // namespace minigan::cuda
