// Fused scaled dot-product attention in CUDA C++, forward and backward (flash attention 2).
//
// The op of minigan/ops/attention.py (and of the Triton kernels in kernels/attention.py):
// per batch and head, with S = scale Q K^T,
//
//     out = softmax(S) V            lse_i = log sum_j exp(S_ij)
//     q: (B, H, Nq, D), k: (B, H, Nk, D), v: (B, H, Nk, Dv)
//       -> out: (B, H, Nq, Dv) in T, lse: (B, H, Nq) in the accumulator type,
//
// computed without ever holding the (Nq, Nk) matrices S or P in global memory: a block owns
// a tile of BM query rows and walks the keys in tiles of BN rows, all in shared memory.
//
// Forward, online softmax. For each query row the block keeps a running maximum m, a
// running sum l = sum_j exp(S_ij - m) and an unnormalised output acc = sum_j exp(S_ij - m)
// V_j. A tile of keys with scores S_t raises the maximum to m' = max(m, rowmax(S_t)); what
// was summed so far is rescaled by alpha = exp(m - m'), and the tile is added:
//
//     l'   = alpha l   + rowsum(exp(S_t - m'))
//     acc' = alpha acc + exp(S_t - m') V_t
//
// After the last tile, out = acc / l and lse = m + log l. Every exponent is <= 0, so
// nothing overflows, whatever the logits (rows of scores near -1e4 included).
//
// Backward. P = exp(S - lse) is recomputed tile by tile from Q, K and the saved lse, and
// with delta_i = sum_c dO_ic O_ic (= sum_j dP_ij P_ij):
//
//     dV = P^T dO      dP = dO V^T      dS = P o (dP - delta)      dQ = scale dS K
//     dK = scale dS^T Q
//
// Two kernels, none with atomics (the result does not depend on the order of blocks),
// launched in this order:
//   1. attention_dq_kernel: a block owns BM queries, keeps Q, dO and the dQ accumulator.
//      It first computes delta for its rows from their dO and O tiles, and writes it out
//      for kernel 2; then it walks all keys in tiles of BN;
//   2. attention_dkdv_kernel: a block owns BN keys, keeps their K and V tiles and the dK,
//      dV accumulators, and walks all queries in tiles of BM, reading their lse and delta.
// P and dS are thus computed twice (once in each kernel), the price of having every
// output element written by exactly one block. delta needs no kernel of its own: the
// block that owns a query tile already loads its dO.
//
// Thread mapping. A block has 256 threads, seen as a 16 x 16 grid: tx = thread % 16,
// ty = thread / 16. Every product of two tiles goes through one of two helpers:
//   product_abt  C = A B^T  for a (BM, BN) score tile: thread (ty, tx) sums the entries
//                (ty + 16 i, tx + 16 j), i, j < BLOCK / 16, in registers: a 4 x 4 micro
//                tile with 64-row tiles, so that each element read from shared memory
//                feeds 4 multiply-adds instead of 1;
//   product_ab   C = A B    for a (BM, width) tile with width = D or Dv: the same rows,
//                and columns tx + 16 j + 64 p in passes p of 4 columns per thread.
// Both hand each finished sum to an epilogue (scale and exponentiate, rescale and add,
// ...), so a kernel reads as its formulas. Between the phases of a tile, __syncthreads.
// The online softmax itself is one thread per query row (BM of the 256 threads): a row's
// maximum and sum are short loops over BN scores, small next to the products.
//
// Why 256 threads, not 128: the 16 x 16 grid covers a 64 x 64 score tile with square
// 4 x 4 register micro tiles (2 x 2 and 1 x 1 for tiles of 32 and 16); 128 threads would
// need 8 x 4 micro tiles, more registers per thread for the same reuse. And a block holds
// tens to a couple of hundred KiB of shared memory, so only a few blocks share an SM at a
// time: 8 warps per block are what hides the latency of shared and global memory while
// one warp waits.
//
// Shared memory. Tiles are C-contiguous copies of global rows, loaded by consecutive
// threads reading consecutive elements (coalesced: a tile of rows of a (., D) array is
// one contiguous run). Each shared row is padded to an odd stride (width | 1), so that the
// 16 threads of a half warp that read one column of 16 different rows hit 16 different
// banks. The forward holds, for BLOCK = BM = BN,
//     Q (BM, D), K (BN, D), V (BN, Dv)                       in T
//     S, then P (BM, BN), acc (BM, Dv), m, l, alpha (BM)     in the accumulator type;
// the dK/dV kernel K, V, dK, dV (BN, D or Dv), Q, dO (BM, D or Dv), P^T and dS^T (BN, BM),
// lse and delta (BM); the dQ kernel Q, dO, dQ, K, V (O in V's place before the first
// tile of keys), dS (BM, BN), lse and delta. Each launcher takes the largest BLOCK of 64,
// 32, 16 whose tiles fit max_shared_bytes() (227 KiB on an H100): D = Dv = 256 gets 32 in
// float and 16 in double; SAGAN's D = C/8, Dv = C/2 gets 64 in all three kernels (the
// forward and the two of the backward) up to C = 256 in float. If not even 16 fits, the
// launcher raises std::runtime_error naming the kernel. Accumulator arrays come first in
// the layout, so every array is aligned (an accumulator is at least as wide as an input
// element).
//
// Partial tiles. The last tile of queries or keys may have fewer than BLOCK rows. Rows
// past the end are never loaded, and every loop over them is bounded: the softmax's
// maximum and sum run over the tile's real keys only, the products P V, P^T dO, dS^T Q
// and dS K sum over real rows only, and the epilogues skip entries outside the
// sequences, so no padded key or query enters a sum (the emulator fills shared memory
// with NaN to prove it).
//
// Precision: the sums (m, l, acc, lse, delta, the gradients' accumulators and the dot
// products) are in Accumulator<T>::type: float for float, double for double.
//
// Empty sizes. The forward launches nothing when B * H * Nq = 0; the backward launches
// nothing when B * H = 0. With Nq = 0 the dK/dV kernel still runs: its loop over query
// tiles is empty and it writes dK = dV = 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/attention.h"
#include "cuda/device.cuh"

