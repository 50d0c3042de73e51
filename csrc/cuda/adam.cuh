// Adam's parameter update in CUDA: every parameter of a group in one launch, one pass
// over each parameter's arrays.
//
// The optimizer of minigan/optim/adam.py (Adam, Kingma & Ba 2015; AdamW, Loshchilov &
// Hutter 2019; AMSGrad, Reddi et al. 2018). A parameter θ of any shape is seen flat, (N,),
// with its gradient ∇ (N,), its moments m (N,) and v (N,) and, with amsgrad, v_max (N,).
// Step t updates every element i on its own, with no element reading another:
//
//     g = -∇[i] if maximize else ∇[i]
//     θ[i] = θ[i] (1 - γ λ)                   if λ != 0 and decoupled (AdamW)
//     g = g + λ θ[i]                          if λ != 0 and not decoupled (L2, Adam)
//     m[i] = β1 m[i] + (1 - β1) g
//     v[i] = β2 v[i] + (1 - β2) (g g)
//     v_max[i] = max(v_max[i], v[i])          if amsgrad; v_max[i] then replaces v[i] below
//     θ[i] = θ[i] - γ (m[i] / bc1) / (sqrt(v[i] / bc2) + ε)    bc1 = 1 - β1^t, bc2 = 1 - β2^t
//
// Precision. The scalars γ, β1, 1 - β1, β2, 1 - β2, ε, λ, 1 - γ λ, and each parameter's bc1
// and bc2, are computed once on the host in double, as Python computes them in adam.py, and
// rounded once to the accumulator type (float for float arrays, double for double), as
// NumPy rounds a Python float that meets an array of that dtype. The per-element arithmetic
// then runs adam.py's operations in adam.py's order (m / bc1 and v / bc2 first, then γ m̂,
// then the division by sqrt(v̂) + ε), so a float64 step agrees with NumPy to rounding: nvcc
// may fuse a multiply and an add into one fma, which rounds once where NumPy rounds twice;
// division and sqrt are correctly rounded on both. max is NumPy's maximum, NaN when either
// side is NaN (fmax would drop the NaN and hide a diverged element).
//
// Many parameters, one launch. A network's parameters are many small arrays (a DCGAN pair:
// 21, most of them batch norm's weights and biases of 64 to 512 elements), and one launch
// each would cost 21 launches per step for a few microseconds of memory traffic. So one
// launch takes a list of up to kAdamListCapacity = 32 parameters, passed by value as the
// kernel's argument (AdamTensorList: five pointers, a size and two bias corrections per
// parameter, 2.2 KB for double, within the 4 KB that every CUDA device accepts as kernel
// arguments, so no table has to be copied to the GPU first). Parameter k gets its own run
// of blocks, blocks_k of them, and the list records where each run ends:
//
//     block_end[k] = blocks_0 + ... + blocks_k          grid = block_end[count - 1]
//
// Block b serves the first parameter k with b < block_end[k], found by a scan of at most 32
// entries that every thread of the block makes alike (the entries sit in the kernel's
// constant bank: one broadcast read each), and works on that parameter's elements only. A
// parameter of size 0 has a run of 0 blocks, which no block lands in. A longer list is
// launched in slices of 32.
//
// Threads. Nothing is shared between elements, so there is no shared memory and no
// synchronization: blocks of 256 threads, and thread j of the run's block r starts at
// element i = 256 r + j of its parameter and strides by the whole run, 256 blocks_k
// elements, while i < N (a grid-stride loop over the run; i is int64_t, so no element count
// overflows it). The 32 threads of a warp touch 32 neighbouring elements of each array, one
// 128-byte transaction per array for float (two for double). The flags (maximize, decay
// kind, amsgrad) are the same for every thread, so their branches never split a warp.
//
// Runs. blocks_k = min(ceil(N_k / 256), kAdamMaxBlocks). The kernel is memory-bound, and
// what keeps DRAM busy is enough loads in flight: every SM holding as many threads as it
// can, which one full wave of blocks gives. An H100 has 132 SMs of at most 2048 threads, 8
// blocks of 256, so a wave is at most 1056 blocks; ptxas (sm_90, -O3) gives the float
// instance 38 registers per thread and the double one 40, so 6 blocks fit an SM's 65536
// registers and a real wave is 792 blocks. (The loop is not unrolled: unrolled, the float
// instance took 48 registers and spilled 24 bytes per thread, for a loop that most threads
// run once.) The cap, 4 x 132 x 8 = 4224 blocks, is four waves at the hardware's maximum
// and about five at this kernel's occupancy: the machine is full whatever the occupancy,
// a partial last wave is a small part of the whole, and a huge parameter costs 4224
// blocks rather than N / 256. Up to 4224 x 256 = 1,081,344 elements each thread updates
// one element; a larger parameter (a 512 x 512 x 4 x 4 conv weight, 4.2M) has each thread
// loop over three or four. A smaller GPU (a T4: 40 SMs of 1024 threads) runs the same grid
// as more waves.
//
// Traffic (a pass: one whole array read or written). Per parameter, the launch reads θ, ∇,
// m, v and writes θ, m, v: 7 passes, 28 bytes per float element (56 per double); amsgrad
// adds v_max, read and written: 9 passes, 36 bytes.
// adam.py runs one elementwise kernel per operator, each reading its array operands in
// full and writing a new (or the same) array, for plain Adam
//
//     m *= β1        2 passes     (1 - β1) g     2     m += ...           3
//     v *= β2        2            g g            2     (1 - β2) (g g)     2     v += ...   3
//     m / bc1        2            v / bc2        2     γ m̂                2
//     sqrt(v̂)        2            ... + ε        2     ... / ...          3     θ -= ...   3
//
// 14 kernels, 32 array passes (128 bytes per float element) and 9 temporary arrays.
// maximize adds -∇ (1 kernel, 2 passes), L2 decay λ θ and g + λ θ (2 kernels, 5 passes),
// decoupled decay θ *= 1 - γ λ (1 kernel, 2 passes), amsgrad maximum (1 kernel, 3 passes):
// between 14 kernels / 32 passes and 18 kernels / 42 passes per parameter per step, where
// this file makes 7 or 9 passes, 3.9x (amsgrad alone: 35 / 9) to 5.6x (maximize with L2:
// 39 / 7) fewer bytes, and one launch for up to 32 parameters where adam.py makes 14 to 18
// per parameter (a DCGAN pair's step: 2 launches instead of 294). The byte counts hold for
// arrays larger than the L2 cache (50 MB on an H100); a smaller parameter's temporaries can
// stay in L2, and then the saving is mostly the launches.
#pragma once

