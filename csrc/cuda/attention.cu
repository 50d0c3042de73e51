// The CUDA kernels of attention.cuh, compiled by nvcc for float and double.
#include "cuda/attention.cuh"

namespace minigan::cuda {

template AttentionSharedBytes attention_shared_bytes<float>(const AttentionSizes&, int);
template AttentionSharedBytes attention_shared_bytes<double>(const AttentionSizes&, int);
template AttentionTiles attention_tiles<float>(const AttentionSizes&);
template AttentionTiles attention_tiles<double>(const AttentionSizes&);

template void attention_forward<float>(const float*, const float*, const float*, float*,
                                       float*, const AttentionSizes&, double, std::uintptr_t);
template void attention_forward<double>(const double*, const double*, const double*, double*,
                                        double*, const AttentionSizes&, double,
                                        std::uintptr_t);

template void attention_backward<float>(const float*, const float*, const float*,
                                        const float*, const float*, const float*, float*,
                                        float*, float*, float*, const AttentionSizes&, double,
                                        std::uintptr_t);
template void attention_backward<double>(const double*, const double*, const double*,
                                         const double*, const double*, const double*, double*,
                                         double*, double*, double*, const AttentionSizes&,
                                         double, std::uintptr_t);

}  // namespace minigan::cuda
