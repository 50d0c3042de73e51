// The float and double instances of the Adam step of adam.cuh.
#include "cuda/adam.cuh"

namespace minigan::cuda {

template void adam_step<float>(float*, const float*, float*, float*, float*, int64_t,
                               const AdamStep&, std::uintptr_t);
template void adam_step<double>(double*, const double*, double*, double*, double*, int64_t,
                                const AdamStep&, std::uintptr_t);

}  // namespace minigan::cuda