#include <algorithm>

#include "cuda/adam.h"
#include "cuda/device.cuh"

namespace minigan::cuda {

inline constexpr int kAdamThreads = 256;
inline constexpr int64_t kAdamMaxBlocks = 4 * 132 * (2048 / kAdamThreads);   // 4224
inline constexpr int kAdamListCapacity = 32;

// The scalars that a group's parameters share, in the accumulator type A (see "Precision").
template <typename A>
struct AdamCoefficients {
  A lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  A weight_decay, decay_factor;      // λ, and 1 - γ λ
  bool l2_decay, decoupled_decay, maximize;
};

template <typename A>
AdamCoefficients<A> adam_coefficients(const AdamStep& step) {
  const bool decay = step.weight_decay != 0;
  return {static_cast<A>(step.lr),
          static_cast<A>(step.beta1),
          static_cast<A>(1 - step.beta1),
          static_cast<A>(step.beta2),
          static_cast<A>(1 - step.beta2),
          static_cast<A>(step.eps),
          static_cast<A>(step.weight_decay),
          static_cast<A>(1 - step.lr * step.weight_decay),
          decay && !step.decoupled_weight_decay,
          decay && step.decoupled_weight_decay,
          step.maximize};
}

// Up to kAdamListCapacity parameters, the kernel's by-value argument (see "Many
// parameters, one launch"); entries past the list's length are never read.
template <typename T>
struct AdamTensorList {
  using A = typename Accumulator<T>::type;
  T* param[kAdamListCapacity];
  const T* grad[kAdamListCapacity];
  T* exp_avg[kAdamListCapacity];
  T* exp_avg_sq[kAdamListCapacity];
  T* max_exp_avg_sq[kAdamListCapacity];
  int64_t size[kAdamListCapacity];
  A bias_correction1[kAdamListCapacity], bias_correction2[kAdamListCapacity];
  unsigned block_end[kAdamListCapacity];   // blocks of parameters 0..k together
};

// NumPy's maximum(a, b): the larger, or NaN when either is NaN.
template <typename A>
__device__ __forceinline__ A maximum_keeping_nan(A a, A b) {
  return (a != a || a > b) ? a : b;
}

// Block b updates parameter k (the first with b < block_end[k]): its elements
// i = 256 (b - block_end[k - 1]) + j, then + 256 blocks_k, ... below size[k].
template <typename T>
__global__ void __launch_bounds__(kAdamThreads)
    adam_step_kernel(AdamTensorList<T> list, AdamCoefficients<typename Accumulator<T>::type> c) {
  using A = typename Accumulator<T>::type;
  int k = 0;
  while (blockIdx.x >= list.block_end[k]) ++k;
  const unsigned first = k == 0 ? 0 : list.block_end[k - 1];
  T* param = list.param[k];
  const T* grad = list.grad[k];
  T* exp_avg = list.exp_avg[k];
  T* exp_avg_sq = list.exp_avg_sq[k];
  T* max_exp_avg_sq = list.max_exp_avg_sq[k];
  const int64_t size = list.size[k];
  const A bias_correction1 = list.bias_correction1[k];
  const A bias_correction2 = list.bias_correction2[k];
  const int64_t stride = static_cast<int64_t>(list.block_end[k] - first) * blockDim.x;
  MINIGAN_UNROLL("unroll 1")
  for (int64_t i = static_cast<int64_t>(blockIdx.x - first) * blockDim.x + threadIdx.x;
       i < size; i += stride) {
    A theta = static_cast<A>(param[i]);
    A g = c.maximize ? -static_cast<A>(grad[i]) : static_cast<A>(grad[i]);
    if (c.decoupled_decay) theta *= c.decay_factor;
    if (c.l2_decay) g += c.weight_decay * theta;

    const A m = c.beta1 * static_cast<A>(exp_avg[i]) + c.one_minus_beta1 * g;
    A v = c.beta2 * static_cast<A>(exp_avg_sq[i]) + c.one_minus_beta2 * (g * g);
    exp_avg[i] = static_cast<T>(m);
    exp_avg_sq[i] = static_cast<T>(v);
    if (max_exp_avg_sq != nullptr) {
      v = maximum_keeping_nan(static_cast<A>(max_exp_avg_sq[i]), v);
      max_exp_avg_sq[i] = static_cast<T>(v);
    }

    const A m_hat = m / bias_correction1;
    const A v_hat = v / bias_correction2;
    param[i] = static_cast<T>(theta - c.lr * m_hat / (sqrt_(v_hat) + c.eps));
  }
}

// The run of blocks for `size` elements: one element per thread up to the cap; past it,
// the loop.
inline int64_t adam_blocks(int64_t size) {
  return std::min(ceil_div(size, kAdamThreads), kAdamMaxBlocks);
}

// The kernel's argument for `count` <= kAdamListCapacity parameters, with blocks[k] blocks
// for parameter k.
template <typename T>
AdamTensorList<T> adam_tensor_list(const AdamTensor<T>* tensors, int count,
                                   const int64_t* blocks) {
  using A = typename Accumulator<T>::type;
  AdamTensorList<T> list{};
  unsigned end = 0;
  for (int k = 0; k < count; ++k) {
    const AdamTensor<T>& t = tensors[k];
    list.param[k] = t.param;
    list.grad[k] = t.grad;
    list.exp_avg[k] = t.exp_avg;
    list.exp_avg_sq[k] = t.exp_avg_sq;
    list.max_exp_avg_sq[k] = t.max_exp_avg_sq;
    list.size[k] = t.size;
    list.bias_correction1[k] = static_cast<A>(t.bias_correction1);
    list.bias_correction2[k] = static_cast<A>(t.bias_correction2);
    end += static_cast<unsigned>(blocks[k]);
    list.block_end[k] = end;
  }
  return list;
}

template <typename T>
void adam_step(const AdamTensor<T>* tensors, int64_t count, const AdamStep& step,
               std::uintptr_t stream) {
  const auto c = adam_coefficients<typename Accumulator<T>::type>(step);
  for (int64_t start = 0; start < count; start += kAdamListCapacity) {
    const int n = static_cast<int>(std::min<int64_t>(kAdamListCapacity, count - start));
    int64_t blocks[kAdamListCapacity];
    for (int k = 0; k < n; ++k) blocks[k] = adam_blocks(tensors[start + k].size);
    const AdamTensorList<T> list = adam_tensor_list(tensors + start, n, blocks);
    // every size 0: a grid of 0 blocks, which launch() skips.
    launch("adam_step_kernel", adam_step_kernel<T>, dim3(list.block_end[n - 1]),
           dim3(kAdamThreads), 0, reinterpret_cast<Stream>(stream), list, c);
  }
}

}  // namespace minigan::cuda
