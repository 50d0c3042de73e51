// The float and double instances of the power iteration of spectral_norm.cuh.
#include "cuda/spectral_norm.cuh"

namespace minigan::cuda {

template void power_iteration<float>(const float*, const float*, float*, float*, float*,
                                     float*, int*, int64_t, int64_t, int64_t, double,
                                     std::uintptr_t);
template void power_iteration<double>(const double*, const double*, double*, double*,
                                      double*, double*, int*, int64_t, int64_t, int64_t,
                                      double, std::uintptr_t);

}  // namespace minigan::cuda
