// Adam's parameter update on the GPU, every parameter of a group in one launch (adam.cuh):
// the host API that bindings.cpp calls. Plain C++: no CUDA headers here.
#pragma once

#include <cstdint>

namespace minigan::cuda {

// The hyperparameters of minigan.optim.Adam that one group's parameters share: γ lr, β1
// beta1, β2 beta2, ε eps, λ weight_decay, AdamW's decoupled weight decay, and maximize
// (ascend the objective instead of descending it).
struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay, maximize;
};

// One parameter: device pointers of one type T (float or double) to `size` elements each.
// param (θ), exp_avg (m), exp_avg_sq (v) and max_exp_avg_sq (v^max, nullptr unless
// amsgrad) are overwritten; grad (∇) is only read. All five in one layout (the update is
// elementwise). Its own step count t enters through its bias corrections 1 - β1^t and
// 1 - β2^t (computed on the host): a parameter that missed steps has a smaller t.
template <typename T>
struct AdamTensor {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T* max_exp_avg_sq;
  int64_t size;
  double bias_correction1, bias_correction2;
};

// One Adam step of the `count` parameters `tensors`, in place, in ceil(count / 32) launches
// on `stream`; parameters of size 0 are skipped, and a step where every size is 0 launches
// nothing. No workspace.
template <typename T>
void adam_step(const AdamTensor<T>* tensors, int64_t count, const AdamStep& step,
               std::uintptr_t stream);

}  // namespace minigan::cuda
