// Adam's parameter update on the GPU, one launch per parameter (adam.cuh): the host API that
// bindings.cpp calls. Plain C++: no CUDA headers here.
#pragma once

#include <cstdint>

namespace minigan::cuda {

// One step t of minigan.optim.Adam: γ lr, β1 beta1, β2 beta2, ε eps, λ weight_decay, the
// bias corrections 1 - β1^t and 1 - β2^t (computed on the host, once per step), AdamW's
// decoupled weight decay, and maximize (ascend the objective instead of descending it).
struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2;  // 1 - beta1^t, 1 - beta2^t (host-computed)
  bool decoupled_weight_decay, maximize;
};

// One Adam step of `size` elements, in place, on device pointers of one type T (float or
// double); max_exp_avg_sq is nullptr unless amsgrad. Launches on `stream`; size 0 launches
// nothing.
//   param (θ), exp_avg (m), exp_avg_sq (v), max_exp_avg_sq (v^max): (size,), overwritten;
//   grad (∇): (size,), only read. All five in one layout (the update is elementwise), no
//   workspace.
template <typename T>
void adam_step(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
               int64_t size, const AdamStep& step, std::uintptr_t stream);

}  // namespace minigan::cuda
