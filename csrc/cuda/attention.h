// Fused scaled dot-product attention on the GPU (attention.cuh): the host API that
// bindings.cpp calls. Plain C++: no CUDA headers here.
//
// Per batch and head, S = scale Q K^T, out = softmax(S) V, lse = logsumexp(S) by rows,
// and the backward's dQ, dK, dV, as in minigan/ops/attention.py. All arrays are device
// pointers to C-contiguous arrays of one type T (float or double); the lse and the delta
// workspace hold the accumulator type Accumulator<T>::type (device.cuh), which is T itself
// for float and double. The launches go on `stream` (CuPy's stream handle).
#pragma once

#include <cstddef>
#include <cstdint>

namespace minigan::cuda {

// q: (batch, heads, nq, d), k: (batch, heads, nk, d), v: (batch, heads, nk, dv).
struct AttentionSizes {
  int64_t batch, heads, nq, nk, d, dv;
};

// Elements of the backward's workspace `delta`: one accumulator per query row,
// (batch, heads, nq).
inline int64_t attention_backward_workspace(const AttentionSizes& sizes) {
  return sizes.batch * sizes.heads * sizes.nq;
}

// Bytes of dynamic shared memory that each kernel asks for with tiles of `block` query
// rows and `block` key rows (block = 64, 32 or 16).
struct AttentionSharedBytes {
  size_t forward, dkdv, dq;
};
template <typename T>
AttentionSharedBytes attention_shared_bytes(const AttentionSizes& sizes, int block);

// The tile (block = BM = BN) that each kernel's launcher picks on the current device: the
// largest of 64, 32, 16 whose shared memory fits max_shared_bytes(); 0 where none fits
// (the launcher then raises std::runtime_error naming the kernel).
struct AttentionTiles {
  int forward, dkdv, dq;
};
template <typename T>
AttentionTiles attention_tiles(const AttentionSizes& sizes);

// out = softmax(scale q k^T) v: (batch, heads, nq, dv),  lse: (batch, heads, nq).
// Needs nk >= 1 when nq >= 1 (a softmax over no keys is undefined; the Python side
// checks). batch * heads * nq = 0 launches nothing.
template <typename T>
void attention_forward(const T* q, const T* k, const T* v, T* out, T* lse,
                       const AttentionSizes& sizes, double scale, std::uintptr_t stream);

// dq, dk, dv (the shapes of q, k, v) for the output gradient grad_out: (batch, heads, nq,
// dv), from the forward's out and lse. delta: attention_backward_workspace(sizes)
// accumulators, overwritten. nq = 0 writes zeros into dk and dv (in a kernel);
// batch * heads = 0 launches nothing.
template <typename T>
void attention_backward(const T* q, const T* k, const T* v, const T* out, const T* lse,
                        const T* grad_out, T* dq, T* dk, T* dv, T* delta,
                        const AttentionSizes& sizes, double scale, std::uintptr_t stream);

}  // namespace minigan::cuda