namespace minigan::cuda {
namespace attention_detail {

template <typename T>
using AccumulatorOf = typename Accumulator<T>::type;

constexpr int kThreads = 256;          // a block: a 16 x 16 grid of threads
constexpr int kSide = 16;              // tx = thread % 16, ty = thread / 16
constexpr int kColumns = 4;            // product_ab: columns per thread in one pass

// The row stride of a shared tile of `width` columns: odd, so that one column of 16 rows
// falls in 16 different banks.
__host__ __device__ constexpr int padded(int width) { return width | 1; }

// Byte offsets of consecutive arrays in a block's dynamic shared memory: the launcher
// asks for the total, the kernel for the arrays, from the same code.
class SharedLayout {
 public:
  template <typename E>
  __host__ __device__ size_t next(int64_t count) {
    const size_t at = end_;
    end_ += static_cast<size_t>(count) * sizeof(E);
    return at;
  }
  __host__ __device__ size_t bytes() const { return end_; }

 private:
  size_t end_ = 0;
};

template <typename E>
__device__ __forceinline__ E* shared_array(unsigned char* shared, size_t offset) {
  return reinterpret_cast<E*>(shared + offset);
}

// -- shared memory of each kernel, for tiles of `block` rows ---------------------------

struct ForwardShared {
  size_t m, l, alpha, acc, s, q, k, v, bytes;
};
template <typename T>
__host__ __device__ ForwardShared forward_shared(int block, int d, int dv) {
  using Acc = AccumulatorOf<T>;
  SharedLayout at;
  ForwardShared o;
  o.m = at.next<Acc>(block);                                    // running max   (BM,)
  o.l = at.next<Acc>(block);                                    // running sum   (BM,)
  o.alpha = at.next<Acc>(block);                                // rescale       (BM,)
  o.acc = at.next<Acc>(int64_t{block} * padded(dv));            // sum P V       (BM, Dv)
  o.s = at.next<Acc>(int64_t{block} * padded(block));           // S, then P     (BM, BN)
  o.q = at.next<T>(int64_t{block} * padded(d));                 // (BM, D)
  o.k = at.next<T>(int64_t{block} * padded(d));                 // (BN, D)
  o.v = at.next<T>(int64_t{block} * padded(dv));                // (BN, Dv)
  o.bytes = at.bytes();
  return o;
}

struct DkdvShared {
  size_t lse, delta, dk, dv, p_t, ds_t, k, v, q, grad_out, bytes;
};
template <typename T>
__host__ __device__ DkdvShared dkdv_shared(int block, int d, int dv) {
  using Acc = AccumulatorOf<T>;
  SharedLayout at;
  DkdvShared o;
  o.lse = at.next<Acc>(block);                                  // (BM,)
  o.delta = at.next<Acc>(block);                                // (BM,)
  o.dk = at.next<Acc>(int64_t{block} * padded(d));              // (BN, D)
  o.dv = at.next<Acc>(int64_t{block} * padded(dv));             // (BN, Dv)
  o.p_t = at.next<Acc>(int64_t{block} * padded(block));         // P^T  (BN, BM)
  o.ds_t = at.next<Acc>(int64_t{block} * padded(block));        // dS^T (BN, BM)
  o.k = at.next<T>(int64_t{block} * padded(d));                 // (BN, D)
  o.v = at.next<T>(int64_t{block} * padded(dv));                // (BN, Dv)
  o.q = at.next<T>(int64_t{block} * padded(d));                 // (BM, D)
  o.grad_out = at.next<T>(int64_t{block} * padded(dv));         // (BM, Dv)
  o.bytes = at.bytes();
  return o;
}

struct DqShared {
  size_t lse, delta, dq, ds, q, grad_out, k, v, bytes;
};
template <typename T>
__host__ __device__ DqShared dq_shared(int block, int d, int dv) {
  using Acc = AccumulatorOf<T>;
  SharedLayout at;
  DqShared o;
  o.lse = at.next<Acc>(block);                                  // (BM,)
  o.delta = at.next<Acc>(block);                                // (BM,)
  o.dq = at.next<Acc>(int64_t{block} * padded(d));              // (BM, D)
  o.ds = at.next<Acc>(int64_t{block} * padded(block));          // P, then dS (BM, BN)
  o.q = at.next<T>(int64_t{block} * padded(d));                 // (BM, D)
  o.grad_out = at.next<T>(int64_t{block} * padded(dv));         // (BM, Dv)
  o.k = at.next<T>(int64_t{block} * padded(d));                 // (BN, D)
  o.v = at.next<T>(int64_t{block} * padded(dv));                // (BN, Dv)
  o.bytes = at.bytes();
  return o;
}

// -- moving rows between global and shared memory ----------------------------------------

// tile[r][c] = rows[r * width + c] for r < count, c < width: `count` consecutive rows of a
// C-contiguous (., width) array. Consecutive threads read consecutive elements.
template <typename T>
__device__ __forceinline__ void load_rows(T* tile, const T* rows, int count, int width) {
  const int stride = padded(width);
  for (int e = threadIdx.x; e < count * width; e += kThreads) {
    tile[(e / width) * stride + e % width] = rows[e];
  }
}

// rows[r * width + c] = value(r, c) for r < count, c < width: coalesced writes.
template <typename T, typename Value>
__device__ __forceinline__ void store_rows(T* rows, int count, int width, Value value) {
  for (int e = threadIdx.x; e < count * width; e += kThreads) {
    rows[e] = static_cast<T>(value(e / width, e % width));
  }
}

// tile[e] = 0 for a whole (rows, padded(width)) accumulator tile.
template <typename Acc>
__device__ __forceinline__ void zero_tile(Acc* tile, int rows, int width) {
  for (int e = threadIdx.x; e < rows * padded(width); e += kThreads) tile[e] = Acc(0);
}

// -- products of shared tiles --------------------------------------------------------------

// epilogue(r, c, sum_{k < depth} a[r][k] b[c][k]) for the thread's entries (r, c) =
// (ty + 16 i, tx + 16 j), i, j < BLOCK / 16, with r < rows and c < cols.
// a: (BLOCK, depth), b: (BLOCK, depth), row stride padded(depth). A given (r, c) is always
// owned by the same thread, so two products may share an entry without a barrier.
template <int BLOCK, typename Acc, typename T, typename Epilogue>
__device__ __forceinline__ void product_abt(const T* a, const T* b, int depth, int rows,
                                            int cols, Epilogue epilogue) {
  constexpr int kPer = BLOCK / kSide;
  const int tx = threadIdx.x % kSide;
  const int ty = threadIdx.x / kSide;
  const int stride = padded(depth);
  Acc sum[kPer][kPer] = {};
  for (int k = 0; k < depth; ++k) {
    Acc a_k[kPer];
    Acc b_k[kPer];
    for (int i = 0; i < kPer; ++i) a_k[i] = a[(ty + kSide * i) * stride + k];
    for (int j = 0; j < kPer; ++j) b_k[j] = b[(tx + kSide * j) * stride + k];
    for (int i = 0; i < kPer; ++i) {
      for (int j = 0; j < kPer; ++j) sum[i][j] += a_k[i] * b_k[j];
    }
  }
  for (int i = 0; i < kPer; ++i) {
    for (int j = 0; j < kPer; ++j) {
      const int r = ty + kSide * i;
      const int c = tx + kSide * j;
      if (r < rows && c < cols) epilogue(r, c, sum[i][j]);
    }
  }
}

// epilogue(r, c, sum_{k < depth} a[r][k] b[k][c]) for the thread's rows r = ty + 16 i < rows
// and columns c = tx + 16 j < width, in passes of 16 * kColumns columns.
// a: a (BLOCK, BLOCK) score tile (row stride padded(BLOCK)), b: (depth, width) (row
// stride padded(width)); depth <= BLOCK is the number of real rows of b.
template <int BLOCK, typename Acc, typename A, typename B, typename Epilogue>
__device__ __forceinline__ void product_ab(const A* a, const B* b, int depth, int rows,
                                           int width, Epilogue epilogue) {
  constexpr int kPer = BLOCK / kSide;
  const int tx = threadIdx.x % kSide;
  const int ty = threadIdx.x / kSide;
  const int a_stride = padded(BLOCK);
  const int b_stride = padded(width);
  for (int c0 = 0; c0 < width; c0 += kSide * kColumns) {
    Acc sum[kPer][kColumns] = {};
    for (int k = 0; k < depth; ++k) {
      Acc a_k[kPer];
      Acc b_k[kColumns];
      for (int i = 0; i < kPer; ++i) a_k[i] = a[(ty + kSide * i) * a_stride + k];
      for (int j = 0; j < kColumns; ++j) {
        const int c = c0 + tx + kSide * j;
        b_k[j] = c < width ? Acc(b[k * b_stride + c]) : Acc(0);
      }
      for (int i = 0; i < kPer; ++i) {
        for (int j = 0; j < kColumns; ++j) sum[i][j] += a_k[i] * b_k[j];
      }
    }
    for (int i = 0; i < kPer; ++i) {
      for (int j = 0; j < kColumns; ++j) {
        const int r = ty + kSide * i;
        const int c = c0 + tx + kSide * j;
        if (r < rows && c < width) epilogue(r, c, sum[i][j]);
      }
    }
  }
}

__device__ __forceinline__ int rows_left(int total, int start, int block) {
  return total - start < block ? total - start : block;
}

// -- the kernels ---------------------------------------------------------------------------

// out and lse for BLOCK query rows of one (batch, head); grid: B * H * ceil(Nq / BLOCK).
template <typename T, int BLOCK>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(const T* q, const T* k, const T* v, T* out,
                             AccumulatorOf<T>* lse, int nq, int nk, int d, int dv,
                             AccumulatorOf<T> scale) {
  using Acc = AccumulatorOf<T>;
  const int t = threadIdx.x;
  const int tiles = (nq + BLOCK - 1) / BLOCK;
  const int64_t bh = blockIdx.x / tiles;
  const int m0 = static_cast<int>(blockIdx.x % tiles) * BLOCK;
  const int rows = rows_left(nq, m0, BLOCK);

  const ForwardShared at = forward_shared<T>(BLOCK, d, dv);
  MINIGAN_DYNAMIC_SHARED(shared);
  Acc* m_row = shared_array<Acc>(shared, at.m);
  Acc* l_row = shared_array<Acc>(shared, at.l);
  Acc* alpha = shared_array<Acc>(shared, at.alpha);
  Acc* acc = shared_array<Acc>(shared, at.acc);
  Acc* s = shared_array<Acc>(shared, at.s);
  T* q_tile = shared_array<T>(shared, at.q);
  T* k_tile = shared_array<T>(shared, at.k);
  T* v_tile = shared_array<T>(shared, at.v);
  const int acc_stride = padded(dv);
  const int s_stride = padded(BLOCK);

  // -- the query tile, loaded once; m = -inf, l = 0, acc = 0 ----------------------------
  load_rows(q_tile, q + (bh * nq + m0) * d, rows, d);
  if (t < BLOCK) {
    m_row[t] = static_cast<Acc>(-INFINITY);
    l_row[t] = Acc(0);
  }
  zero_tile(acc, BLOCK, dv);

  for (int n0 = 0; n0 < nk; n0 += BLOCK) {
    const int cols = rows_left(nk, n0, BLOCK);
    __syncthreads();  // the previous tile's K, V and P are read: overwrite them
    load_rows(k_tile, k + (bh * nk + n0) * d, cols, d);
    load_rows(v_tile, v + (bh * nk + n0) * dv, cols, dv);
    __syncthreads();

    // -- S = scale Q K^T: (rows, cols) -------------------------------------------------
    product_abt<BLOCK, Acc>(q_tile, k_tile, d, rows, cols, [&](int r, int c, Acc dot) {
      s[r * s_stride + c] = scale * dot;
    });
    __syncthreads();

    // -- online softmax, one thread per query row: m' = max(m, rowmax S),
    //    P = exp(S - m'), alpha = exp(m - m') (0 on the first tile), l' = alpha l + rowsum P
    if (t < rows) {
      Acc* s_row = s + t * s_stride;
      Acc m_new = m_row[t];
      for (int j = 0; j < cols; ++j) m_new = max_(m_new, s_row[j]);
      Acc row_sum = Acc(0);
      for (int j = 0; j < cols; ++j) {
        s_row[j] = exp_(s_row[j] - m_new);
        row_sum += s_row[j];
      }
      alpha[t] = exp_(m_row[t] - m_new);
      l_row[t] = alpha[t] * l_row[t] + row_sum;
      m_row[t] = m_new;
    }
    __syncthreads();

    // -- acc = alpha acc + P V: (rows, Dv) ----------------------------------------------
    product_ab<BLOCK, Acc>(s, v_tile, cols, rows, dv, [&](int r, int c, Acc pv) {
      acc[r * acc_stride + c] = alpha[r] * acc[r * acc_stride + c] + pv;
    });
  }
  __syncthreads();

  // -- out = acc / l, lse = m + log l -------------------------------------------------------
  store_rows(out + (bh * nq + m0) * dv, rows, dv,
             [&](int r, int c) { return acc[r * acc_stride + c] / l_row[r]; });
  if (t < rows) lse[bh * nq + m0 + t] = m_row[t] + log_(l_row[t]);
}

// dK and dV for BLOCK keys of one (batch, head), summed over every query; grid:
// B * H * ceil(Nk / BLOCK). Works with transposed score tiles (keys down, queries
// across), so that P^T and dS^T, the left operands of dV = P^T dO and dK = scale dS^T Q,
// are stored as they are read.
template <typename T, int BLOCK>
__global__ void __launch_bounds__(kThreads)
    attention_dkdv_kernel(const T* q, const T* k, const T* v, const T* grad_out,
                          const AccumulatorOf<T>* lse, const AccumulatorOf<T>* delta, T* dk,
                          T* dv, int nq, int nk, int d, int dv_width,
                          AccumulatorOf<T> scale) {
  using Acc = AccumulatorOf<T>;
  const int t = threadIdx.x;
  const int tiles = (nk + BLOCK - 1) / BLOCK;
  const int64_t bh = blockIdx.x / tiles;
  const int n0 = static_cast<int>(blockIdx.x % tiles) * BLOCK;
  const int keys = rows_left(nk, n0, BLOCK);

  const DkdvShared at = dkdv_shared<T>(BLOCK, d, dv_width);
  MINIGAN_DYNAMIC_SHARED(shared);
  Acc* lse_tile = shared_array<Acc>(shared, at.lse);
  Acc* delta_tile = shared_array<Acc>(shared, at.delta);
  Acc* dk_acc = shared_array<Acc>(shared, at.dk);
  Acc* dv_acc = shared_array<Acc>(shared, at.dv);
  Acc* p_t = shared_array<Acc>(shared, at.p_t);
  Acc* ds_t = shared_array<Acc>(shared, at.ds_t);
  T* k_tile = shared_array<T>(shared, at.k);
  T* v_tile = shared_array<T>(shared, at.v);
  T* q_tile = shared_array<T>(shared, at.q);
  T* do_tile = shared_array<T>(shared, at.grad_out);
  const int dk_stride = padded(d);
  const int dv_stride = padded(dv_width);
  const int p_stride = padded(BLOCK);

  // -- this block's keys and values, loaded once; dK = dV = 0 ---------------------------
  load_rows(k_tile, k + (bh * nk + n0) * d, keys, d);
  load_rows(v_tile, v + (bh * nk + n0) * dv_width, keys, dv_width);
  zero_tile(dk_acc, BLOCK, d);
  zero_tile(dv_acc, BLOCK, dv_width);

  for (int m0 = 0; m0 < nq; m0 += BLOCK) {
    const int queries = rows_left(nq, m0, BLOCK);
    __syncthreads();  // the previous tile's Q, dO, P^T and dS^T are read: overwrite them
    // -- a tile of queries with their output gradients, lse and delta ------------------
    load_rows(q_tile, q + (bh * nq + m0) * d, queries, d);
    load_rows(do_tile, grad_out + (bh * nq + m0) * dv_width, queries, dv_width);
    if (t < queries) {
      lse_tile[t] = lse[bh * nq + m0 + t];
      delta_tile[t] = delta[bh * nq + m0 + t];
    }
    __syncthreads();

    // -- P^T = exp(scale K Q^T - lse): (keys, queries) ------------------------------------
    product_abt<BLOCK, Acc>(k_tile, q_tile, d, keys, queries, [&](int n, int m, Acc dot) {
      p_t[n * p_stride + m] = exp_(dot * scale - lse_tile[m]);
    });
    // -- dS^T = P^T o (dP^T - delta),  dP^T = V dO^T (the same thread owns (n, m) above) --
    product_abt<BLOCK, Acc>(v_tile, do_tile, dv_width, keys, queries,
                            [&](int n, int m, Acc dp) {
                              ds_t[n * p_stride + m] =
                                  p_t[n * p_stride + m] * (dp - delta_tile[m]);
                            });
    __syncthreads();

    // -- dV += P^T dO,  dK += dS^T Q: sums over this tile's real queries ----------------
    product_ab<BLOCK, Acc>(p_t, do_tile, queries, keys, dv_width, [&](int n, int c, Acc x) {
      dv_acc[n * dv_stride + c] += x;
    });
    product_ab<BLOCK, Acc>(ds_t, q_tile, queries, keys, d, [&](int n, int c, Acc x) {
      dk_acc[n * dk_stride + c] += x;
    });
  }
  __syncthreads();

  // -- dK = scale dS^T Q, dV = P^T dO (zeros when there is no query) ----------------------
  store_rows(dk + (bh * nk + n0) * d, keys, d,
             [&](int n, int c) { return scale * dk_acc[n * dk_stride + c]; });
  store_rows(dv + (bh * nk + n0) * dv_width, keys, dv_width,
             [&](int n, int c) { return dv_acc[n * dv_stride + c]; });
}

// delta_i = sum_c dO_ic O_ic, written out for the dK/dV kernel, then dQ summed over every
// key, for BLOCK queries of one (batch, head); grid: B * H * ceil(Nq / BLOCK).
template <typename T, int BLOCK>
__global__ void __launch_bounds__(kThreads)
    attention_dq_kernel(const T* q, const T* k, const T* v, const T* out, const T* grad_out,
                        const AccumulatorOf<T>* lse, AccumulatorOf<T>* delta, T* dq, int nq,
                        int nk, int d, int dv, AccumulatorOf<T> scale) {
  using Acc = AccumulatorOf<T>;
  const int t = threadIdx.x;
  const int tiles = (nq + BLOCK - 1) / BLOCK;
  const int64_t bh = blockIdx.x / tiles;
  const int m0 = static_cast<int>(blockIdx.x % tiles) * BLOCK;
  const int queries = rows_left(nq, m0, BLOCK);

  const DqShared at = dq_shared<T>(BLOCK, d, dv);
  MINIGAN_DYNAMIC_SHARED(shared);
  Acc* lse_tile = shared_array<Acc>(shared, at.lse);
  Acc* delta_tile = shared_array<Acc>(shared, at.delta);
  Acc* dq_acc = shared_array<Acc>(shared, at.dq);
  Acc* ds = shared_array<Acc>(shared, at.ds);
  T* q_tile = shared_array<T>(shared, at.q);
  T* do_tile = shared_array<T>(shared, at.grad_out);
  T* k_tile = shared_array<T>(shared, at.k);
  T* v_tile = shared_array<T>(shared, at.v);
  const int dq_stride = padded(d);
  const int ds_stride = padded(BLOCK);

  // -- this block's queries, output gradients, lse and outputs, loaded once; dQ = 0 -------
  load_rows(q_tile, q + (bh * nq + m0) * d, queries, d);
  load_rows(do_tile, grad_out + (bh * nq + m0) * dv, queries, dv);
  load_rows(v_tile, out + (bh * nq + m0) * dv, queries, dv);  // O, where V goes later
  if (t < queries) lse_tile[t] = lse[bh * nq + m0 + t];
  zero_tile(dq_acc, BLOCK, d);
  __syncthreads();

  // -- delta = rowsum(dO o O): a thread per query row, in column order --------------------
  if (t < queries) {
    const int stride = padded(dv);
    Acc sum = Acc(0);
    for (int c = 0; c < dv; ++c) {
      sum += Acc(do_tile[t * stride + c]) * Acc(v_tile[t * stride + c]);
    }
    delta_tile[t] = sum;
    delta[bh * nq + m0 + t] = sum;
  }

  for (int n0 = 0; n0 < nk; n0 += BLOCK) {
    const int keys = rows_left(nk, n0, BLOCK);
    __syncthreads();  // the previous tile's K and dS (at first: O and delta) are read
    load_rows(k_tile, k + (bh * nk + n0) * d, keys, d);
    load_rows(v_tile, v + (bh * nk + n0) * dv, keys, dv);
    __syncthreads();

    // -- P = exp(scale Q K^T - lse): (queries, keys) ----------------------------------------
    product_abt<BLOCK, Acc>(q_tile, k_tile, d, queries, keys, [&](int m, int n, Acc dot) {
      ds[m * ds_stride + n] = exp_(dot * scale - lse_tile[m]);
    });
    // -- dS = P o (dP - delta),  dP = dO V^T (the same thread owns (m, n) above) --------
    product_abt<BLOCK, Acc>(do_tile, v_tile, dv, queries, keys, [&](int m, int n, Acc dp) {
      ds[m * ds_stride + n] *= dp - delta_tile[m];
    });
    __syncthreads();

    // -- dQ += dS K: sums over this tile's real keys --------------------------------------
    product_ab<BLOCK, Acc>(ds, k_tile, keys, queries, d, [&](int m, int c, Acc x) {
      dq_acc[m * dq_stride + c] += x;
    });
  }
  __syncthreads();

  store_rows(dq + (bh * nq + m0) * d, queries, d,
             [&](int m, int c) { return scale * dq_acc[m * dq_stride + c]; });
}

// -- launcher helpers --------------------------------------------------------------------

// The kernels index within one (batch, head) with int; a grid has at most 2^31 - 1 blocks.
inline void check_int_range(const char* kernel, const AttentionSizes& sizes) {
  constexpr int64_t kIntMax = 2147483647;
  if (sizes.nq > kIntMax || sizes.nk > kIntMax || sizes.d > kIntMax || sizes.dv > kIntMax) {
    throw std::runtime_error(std::string(kernel) + ": Nq = " + std::to_string(sizes.nq) +
                             ", Nk = " + std::to_string(sizes.nk) + ", D = " +
                             std::to_string(sizes.d) + " and Dv = " +
                             std::to_string(sizes.dv) + " must each be below 2^31");
  }
}

inline dim3 grid_of(const char* kernel, int64_t blocks) {
  if (blocks > 2147483647) {
    throw std::runtime_error(std::string(kernel) + ": " + std::to_string(blocks) +
                             " blocks are more than a grid holds (2^31 - 1)");
  }
  return dim3(static_cast<unsigned>(blocks));
}

inline int require_tile(int tile, const char* kernel, const AttentionSizes& sizes) {
  if (tile == 0) {
    throw std::runtime_error(std::string(kernel) + ": D = " + std::to_string(sizes.d) +
                             " and Dv = " + std::to_string(sizes.dv) +
                             " need more shared memory than the device's " +
                             std::to_string(max_shared_bytes()) +
                             " bytes per block, even with tiles of 16 rows");
  }
  return tile;
}

// body(std::integral_constant<int, block>()): the tile is a template argument of the
// kernels, so that each thread's micro tile of sums lives in registers.
template <typename Body>
void with_block(int block, Body body) {
  switch (block) {
    case 64:
      body(std::integral_constant<int, 64>());
      break;
    case 32:
      body(std::integral_constant<int, 32>());
      break;
    default:
      body(std::integral_constant<int, 16>());
  }
}

inline Stream as_stream(std::uintptr_t stream) { return reinterpret_cast<Stream>(stream); }

}  // namespace attention_detail

// -- the host API of attention.h -------------------------------------------------------------

template <typename T>
AttentionSharedBytes attention_shared_bytes(const AttentionSizes& sizes, int block) {
  using namespace attention_detail;
  const int d = static_cast<int>(sizes.d);
  const int dv = static_cast<int>(sizes.dv);
  return {forward_shared<T>(block, d, dv).bytes, dkdv_shared<T>(block, d, dv).bytes,
          dq_shared<T>(block, d, dv).bytes};
}

template <typename T>
AttentionTiles attention_tiles(const AttentionSizes& sizes) {
  const size_t limit = max_shared_bytes();
  AttentionTiles tiles{0, 0, 0};
  for (int block : {16, 32, 64}) {
    const AttentionSharedBytes bytes = attention_shared_bytes<T>(sizes, block);
    if (bytes.forward <= limit) tiles.forward = block;
    if (bytes.dkdv <= limit) tiles.dkdv = block;
    if (bytes.dq <= limit) tiles.dq = block;
  }
  return tiles;
}

template <typename T>
void attention_forward(const T* q, const T* k, const T* v, T* out, T* lse,
                       const AttentionSizes& sizes, double scale, std::uintptr_t stream) {
  using namespace attention_detail;
  static_assert(std::is_same_v<AccumulatorOf<T>, T>, "attention.h passes lse as T*");
  const char* name = "attention_forward_kernel";
  const int64_t heads = sizes.batch * sizes.heads;
  if (heads * sizes.nq == 0) return;
  check_int_range(name, sizes);
  const int block = require_tile(attention_tiles<T>(sizes).forward, name, sizes);
  const dim3 grid = grid_of(name, heads * ceil_div(sizes.nq, block));
  const size_t shared = attention_shared_bytes<T>(sizes, block).forward;
  with_block(block, [&](auto tile) {
    launch(name, attention_forward_kernel<T, decltype(tile)::value>, grid, dim3(kThreads),
           shared, as_stream(stream), q, k, v, out, lse, static_cast<int>(sizes.nq),
           static_cast<int>(sizes.nk), static_cast<int>(sizes.d), static_cast<int>(sizes.dv),
           static_cast<T>(scale));
  });
}

template <typename T>
void attention_backward(const T* q, const T* k, const T* v, const T* out, const T* lse,
                        const T* grad_out, T* dq, T* dk, T* dv, T* delta,
                        const AttentionSizes& sizes, double scale, std::uintptr_t stream) {
  using namespace attention_detail;
  static_assert(std::is_same_v<AccumulatorOf<T>, T>, "attention.h passes lse, delta as T*");
  const int64_t heads = sizes.batch * sizes.heads;
  if (heads == 0) return;
  check_int_range("attention_backward", sizes);
  const AttentionTiles tiles = attention_tiles<T>(sizes);
  const int dkdv_block = require_tile(tiles.dkdv, "attention_dkdv_kernel", sizes);
  const int dq_block = require_tile(tiles.dq, "attention_dq_kernel", sizes);
  const int nq = static_cast<int>(sizes.nq);
  const int nk = static_cast<int>(sizes.nk);
  const int d = static_cast<int>(sizes.d);
  const int width = static_cast<int>(sizes.dv);
  const T scale_t = static_cast<T>(scale);
  const Stream on = as_stream(stream);

  // 1. delta = rowsum(dO o O): (B, H, Nq), and dQ: a block per tile of queries
  const char* dq_name = "attention_dq_kernel";
  const dim3 dq_grid = grid_of(dq_name, heads * ceil_div(sizes.nq, dq_block));
  const size_t dq_shared = attention_shared_bytes<T>(sizes, dq_block).dq;
  with_block(dq_block, [&](auto tile) {
    launch(dq_name, attention_dq_kernel<T, decltype(tile)::value>, dq_grid, dim3(kThreads),
           dq_shared, on, q, k, v, out, grad_out, lse, delta, dq, nq, nk, d, width, scale_t);
  });

  // 2. dK, dV: a block per tile of keys, after delta (it runs when Nq = 0 too, and
  // writes zeros)
  const char* dkdv_name = "attention_dkdv_kernel";
  const dim3 dkdv_grid = grid_of(dkdv_name, heads * ceil_div(sizes.nk, dkdv_block));
  const size_t dkdv_shared = attention_shared_bytes<T>(sizes, dkdv_block).dkdv;
  with_block(dkdv_block, [&](auto tile) {
    launch(dkdv_name, attention_dkdv_kernel<T, decltype(tile)::value>, dkdv_grid,
           dim3(kThreads), dkdv_shared, on, q, k, v, grad_out, lse, delta, dk, dv, nq, nk, d,
           width, scale_t);
  });
}

}  // namespace minigan::cuda
