// Batch and instance norm on the GPU (normalization.cuh): the host API that bindings.cpp
// calls. Plain C++: no CUDA headers here.
#pragma once

#include <cstdint>

namespace minigan::cuda {

// x seen as (a, g, b), C-contiguous: g groups of statistics, group k over the a * b
// elements x[i, k, j]; group k is scaled by weight[k % c] and shifted by bias[k % c].
//   batch norm of (N, C, *S):      a = N, g = C,     b = prod S, c = C
//   instance norm of (N, C, *S):   a = 1, g = N C,   b = prod S, c = C
struct NormSizes {
  int64_t a, g, b, c;
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
// mean and invstd (g,) (the batch's own when batch_stats, else constants), writing
//   sum_grad_y[k] = sum grad_y,   sum_grad_y_xhat[k] = sum grad_y xhat     (g,)
//   grad_x = invstd w (grad_y - E[grad_y] - xhat E[grad_y xhat])   batch_stats
//   grad_x = invstd w grad_y                                       given statistics
// with xhat = (x - mean[k]) invstd[k] and w = weight[k % c] (1 when nullptr). grad_x may
// be nullptr (only the sums: x needs no gradient). The caller sums the (g,) sums over
// the groups of one channel to get dbias and dweight (c,).
template <typename T>
void normalize_backward(const T* grad_y, const T* x, const T* weight, const T* mean,
                        const T* invstd, T* grad_x, T* sum_grad_y, T* sum_grad_y_xhat,
                        const NormSizes& sizes, bool batch_stats, std::uintptr_t stream);

}  // namespace minigan::cuda
