// The float and double instances of the Adam step of adam.cuh.
#include "cuda/adam.cuh"

namespace minigan::cuda {

template void adam_step<float>(const AdamTensor<float>*, int64_t, const AdamStep&,
                               std::uintptr_t);
template void adam_step<double>(const AdamTensor<double>*, int64_t, const AdamStep&,
                                std::uintptr_t);

}  // namespace minigan::cuda
