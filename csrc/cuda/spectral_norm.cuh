// Spectral normalization's power iteration in CUDA: one launch per step.
//
// The op of minigan/ops/spectral.py (and kernels/spectral_norm.py, the same algorithm in
// Triton). W: (M, N), a conv weight seen as (C_out, C_in kh kw) or a linear weight; u: (M,).
// One step is
//
//     v = normalize(W^T u);     u = normalize(W v);      normalize(x) = x / max(|x|_2, eps)
//
// and sigma = u^T W v with the final u and v. Written around t = W^T u, by linearity:
//
//     t  = W^T u                       (N,)
//     v  = t / max(|t|, eps)           (N,)
//     Wv = (W t) / max(|t|, eps)       (M,)      W v from the unnormalized t
//     u  = Wv / max(|Wv|, eps)         (M,)
//     sigma = u^T Wv = |Wv|^2 / max(|Wv|, eps)
//
// so the only sums over the whole of W are W t and |t|^2, and a block can add its share
// of both before anyone knows |t|.
//
// Blocks and threads. Block p owns the slab of 32 columns W[:, 32p : 32p + 32] and has
// 256 threads, seen as 8 row groups of 32 lanes (lane = thread % 32, group = thread / 32).
//   1. t on the slab: lane c of group r sums W[i, 32p + c] u[i] over the rows i = r, r + 8,
//      r + 16, ...: the 32 lanes of a warp read 32 neighbouring floats of one row (one
//      128-byte transaction). The 8 group sums meet in shared memory; group 0 adds them,
//      keeps t[slab] in shared memory and stores it, unnormalized, into v; thread 0 stores
//      |t[slab]|^2 into norms[p].
//   2. This slab's share of W t:  z_p[i] = sum_c W[i, 32p + c] t[32p + c],  thread j taking
//      rows j, j + 256, ...; each thread reads one 128-byte row segment, which pass 1 has
//      just brought into the cache. Stored in partials[p, :], (M,).
//   3. Arrival. Every thread fences its stores (__threadfence), the block synchronizes,
//      and thread 0 increments a counter with atomicAdd. The block that draws the last
//      ticket knows that every other block's partials, norms and v are written and visible
//      (the fence before each block's increment orders them, as in CUDA's
//      threadFenceReduction sample), and finishes the step alone:
//        |t|^2 = sum_p norms[p]         (thread 0, in order of p)
//        Wt[i] = sum_p partials[p, i]   (thread j for rows j, j + 256, ..., in order of p)
//        |Wv|^2 by a tree in shared memory, then u, sigma, and v scaled in place,
//      and resets the counter to 0 for the next launch. It reads the other blocks' stores
//      with __ldcg (through L2, never a stale L1 line).
// Every sum runs in a fixed order, so the result is the same bit for bit on every run.
//
// Why column slabs: a slab owns whole columns, so t[slab] is complete inside one block
// and W^T u needs no grid-wide sum; only W t (a sum of per-slab vectors) and |t|^2 cross
// blocks, and both commute with the normalization. Row slabs would need a grid-wide sum
// between W^T u and W v, i.e. a second launch. Several steps per launch would need a
// grid-wide barrier between steps (each step needs the previous step's whole u); a
// spinning barrier deadlocks when not every block is resident, so the host launches once
// per step, in order on one stream. The step reads W twice (the second time from cache):
// for DCGAN's and SAGAN's largest convs (512 x 4608 floats = 9.4 MB) that is a few
// microseconds of memory traffic, against about ten launches for the same math as
// separate array calls.
//
// u is read (pass 1) by every block and written only by the last block of the step, after
// every block has arrived, so later steps update it in place.
#pragma once

#include "cuda/device.cuh"
#include "cuda/spectral_norm.h"

