// Batch, instance and layer norm in CUDA: the statistics, the normalization and the
// running averages in one launch; the gradient in one more.
//
// The op of minigan/ops/normalization.py (`Normalize`), for the norms whose statistics
// and affine parameters line up with a 3-D view. x is seen as (a, g, b), C-contiguous,
// and group k holds the n = a b elements x[i, k, j]:
//
//     batch norm of (N, C, H, W):      a = N, g = C,     b = H W     (one group a channel)
//     instance norm of (N, C, H, W):   a = 1, g = N C,   b = H W     (one group an image's
//                                                                     channel)
//     layer norm of (N, C, H, W):      a = 1, g = N,     b = C H W   (one group an image)
//
// For batch and instance norm, channel c = k % C of group k owns weight[c] (γ) and
// bias[c] (β), one pair for the whole group ("per channel"); for layer norm, position j
// owns γ[j] and β[j], the same for every group ("per position"). Forward, per group:
//
//     mean = E[x],   var = E[(x - mean)^2],   invstd = 1 / sqrt(var + eps)
//     y = (x - mean) (invstd γ) + β
//
// and, for batch norm in training, the running averages (unbiased variance, as PyTorch):
//
//     running_mean = (1 - m) running_mean + m mean
//     running_var  = (1 - m) running_var  + m var n / (n - 1)
//
// Backward, for the output gradient dy, with x̂ = (x - mean) invstd and sums over the group,
// per channel:
//
//     Σdy,   Σdy x̂                                          (both kept: dβ, dγ need them)
//     dx = invstd γ (dy - Σdy / n - x̂ Σdy x̂ / n)            statistics of the batch
//     dx = invstd γ dy                                      given statistics (eval mode)
//
// The two subtracted terms are the gradient's paths through the mean and the variance.
// dβ[c] and dγ[c] are the sums of Σdy and Σdy x̂ over the groups of channel c: for batch
// norm the group sums themselves, for instance norm a sum over the N images, which the
// caller makes. Per position, γ varies inside the group, so the same formula runs on
// g = dy γ[j]: dx = invstd (g - Σg / n - x̂ Σg x̂ / n); dβ[j] and dγ[j] are then sums over
// the groups at one position (over the images, for layer norm), which the caller makes
// from dy and x̂ as array calls.
//
// Blocks and threads. One block of 256 threads per group k, so that a group's sums never
// leave its block: no second launch, no atomics. Thread t walks the group's elements
// e = t, t + 256, t + 512, ... < n, element e being x[i, k, j] with i = e / b, j = e % b,
// at offset (i g + k) b + j. Consecutive threads take consecutive e, hence consecutive j
// within a row of b elements: a warp reads 32 neighbouring values (one 128-byte line in
// float) when b >= 32, and two or more rows' pieces when b is smaller (4 x 4 maps, b = 16).
// Each thread sums its elements in order, then the 256 partial sums meet in shared memory
// in a tree (128 + 128, 64 + 64, ...: 8 halvings, a __syncthreads after each), in the same
// order on every run: the result is the same bit for bit, run after run.
//
// The forward walks the group three times: the sum of x (the mean), the sum of
// (x - mean)^2 (the variance, two passes so that no E[x^2] - E[x]^2 cancels), and the
// output. Thread 0 writes the statistics and the running averages. The backward walks it
// twice: the two sums, then dx.
//
// Traffic, in passes (one array read or written in full). Forward: x read 3 times, y
// written once: 4 passes, the second and third read of x from L2 when the tensor fits (an
// H100's L2 holds 50 MB; a DCGAN batch norm's input is a few MB). The same math as array
// calls (ops/normalization.py on CuPy) makes about 21 launches: 4 for the moments (6
// passes), 3 for invstd, 4 for the output (6 passes), 9 for the running averages, 1 more
// for invstd γ. Backward: gy and x read twice, dx written once: 5 passes in 1 launch,
// where the array code makes 13 launches and 26 passes (plus 2 small sums over the images
// for instance norm, which stay; layer norm's dγ and dβ stay array calls, 5 launches).
//
// Grid. g blocks: 64 to 512 for DCGAN's batch norms (a partial wave to four waves on 132
// SMs), N C for instance norm, N for layer norm. Few groups of many elements (batch norm
// of a large image batch with few channels, layer norm of a small batch) leave SMs idle:
// splitting a group over blocks would need a grid-wide sum, as spectral_norm.cuh makes
// with its last-arriving block; not done here.
//
// Precision. Sums run in the accumulator type (float for float, double for double); a
// thread's chain is n / 256 terms long, then 8 tree levels, comparable to NumPy's
// pairwise sums. The statistics are rounded to T before use, as the array code stores
// them in x's dtype.
#pragma once

