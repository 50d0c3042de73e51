// csrc/cuda/conv.cuh on CPU threads, for tests/csrc/test_conv_emulated.py. Sizes arrive as
// 16 int64s in the order of ConvSizes: n, c, h, w, o, kh, kw, ho, wo, sh, sw, ph, pw, dh,
// dw, groups; arrays as float (is_double = 0) or double (is_double = 1) pointers.
#include "emulated.h"

#include "cuda/conv.cuh"

namespace {

minigan::cuda::ConvSizes conv_sizes(const int64_t* v) {
  return {v[0], v[1], v[2],  v[3],  v[4],  v[5],  v[6],  v[7],
          v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
}

}  // namespace

extern "C" int emulated_conv2d(int is_double, const void* x, const void* weight, void* y,
                               const int64_t* sizes, char* error, size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      minigan::cuda::conv2d(static_cast<const T*>(x), static_cast<const T*>(weight),
                            static_cast<T*>(y), conv_sizes(sizes), 0);
    });
  });
}

extern "C" int emulated_conv_transpose2d(int is_double, const void* dy, const void* weight,
                                         void* dx, const int64_t* sizes, char* error,
                                         size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      minigan::cuda::conv_transpose2d(static_cast<const T*>(dy), static_cast<const T*>(weight),
                                      static_cast<T*>(dx), conv_sizes(sizes), 0);
    });
  });
}

extern "C" int emulated_conv2d_weight(int is_double, const void* x, const void* dy, void* dw,
                                      void* workspace, const int64_t* sizes, char* error,
                                      size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      minigan::cuda::conv2d_weight(static_cast<const T*>(x), static_cast<const T*>(dy),
                                   static_cast<T*>(dw), static_cast<T*>(workspace),
                                   conv_sizes(sizes), 0);
    });
  });
}

extern "C" int64_t emulated_conv2d_weight_splits(const int64_t* sizes) {
  return minigan::cuda::conv2d_weight_splits(conv_sizes(sizes));
}

extern "C" int64_t emulated_conv2d_weight_workspace_size(const int64_t* sizes) {
  return minigan::cuda::conv2d_weight_workspace_size(conv_sizes(sizes));
}

// conv_divide by conv_divisor(divisor) of each of `count` dividends, into quotients.
extern "C" void emulated_conv_divide(int divisor, const uint32_t* dividends,
                                     uint32_t* quotients, int64_t count) {
  const minigan::cuda::ConvDivisor d = minigan::cuda::conv_divisor(divisor);
  for (int64_t e = 0; e < count; ++e) {
    quotients[e] = minigan::cuda::conv_divide(dividends[e], d);
  }
}