namespace minigan::cuda {

inline constexpr int kPowerGroups = 8;                            // row groups per block
inline constexpr int kPowerThreads = kPowerGroups * kPowerSlab;   // 256

template <typename T>
__global__ void power_iteration_step_kernel(const T* w, const T* u_in, T* u_out, T* v,
                                            T* sigma, T* partials, T* norms, int* counter,
                                            int64_t m, int64_t n, T eps) {
  __shared__ T group_sums[kPowerGroups][kPowerSlab];
  __shared__ T t_slab[kPowerSlab];
  __shared__ T tree[kPowerThreads];
  __shared__ T scale_t;
  __shared__ bool last;
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % kPowerSlab;
  const int group = tid / kPowerSlab;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kPowerSlab;
  const int64_t width = n - first < kPowerSlab ? n - first : kPowerSlab;

  // 1. t[slab] = W[:, slab]^T u
  T sum = 0;
  if (lane < width) {
    for (int64_t i = group; i < m; i += kPowerGroups) sum += w[i * n + first + lane] * u_in[i];
  }
  group_sums[group][lane] = sum;
  __syncthreads();
  if (group == 0) {
    T t = 0;
    for (int r = 0; r < kPowerGroups; ++r) t += group_sums[r][lane];
    t_slab[lane] = t;
    if (lane < width) v[first + lane] = t;
  }
  __syncthreads();
  if (tid == 0) {
    T squares = 0;
    for (int c = 0; c < width; ++c) squares += t_slab[c] * t_slab[c];
    norms[blockIdx.x] = squares;
  }

  // 2. partials[p, i] = W[i, slab] . t[slab]
  for (int64_t i = tid; i < m; i += kPowerThreads) {
    const T* row = w + i * n + first;
    T z = 0;
    for (int c = 0; c < width; ++c) z += row[c] * t_slab[c];
    partials[blockIdx.x * m + i] = z;
  }

  // 3. Arrive; the last block finishes the step.
  __threadfence();
  __syncthreads();
  if (tid == 0) last = atomicAdd(counter, 1) == static_cast<int>(gridDim.x) - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  const int64_t slabs = gridDim.x;
  if (tid == 0) {
    T t_squared = 0;
    for (int64_t p = 0; p < slabs; ++p) t_squared += __ldcg(norms + p);
    scale_t = T(1) / max_(sqrt_(t_squared), eps);
  }
  __syncthreads();
  T wv_squares = 0;
  for (int64_t i = tid; i < m; i += kPowerThreads) {
    T wt = 0;
    for (int64_t p = 0; p < slabs; ++p) wt += __ldcg(partials + p * m + i);
    const T wv = wt * scale_t;
    u_out[i] = wv;
    wv_squares += wv * wv;
  }
  tree[tid] = wv_squares;
  __syncthreads();
  for (int stride = kPowerThreads / 2; stride > 0; stride /= 2) {
    if (tid < stride) tree[tid] += tree[tid + stride];
    __syncthreads();
  }
  const T wv_norm = sqrt_(tree[0]);
  const T scale_u = T(1) / max_(wv_norm, eps);
  for (int64_t i = tid; i < m; i += kPowerThreads) u_out[i] *= scale_u;
  for (int64_t j = tid; j < n; j += kPowerThreads) v[j] = __ldcg(v + j) * scale_t;
  if (tid == 0) {
    *sigma = tree[0] * scale_u;
    *counter = 0;
  }
}

template <typename T>
void power_iteration(const T* weight, const T* u, T* u_out, T* v, T* sigma, T* workspace,
                     int* counter, int64_t m, int64_t n, int64_t n_iterations, double eps,
                     std::uintptr_t stream) {
  const int64_t slabs = power_iteration_slabs(n);
  T* partials = workspace;
  T* norms = workspace + slabs * m;
  for (int64_t step = 0; step < n_iterations; ++step) {
    launch("power_iteration_step_kernel", power_iteration_step_kernel<T>,
           dim3(static_cast<unsigned>(slabs)), dim3(kPowerThreads), 0,
           reinterpret_cast<Stream>(stream), weight, step == 0 ? u : u_out, u_out, v, sigma,
           partials, norms, counter, m, n, static_cast<T>(eps));
  }
}

}  // namespace minigan::cuda
