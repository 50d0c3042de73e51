// The float and double instances of the batch, instance and layer norm of
// normalization.cuh.
#include "cuda/normalization.cuh"

namespace minigan::cuda {

template void normalize_forward<float>(const float*, const float*, const float*, float*,
                                       float*, float*, float*, const NormSizes&, double,
                                       const RunningStats<float>&, std::uintptr_t);
template void normalize_forward<double>(const double*, const double*, const double*,
                                        double*, double*, double*, double*, const NormSizes&,
                                        double, const RunningStats<double>&, std::uintptr_t);
template void normalize_backward<float>(const float*, const float*, const float*,
                                        const float*, const float*, float*, float*, float*,
                                        const NormSizes&, bool, std::uintptr_t);
template void normalize_backward<double>(const double*, const double*, const double*,
                                         const double*, const double*, double*, double*,
                                         double*, const NormSizes&, bool, std::uintptr_t);

}  // namespace minigan::cuda
