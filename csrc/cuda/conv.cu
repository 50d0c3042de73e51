// The float and double instances of the convolution kernels of conv.cuh.
#include "cuda/conv.cuh"

namespace minigan::cuda {

template void conv2d<float>(const float*, const float*, float*, const ConvSizes&,
                            std::uintptr_t);
template void conv2d<double>(const double*, const double*, double*, const ConvSizes&,
                             std::uintptr_t);
template void conv_transpose2d<float>(const float*, const float*, float*, const ConvSizes&,
                                      std::uintptr_t);
template void conv_transpose2d<double>(const double*, const double*, double*,
                                       const ConvSizes&, std::uintptr_t);
template void conv2d_weight<float>(const float*, const float*, float*, float*,
                                   const ConvSizes&, std::uintptr_t);
template void conv2d_weight<double>(const double*, const double*, double*, double*,
                                    const ConvSizes&, std::uintptr_t);

}  // namespace minigan::cuda
