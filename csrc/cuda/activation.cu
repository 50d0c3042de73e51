// The float and double instances of the leaky ReLU and softplus kernels of activation.cuh.
#include "cuda/activation.cuh"

namespace minigan::cuda {

template void leaky_relu_forward<float>(const float*, float*, int64_t, double, std::uintptr_t);
template void leaky_relu_forward<double>(const double*, double*, int64_t, double,
                                         std::uintptr_t);
template void leaky_relu_backward<float>(const float*, const float*, float*, int64_t, double,
                                         std::uintptr_t);
template void leaky_relu_backward<double>(const double*, const double*, double*, int64_t,
                                          double, std::uintptr_t);
template void softplus_forward<float>(const float*, float*, int64_t, double, std::uintptr_t);
template void softplus_forward<double>(const double*, double*, int64_t, double,
                                       std::uintptr_t);
template void softplus_backward<float>(const float*, const float*, float*, int64_t, double,
                                       std::uintptr_t);
template void softplus_backward<double>(const double*, const double*, double*, int64_t,
                                        double, std::uintptr_t);

}  // namespace minigan::cuda
