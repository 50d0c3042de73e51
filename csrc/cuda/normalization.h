// Batch, instance and layer norm on the GPU (normalization.cuh): the host API that
// bindings.cpp calls. Plain C++: no CUDA headers here.
#pragma once

#include <cstdint>

namespace minigan::cuda {

// x seen as (a, g, b), C-contiguous: g groups of statistics, group k over the a * b
// elements x[i, k, j]. Per channel (per_position false), group k is scaled by
// weight[k % c] and shifted by bias[k % c]; per position (true), element x[i, k, j] by
// weight[j] and bias[j] (c == b).
//   batch norm of (N, C, *S):      a = N, g = C,     b = prod S,  c = C   per channel
//   instance norm of (N, C, *S):   a = 1, g = N C,   b = prod S,  c = C   per channel
//   layer norm of (*M, *L):        a = 1, g = prod M, b = prod L, c = b   per position
struct NormSizes {
  int64_t a, g, b, c;
  bool per_position;
};

// Running statistics of batch norm (g == c), updated in place by the forward when
// mean is not nullptr:
//   running_mean = (1 - momentum) running_mean + momentum mean
//   running_var  = (1 - momentum) running_var  + momentum var n / (n - 1)      n = a b
template <typename T>
struct RunningStats {
  T* mean;           // (c,), or nullptr: no update
  T* var;            // (c,)
  double momentum;
};

// One launch: the statistics of every group and the normalized output,
//   mean[k] = E[x], var[k] = E[(x - mean)^2], invstd[k] = 1 / sqrt(var[k] + eps)
//   y = (x - mean[k]) invstd[k] weight[k % c] + bias[k % c]
// x, y: (a, g, b); weight, bias: (c,) or nullptr (1 and 0); mean, var, invstd: (g,).
// All device pointers of one type T (float or double); launches on `stream`; g == 0
// launches nothing. A group with no elements (a b == 0) gets NaN statistics, as NumPy's
// mean of nothing.
template <typename T>
void normalize_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* var,
                       T* invstd, const NormSizes& sizes, double eps,
                       const RunningStats<T>& running, std::uintptr_t stream);

// One launch: the gradient of the forward for an output gradient grad_y (a, g, b), given
// mean and invstd (g,) (the batch's own when batch_stats, else constants). With
// xhat = (x - mean[k]) invstd[k], w the element's weight (1 when nullptr) and
// dy = grad_y per channel, grad_y w per position, it writes
//   sum_grad_y[k] = sum dy,   sum_grad_y_xhat[k] = sum dy xhat                    (g,)
//   grad_x = invstd (grad_y w - E[dy] w - xhat E[dy xhat] w)   per channel, batch_stats
//   grad_x = invstd (dy - E[dy] - xhat E[dy xhat])             per position, batch_stats
//   grad_x = invstd w grad_y                                   given statistics
// (the two batch_stats lines are one formula: per channel w is constant over the group).
// grad_x may be nullptr (only the sums: x needs no gradient), and so may the two sums
// (both at once: only dx). Per channel, the caller
// sums the (g,) sums over the groups of one channel to get dbias and dweight (c,); per
// position they are sums over the groups of each position, which the caller makes.
template <typename T>
void normalize_backward(const T* grad_y, const T* x, const T* weight, const T* mean,
                        const T* invstd, T* grad_x, T* sum_grad_y, T* sum_grad_y_xhat,
                        const NormSizes& sizes, bool batch_stats, std::uintptr_t stream);

}  // namespace minigan::cuda
