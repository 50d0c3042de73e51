// Leaky ReLU (and ReLU, its slope 0) and softplus on the GPU, one launch forward and one
// backward each (activation.cuh): the host API that bindings.cpp calls. Plain C++: no CUDA
// headers here.
#pragma once

#include <cstdint>

namespace minigan::cuda {

// y = leaky_relu(x): x where x > 0 or x is NaN, else slope x (0 at slope 0, also for
// x = -inf). x, y: (size,) device pointers of one type T (float or double), any
// shape seen flat. Launches on `stream`; size 0 launches nothing.
template <typename T>
void leaky_relu_forward(const T* x, T* y, int64_t size, double slope, std::uintptr_t stream);

// grad_x = grad_y where x > 0, else slope grad_y. grad_y, x, grad_x: (size,).
template <typename T>
void leaky_relu_backward(const T* grad_y, const T* x, T* grad_x, int64_t size, double slope,
                         std::uintptr_t stream);

// y = softplus(x) = (max(beta x, 0) + log1p(e^-|beta x|)) / beta, beta > 0. x, y: (size,).
template <typename T>
void softplus_forward(const T* x, T* y, int64_t size, double beta, std::uintptr_t stream);

// grad_x = grad_y sigmoid(beta x). grad_y, x, grad_x: (size,).
template <typename T>
void softplus_backward(const T* grad_y, const T* x, T* grad_x, int64_t size, double beta,
                       std::uintptr_t stream);

}  // namespace minigan::cuda