#include "cuda/device.cuh"
#include "cuda/normalization.h"

namespace minigan::cuda {

inline constexpr int kNormThreads = 256;

// Offset of element e of group k: x[i, k, j] with i = e / b, j = e % b.
__device__ __forceinline__ int64_t norm_offset(const NormSizes& s, int64_t k, int64_t e) {
  const int64_t i = e / s.b;
  return (i * s.g + k) * s.b + (e - i * s.b);
}

// The sum of one value per thread of the block, returned to every thread: a tree in
// `scratch` (kNormThreads values of shared memory), in a fixed order.
template <typename A>
__device__ A block_sum(A value, A* scratch) {
  const int t = static_cast<int>(threadIdx.x);
  scratch[t] = value;
  __syncthreads();
  for (int half = kNormThreads / 2; half > 0; half /= 2) {
    if (t < half) scratch[t] += scratch[t + half];
    __syncthreads();
  }
  const A total = scratch[0];
  __syncthreads();   // every thread has read the total before the next sum overwrites it
  return total;
}

// The scalars of the running averages, in the accumulator type.
template <typename A>
struct RunningCoefficients {
  A keep, momentum, unbiased;   // 1 - m, m, n / (n - 1)
};

// Block k: group k's statistics, y, and (thread 0) the running averages.
template <typename T>
__global__ void __launch_bounds__(kNormThreads)
    normalize_forward_kernel(const T* x, const T* weight, const T* bias, T* y, T* mean_out,
                             T* var_out, T* invstd_out, NormSizes s,
                             typename Accumulator<T>::type eps, T* running_mean,
                             T* running_var,
                             RunningCoefficients<typename Accumulator<T>::type> running) {
  using A = typename Accumulator<T>::type;
  __shared__ A scratch[kNormThreads];
  const int64_t k = blockIdx.x;
  const int64_t n = s.a * s.b;
  const int t = static_cast<int>(threadIdx.x);

  A sum = 0;
  for (int64_t e = t; e < n; e += kNormThreads) sum += static_cast<A>(x[norm_offset(s, k, e)]);
  const T mean = static_cast<T>(block_sum(sum, scratch) / static_cast<A>(n));

  A squares = 0;
  for (int64_t e = t; e < n; e += kNormThreads) {
    const A centered = static_cast<A>(x[norm_offset(s, k, e)]) - static_cast<A>(mean);
    squares += centered * centered;
  }
  const T var = static_cast<T>(block_sum(squares, scratch) / static_cast<A>(n));
  const T invstd = static_cast<T>(A(1) / sqrt_(static_cast<A>(var) + eps));

  const int64_t c = k % s.c;
  if (t == 0) {
    mean_out[k] = mean;
    var_out[k] = var;
    invstd_out[k] = invstd;
    if (running_mean != nullptr) {
      running_mean[c] = static_cast<T>(static_cast<A>(running_mean[c]) * running.keep +
                                       static_cast<A>(mean) * running.momentum);
      const A unbiased = static_cast<A>(var) * running.unbiased;
      running_var[c] = static_cast<T>(static_cast<A>(running_var[c]) * running.keep +
                                      unbiased * running.momentum);
    }
  }

  // Element e's affine parameters: those of its position j = e % b per position, of the
  // group's channel c per channel.
  for (int64_t e = t; e < n; e += kNormThreads) {
    const int64_t at = norm_offset(s, k, e);
    const int64_t p = s.per_position ? e % s.b : c;
    const A scale = weight == nullptr ? static_cast<A>(invstd)
                                      : static_cast<A>(invstd) * static_cast<A>(weight[p]);
    const A shift = bias == nullptr ? A(0) : static_cast<A>(bias[p]);
    y[at] = static_cast<T>((static_cast<A>(x[at]) - static_cast<A>(mean)) * scale + shift);
  }
}

// Block k: group k's two sums (when sum_grad_y is not nullptr) and its dx (when grad_x
// is not nullptr).
template <typename T>
__global__ void __launch_bounds__(kNormThreads)
    normalize_backward_kernel(const T* grad_y, const T* x, const T* weight, const T* mean,
                              const T* invstd, T* grad_x, T* sum_grad_y, T* sum_grad_y_xhat,
                              NormSizes s, bool batch_stats) {
  using A = typename Accumulator<T>::type;
  __shared__ A scratch[kNormThreads];
  const int64_t k = blockIdx.x;
  const int64_t n = s.a * s.b;
  const int t = static_cast<int>(threadIdx.x);
  const A mu = static_cast<A>(mean[k]);
  const A r = static_cast<A>(invstd[k]);

  // dy of element e: grad_y, times the element's weight per position (per channel the
  // group's one weight is applied once, in `scale` below).
  const bool weighted = s.per_position && weight != nullptr;
  auto dy_of = [&](int64_t e, int64_t at) {
    const A dy = static_cast<A>(grad_y[at]);
    return weighted ? dy * static_cast<A>(weight[e % s.b]) : dy;
  };

  A dy_sum = 0;
  A dy_xhat_sum = 0;
  for (int64_t e = t; e < n; e += kNormThreads) {
    const int64_t at = norm_offset(s, k, e);
    const A dy = dy_of(e, at);
    dy_sum += dy;
    dy_xhat_sum += dy * ((static_cast<A>(x[at]) - mu) * r);
  }
  dy_sum = block_sum(dy_sum, scratch);
  dy_xhat_sum = block_sum(dy_xhat_sum, scratch);
  if (t == 0 && sum_grad_y != nullptr) {
    sum_grad_y[k] = static_cast<T>(dy_sum);
    sum_grad_y_xhat[k] = static_cast<T>(dy_xhat_sum);
  }
  if (grad_x == nullptr) return;

  const A scale = weight == nullptr || s.per_position ? r : r * static_cast<A>(weight[k % s.c]);
  const A mean_dy = batch_stats ? dy_sum / static_cast<A>(n) : A(0);
  const A mean_dy_xhat = batch_stats ? dy_xhat_sum / static_cast<A>(n) : A(0);
  for (int64_t e = t; e < n; e += kNormThreads) {
    const int64_t at = norm_offset(s, k, e);
    const A xhat = (static_cast<A>(x[at]) - mu) * r;
    grad_x[at] = static_cast<T>((dy_of(e, at) - mean_dy - xhat * mean_dy_xhat) * scale);
  }
}

// The grid: one block per group, within CUDA's limit on gridDim.x.
inline unsigned norm_blocks(const char* name, const NormSizes& sizes) {
  if (sizes.g < 0 || sizes.g > 2147483647) {
    throw std::invalid_argument(std::string(name) + ": " + std::to_string(sizes.g) +
                                " groups exceed the grid's 2^31 - 1 blocks");
  }
  return static_cast<unsigned>(sizes.g);
}

template <typename T>
void normalize_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* var,
                       T* invstd, const NormSizes& sizes, double eps,
                       const RunningStats<T>& running, std::uintptr_t stream) {
  using A = typename Accumulator<T>::type;
  const double n = static_cast<double>(sizes.a * sizes.b);
  const RunningCoefficients<A> coefficients{static_cast<A>(1 - running.momentum),
                                            static_cast<A>(running.momentum),
                                            static_cast<A>(n / (n - 1))};
  launch("normalize_forward_kernel", normalize_forward_kernel<T>,
         dim3(norm_blocks("normalize_forward", sizes)), dim3(kNormThreads), 0,
         reinterpret_cast<Stream>(stream), x, weight, bias, y, mean, var, invstd, sizes,
         static_cast<A>(eps), running.mean, running.var, coefficients);
}

template <typename T>
void normalize_backward(const T* grad_y, const T* x, const T* weight, const T* mean,
                        const T* invstd, T* grad_x, T* sum_grad_y, T* sum_grad_y_xhat,
                        const NormSizes& sizes, bool batch_stats, std::uintptr_t stream) {
  launch("normalize_backward_kernel", normalize_backward_kernel<T>,
         dim3(norm_blocks("normalize_backward", sizes)), dim3(kNormThreads), 0,
         reinterpret_cast<Stream>(stream), grad_y, x, weight, mean, invstd, grad_x,
         sum_grad_y, sum_grad_y_xhat, sizes, batch_stats);
}

}  // namespace minigan::cuda
