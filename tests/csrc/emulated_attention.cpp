// csrc/cuda/attention.cuh on CPU threads, for tests/csrc/test_attention_emulated.py.
// sizes: {batch, heads, nq, nk, d, dv}; is_double picks float (0) or double (1) arrays.
#include "emulated.h"

#include "cuda/attention.cuh"

namespace {

minigan::cuda::AttentionSizes sizes_of(const int64_t* sizes) {
  return {sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], sizes[5]};
}

template <typename T>
void forward(const void* q, const void* k, const void* v, void* out, void* lse,
             const int64_t* sizes, double scale) {
  minigan::cuda::attention_forward(static_cast<const T*>(q), static_cast<const T*>(k),
                                   static_cast<const T*>(v), static_cast<T*>(out),
                                   static_cast<T*>(lse), sizes_of(sizes), scale, 0);
}

template <typename T>
void backward(const void* q, const void* k, const void* v, const void* out, const void* lse,
              const void* grad_out, void* dq, void* dk, void* dv, void* delta,
              const int64_t* sizes, double scale) {
  minigan::cuda::attention_backward(
      static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v),
      static_cast<const T*>(out), static_cast<const T*>(lse), static_cast<const T*>(grad_out),
      static_cast<T*>(dq), static_cast<T*>(dk), static_cast<T*>(dv), static_cast<T*>(delta),
      sizes_of(sizes), scale, 0);
}

}  // namespace

extern "C" int emulated_attention_forward(int is_double, const void* q, const void* k,
                                          const void* v, void* out, void* lse,
                                          const int64_t* sizes, double scale, char* error,
                                          size_t size) {
  return guarded(error, size, [&] {
    if (is_double) {
      forward<double>(q, k, v, out, lse, sizes, scale);
    } else {
      forward<float>(q, k, v, out, lse, sizes, scale);
    }
  });
}

extern "C" int emulated_attention_backward(int is_double, const void* q, const void* k,
                                           const void* v, const void* out, const void* lse,
                                           const void* grad_out, void* dq, void* dk, void* dv,
                                           void* delta, const int64_t* sizes, double scale,
                                           char* error, size_t size) {
  return guarded(error, size, [&] {
    if (is_double) {
      backward<double>(q, k, v, out, lse, grad_out, dq, dk, dv, delta, sizes, scale);
    } else {
      backward<float>(q, k, v, out, lse, grad_out, dq, dk, dv, delta, sizes, scale);
    }
  });
}

extern "C" int64_t emulated_attention_backward_workspace(const int64_t* sizes) {
  return minigan::cuda::attention_backward_workspace(sizes_of(sizes));
}

// shared_bytes[3] = the forward's, dK/dV's and dQ's shared memory with tiles of `block`.
extern "C" void emulated_attention_shared_bytes(int is_double, const int64_t* sizes, int block,
                                                int64_t* shared_bytes) {
  const minigan::cuda::AttentionSharedBytes bytes =
      is_double ? minigan::cuda::attention_shared_bytes<double>(sizes_of(sizes), block)
                : minigan::cuda::attention_shared_bytes<float>(sizes_of(sizes), block);
  shared_bytes[0] = static_cast<int64_t>(bytes.forward);
  shared_bytes[1] = static_cast<int64_t>(bytes.dkdv);
  shared_bytes[2] = static_cast<int64_t>(bytes.dq);
}

// tiles[3] = the tile the forward, dK/dV and dQ launchers pick under the current limit.
extern "C" void emulated_attention_tiles(int is_double, const int64_t* sizes, int* tiles) {
  const minigan::cuda::AttentionTiles picked =
      is_double ? minigan::cuda::attention_tiles<double>(sizes_of(sizes))
                : minigan::cuda::attention_tiles<float>(sizes_of(sizes));
  tiles[0] = picked.forward;
  tiles[1] = picked.dkdv;
  tiles[2] = picked.dq;
}
