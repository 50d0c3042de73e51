// Convolution as an implicit GEMM in CUDA: conv2d, its input gradient (conv_transpose2d)
// and its weight gradient (conv2d_weight), all three through one tiled GEMM kernel.
//
// The ops of minigan/ops/conv.py (and kernels/conv.py, the same math in Triton). Notation:
// x (N, C, H, W), weight (O, C/g, kh, kw), y (N, O, Ho, Wo), g groups; pixel (i, j) of y
// reads x at  h = i sh - ph + p dh,  w = j sw - pw + q dw  through tap (p, q), and x is zero
// outside its H x W pixels. Per group, each op is one matrix product C = A B:
//
//   conv2d            y[(n,i,j), o]    = sum_(c,p,q)  x[n, c, h, w]    weight[o, c, p, q]
//                     M = N Ho Wo,  N = O/g,  K = (C/g) kh kw
//   conv_transpose2d  dx[(n,h,w), c]   = sum_(o,p,q)  dy[n, o, i, j]   weight[o, c, p, q]
//                     M = N H W,  N = C/g,  K = (O/g) kh kw,  where the tap (p, q) of
//                     pixel (h, w) reads dy at  i = (h + ph - p dh) / sh,
//                     j = (w + pw - q dw) / sw,  only where both divisions are exact and
//                     0 <= i < Ho, 0 <= j < Wo (the output pixels that the tap fed);
//                     computed as sh sw smaller products, one per phase (below)
//   conv2d_weight     dw[o, (c,p,q)]   = sum_(n,i,j)  dy[n, o, i, j]   x[n, c, h, w]
//                     M = O/g,  N = (C/g) kh kw,  K = N Ho Wo
//
// (channels c and o counted within the group). "Implicit": the operands, im2col matrices
// of up to kh kw copies of the image, are never built in memory. Element (m, k) of A and
// (k, n) of B are computed from their indices and read straight from x, dy or weight,
// as zero where they fall into the padding.
//
// One kernel, three problems. implicit_gemm_kernel<T, Problem> is the GEMM, written once.
// A small Problem struct (Conv2dGemm, ConvTranspose2dGemm, Conv2dWeightGemm) says
//   block(z)                  which product block z of the grid works on: its group, its
//                             rows m of A and its range k_begin <= k < k_end of the
//                             reduction, and whatever the loads below need of it (the
//                             Block: for the weight gradient, a slice of the reduction;
//                             for the input gradient, a phase class),
//   a_row(block, m)           what every element of row m of A needs, computed once per
//                             tile (for conv2d: the image of pixel (n, i, j) and the corner
//                             of its receptive field),
//   a(block, row, k, inside)  A[m, k]: the reduction index k decoded into its digits
//                             (c, p, q), the address, and the load, or zero where the
//                             element is not `inside` the product (the kernel's mask: m or
//                             k outside the block's product) or lies in the padding (the
//                             problem's mask),
//   b_col(block, n), b(block, col, k, inside)   the same for column n of B,
//   store(block, m, n, v)     where C[m, n] goes,
// and which index of each operand is contiguous in memory (a_order, b_order). Decoding k
// costs two integer divisions per element loaded, the price of building no im2col
// matrix; their divisors are fixed before the loop, so each is a multiply, an add and a
// shift (ConvDivisor) instead of the twenty-odd instructions of a division by a number
// known only at run time. a and b decode k before they look at `inside`, so that the
// compiler computes the decoding once for all the loads of a thread that share a k.
//
// Blocks and threads. Block (bx, by, bz) computes the 64 x 64 tile C[64 bx :, 64 by :] of
// group bz % g of the product that block(bz) names: for the weight gradient, reduction
// slice bz / g; for the input gradient, phase class bz / g. A tile that starts past its
// product's last row (a phase class smaller than the largest, for which the grid is
// sized) returns at once: all its threads, before the first __syncthreads. Its 256
// threads walk the reduction in steps of 16:
//   load      the A tile (64 x 16) and the B tile (16 x 64) into shared memory, stored
//             k-major as a_tile[k][m] and b_tile[k][n], four elements of each per thread;
//             consecutive threads take consecutive elements along the operand's
//             contiguous index, so that a warp's loads fall into few cache lines: the
//             pixels j of x and dy for A of conv2d and conv_transpose2d, the taps of a
//             weight row for their B, the pixels for both operands of conv2d_weight;
//   multiply  thread t owns the 4 x 4 block of C at rows 4 (t % 16) + i, columns
//             4 (t / 16) + j, in 16 registers, and for each of the 16 k of the step adds
//             a_tile[k][its 4 rows] x b_tile[k][its 4 columns]: two reads of 4
//             neighbouring elements (one 16-byte vector of floats each) for 16 FMAs.
// While a step multiplies, the next step's elements are loaded from global memory into
// registers (a_next, b_next), so their latency hides behind the arithmetic; shared memory
// holds one step, with one __syncthreads before the multiply and one after it.
//
// Why these tiles. A 4 x 4 block per thread keeps 16 accumulators and 8 operands in
// registers and makes 2 FMAs per element read from shared memory. 64 x 64 per block
// matches the channel counts of GAN layers (64 to 512, and often small images), where
// 128-wide tiles would leave half of a tile idle. 16-deep steps keep the two tiles at
// 8.5 KB (float) or 17 KB (double), so that several blocks share an SM and any CUDA
// device runs them without opting into more than 48 KB. The tile rows are padded by 4
// elements: a warp that stores along k then spreads over the banks, and every row still
// starts on a 16-byte boundary for the vector reads.
//
// The input gradient by phases. Written as above, conv_transpose2d's A is zero wherever
// a division by the stride is not exact: tap p reaches row h only if sh divides
// h + ph - p dh, that is p dh = r (mod sh) for the row's phase r = (h + ph) mod sh. So all
// rows of one phase share one set of taps,
//   P_r = {p < kh : p dh = r (mod sh)} = {p_r + t sh' : t < |P_r|},  sh' = sh / gcd(sh, dh),
// an arithmetic progression (p and p + sh' reach the same rows: sh' dh is a multiple of
// sh), empty when no p < min(kh, sh') fits. Columns alike, with sw, dw, kw, pw. The pixels
// of dx fall into sh sw phase classes; class (h0, w0), h0 < min(sh, H), w0 < min(sw, W),
// holds the pixels
//   h = h0 + a sh  (a < Hr = ceil((H - h0) / sh)),  w = w0 + b sw  (b < Wr),
// of phase r = (h0 + ph) mod sh, s = (w0 + pw) mod sw, and is a product of its own:
//   dx[(n,a,b), c] = sum_(o,t,u)  dy[n, o, a + i_r - t dh', b + j_s - u dw']
//                                 weight[o, c, p_r + t sh', q_s + u sw']
//   M = N Hr Wr,  N = C/g,  K = (O/g) |P_r| |Q_s|,
// where i_r = (h0 + ph - p_r dh) / sh (exact: p_r dh = h0 + ph mod sh) and
// dh' = dh / gcd(sh, dh) = sh' dh / sh, so that i = (h + ph - p dh) / sh = a + i_r - t dh':
// every division is exact by construction, and the masks left are 0 <= i < Ho,
// 0 <= j < Wo. The grid runs z = class g + group, class = h0 min(sw, W) + w0 (classes
// with no pixels, h0 >= H, are not launched), and x sized for the largest class, h0 = w0
// = 0: N ceil(H / sh) ceil(W / sw) pixels. Each block computes its class's few numbers
// (gcd(sh, dh) by Euclid; the first tap p_r, by trying p < sh'; |P_r|; Hr; i_r) from bz:
// integer arithmetic, no extra launch, no table in memory. A class with no taps (stride
// larger than the kernel, or gcd(sh, dh) > 1 and r not a multiple of it) has K = 0: its
// blocks run no step and store zeros, which they must, since dx arrives unwritten.
//
// What it saves, counted in multiply-adds per element of dx (per pixel and channel c):
// (O/g) kh kw for every pixel before, (O/g) |P_r| |Q_s| for a pixel of class (r, s) now.
// Where gcd(sh, dh) = 1 every tap lies in exactly one phase (sum_r |P_r| = kh), so over an
// image whose classes are about equally large it is sh sw times fewer. The layers of a
// DCGAN generator (kernel 4, stride 2, padding 1): |P_r| = |Q_s| = 2 in every class,
// 16 taps -> 4 per pixel: 8192 -> 2048 multiply-adds per element of dx at O = 512.
// Kernel 5, stride 3: |P_r| in {2, 2, 1}, 25 taps -> 4, 2 or 1 (25 / 9 on average).
// Dilation 2 at stride 2: one phase in two has all kh taps, the other none, 4 times fewer
// on average at 2 x 2. Stride 1: one class with every tap, the same product as before.
// These are counts, not a measured speed: the stores of a class are sw apart in w (a warp
// writes every sw-th element of its rows), and B's loads step over taps sw' apart.
//
// The weight gradient. Its reduction runs over every pixel of the batch (N Ho Wo: long)
// and its output is small, so output tiles alone would leave most of an H100 idle. The
// reduction is cut into slices (conv2d_weight_split in conv.h): block z = split g + group
// writes the partial tile of its slice into the caller's workspace, (splits, O, taps),
// and a second kernel adds the partials into dw in order of split: deterministic (the
// same bits on every run), no atomics.
//
// Empty sums. A product with K = 0 (no input channels; conv_transpose2d with no output
// channels, or a phase class that no tap reaches) runs zero steps and stores zeros; the
// weight gradient of an empty batch has no splits, and the sum of no partials writes
// zeros. An empty output launches nothing.
//
// Precision. Products and sums in Accumulator<T>::type (float for float, double for
// double) with one rounding to T at the store; the partials stay in the accumulator type.
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/conv.h"
#include "cuda/device.cuh"

namespace minigan::cuda {

inline constexpr int kConvThreads = 256;      // (64 / 4) x (64 / 4) threads
inline constexpr int kConvThreadM = 4;        // each thread: a 4 x 4 block of C
inline constexpr int kConvThreadN = 4;
inline constexpr int kConvPad = 4;            // shared tile rows are 64 + 4 elements long
static_assert(kConvThreads == (kConvTileM / kConvThreadM) * (kConvTileN / kConvThreadN));
static_assert(kConvTileM * kConvTileK % kConvThreads == 0 &&
              kConvTileN * kConvTileK % kConvThreads == 0);

// The matrix product of a problem: for each of `groups` groups, C (m x n) = A (m x k)
// B (k x n), the reduction cut into slices of k_per_split (one slice: k_per_split = k).
// Where the grid's parts are products of their own (the phase classes of
// conv_transpose2d), m and k are bounds: the grid covers m rows, and each part's Block
// narrows m and k to its own.
struct ConvGemmShape {
  int groups, m, n, k, k_per_split;
};

// What block z works on in a problem whose parts are the slices of one reduction (one
// slice for conv2d): group z % g and slice z / g, k_begin <= k < k_end, all m rows.
struct ConvBlock {
  int group, split, m, k_begin, k_end;
};
__device__ __forceinline__ ConvBlock conv_slice_block(const ConvGemmShape& gemm, int z) {
  const int group = z % gemm.groups;
  const int split = z / gemm.groups;
  const int k_begin = split * gemm.k_per_split;
  const int k_end = gemm.k - k_begin < gemm.k_per_split ? gemm.k : k_begin + gemm.k_per_split;
  return {group, split, gemm.m, k_begin, k_end};
}

// One axis of a phase class of conv_transpose2d (rows here; columns alike with w, sw,
// pw, dw, kw): the pixels h = first + a stride, a < pixels, and the taps
// p = tap + t tap_step, t < taps, where tap t of pixel a reads dy at
// i = a + dy_first - t dy_step (the opening comment's h0, Hr, p_r, |P_r|, sh', i_r, dh').
struct ConvPhase {
  int first, pixels, tap, taps, tap_step, dy_first, dy_step;
};
__device__ __forceinline__ ConvPhase conv_phase(int first, int size, int stride, int pad,
                                                int dilation, int kernel) {
  int divisor = stride;                                    // gcd(stride, dilation), Euclid
  for (int rest = dilation; rest != 0;) {
    const int next = divisor % rest;
    divisor = rest;
    rest = next;
  }
  const int tap_step = stride / divisor;
  const int phase = (first + pad) % stride;
  // the first tap p with p dilation = phase (mod stride): if any, it is below tap_step
  int tap = 0;
  while (tap < kernel && tap < tap_step && tap * dilation % stride != phase) ++tap;
  const bool hit = tap < kernel && tap < tap_step;
  return {first,
          first < size ? (size - first + stride - 1) / stride : 0,
          tap,
          hit ? (kernel - tap + tap_step - 1) / tap_step : 0,
          tap_step,
          hit ? (first + pad - tap * dilation) / stride : 0,
          dilation / divisor};
}

// x / d for 0 <= x < 2^31 by a divisor 1 <= d < 2^31 known before the loop: with
// l = ceil(log2 d) and m = ceil(2^(32+l) / d) - 2^32 (which fits in 32 bits, as
// 2^(l-1) < d <= 2^l),
//   x / d = (mulhi(x, m) + x) >> l,   mulhi(x, m) = floor(x m / 2^32):
// a multiply, an add and a shift. Why it is exact: m + 2^32 = (2^(32+l) + e) / d with
// 0 <= e < d <= 2^l, so x (m + 2^32) / 2^(32+l) = x / d + x e / (d 2^(32+l)), and the
// excess over x / d is less than 2^31 2^l / (d 2^(32+l)) < 1 / d: too little to reach
// the next integer above x / d, whose fraction is at most (d - 1) / d. The add cannot
// overflow (mulhi(x, m) < x < 2^31), and d = 1 and the powers of two get m = 0: a shift.
// A divisor of 0 (the size of an empty axis, which nothing is divided by) is taken as 1.
struct ConvDivisor {
  unsigned divisor, multiplier, shift;
};
__host__ __device__ __forceinline__ ConvDivisor conv_divisor(int d) {
  const uint64_t divisor = d < 1 ? 1 : static_cast<uint64_t>(d);
  unsigned shift = 0;
  while ((uint64_t{1} << shift) < divisor) ++shift;
  const uint64_t scaled = ((uint64_t{1} << (32 + shift)) + divisor - 1) / divisor;
  return {static_cast<unsigned>(divisor), static_cast<unsigned>(scaled - (uint64_t{1} << 32)),
          shift};
}
__device__ __forceinline__ unsigned conv_divide(unsigned x, const ConvDivisor& d) {
  return (mulhi_(x, d.multiplier) + x) >> d.shift;
}

// The radix of a row-major index over (hi, mid, lo): the divisors mid lo and lo. A span
// past the kernels' indices (kh kw of a layer with neither input nor output channels,
// which no size check bounds) is taken as 2^31 - 1: every index divides by it to 0, as
// by the span itself.
struct ConvRadix {
  ConvDivisor span, lo;
};
__host__ __device__ __forceinline__ ConvRadix conv_radix(int mid, int lo) {
  const int64_t span = static_cast<int64_t>(mid) * lo;
  return {conv_divisor(span > INT32_MAX ? INT32_MAX : static_cast<int>(span)),
          conv_divisor(lo)};
}

// index = (hi mid + md) lo + low: its digits. Indices are never negative.
struct ConvDigits {
  int hi, mid, lo;
};
__device__ __forceinline__ ConvDigits conv_digits(int index, const ConvRadix& radix) {
  const unsigned hi = conv_divide(static_cast<unsigned>(index), radix.span);
  const unsigned rest = static_cast<unsigned>(index) - hi * radix.span.divisor;
  const unsigned md = conv_divide(rest, radix.lo);
  return {static_cast<int>(hi), static_cast<int>(md),
          static_cast<int>(rest - md * radix.lo.divisor)};
}

// ConvSizes as the kernels' 32-bit index arithmetic sees them (offsets into the arrays
// are int64_t), with the channels per group c_g = c / groups and o_g = o / groups, and
// the radixes of the two indices the kernels decode: a tap (c, p, q) over (kh, kw), an
// output pixel (n, i, j) over (ho, wo).
struct ConvIndex {
  int n, c, h, w, o, kh, kw, ho, wo, sh, sw, ph, pw, dh, dw, groups, c_g, o_g;
  ConvRadix taps, pixels;
};

// Which index of an operand is contiguous in memory: its row or column index (m of A,
// n of B), or the reduction index k.
enum class Contiguous { mn, k };

// The s-th element that thread t loads of a (LINES x kConvTileK) operand tile: its line
// (m or n within the tile) and its k. Consecutive threads take consecutive elements
// along the contiguous index; with `mn` a thread keeps one line and visits 4 k, with `k`
// it keeps one k and visits 4 lines. Either way the 256 threads cover the tile once.
template <int LINES, Contiguous order>
struct ConvLoadSlot {
  static constexpr int kPerThread = LINES * kConvTileK / kConvThreads;
  __device__ __forceinline__ static int line(int t, int s) {
    return order == Contiguous::mn ? t % LINES
                                   : t / kConvTileK + s * (kConvThreads / kConvTileK);
  }
  __device__ __forceinline__ static int k(int t, int s) {
    return order == Contiguous::mn ? t / LINES + s * (kConvThreads / LINES) : t % kConvTileK;
  }
};

// --------------------------------------------------------------------------------------
// The three problems
// --------------------------------------------------------------------------------------

// conv2d: A[(n,i,j), (c,p,q)] = x[n, g C/g + c, i sh - ph + p dh, j sw - pw + q dw],
//         B[(c,p,q), o] = weight[g O/g + o, c, p, q],   C[(n,i,j), o] = y[n, g O/g + o, i, j]
template <typename T>
struct Conv2dGemm {
  using Acc = typename Accumulator<T>::type;
  static constexpr Contiguous a_order = Contiguous::mn;  // neighbouring j, neighbouring w
  static constexpr Contiguous b_order = Contiguous::k;   // a weight row is K long

  ConvGemmShape gemm;
  ConvIndex s;
  const T* x;
  const T* weight;
  T* y;

  // One product per group: block z is group z.
  using Block = ConvBlock;
  __device__ __forceinline__ Block block(int z) const { return conv_slice_block(gemm, z); }

  // Row m = output pixel (n, i, j): the offset of x[n, g C/g] and the top-left corner of
  // the pixel's receptive field (which may lie in the padding).
  struct RowA {
    int64_t image;
    int top, left;
  };
  __device__ __forceinline__ RowA a_row(const Block& block, int m) const {
    const ConvDigits nij = conv_digits(m, s.pixels);
    return {(static_cast<int64_t>(nij.hi) * s.c + static_cast<int64_t>(block.group) * s.c_g) *
                s.h * s.w,
            nij.mid * s.sh - s.ph, nij.lo * s.sw - s.pw};
  }
  __device__ __forceinline__ T a(const Block&, const RowA& row, int k, bool inside) const {
    const ConvDigits cpq = conv_digits(k, s.taps);
    const int h = row.top + cpq.mid * s.dh;
    const int w = row.left + cpq.lo * s.dw;
    inside = inside && h >= 0 && h < s.h && w >= 0 && w < s.w;
    return inside ? x[row.image + (static_cast<int64_t>(cpq.hi) * s.h + h) * s.w + w] : T(0);
  }

  // Column n = output channel g O/g + n: the offset of its weight row, K = (C/g) kh kw long.
  using ColB = int64_t;
  __device__ __forceinline__ ColB b_col(const Block& block, int n) const {
    return (static_cast<int64_t>(block.group) * s.o_g + n) * gemm.k;
  }
  __device__ __forceinline__ T b(const Block&, ColB row, int k, bool inside) const {
    return inside ? weight[row + k] : T(0);
  }

  __device__ __forceinline__ void store(const Block& block, int m, int n, Acc value) const {
    const int plane = s.ho * s.wo;
    const int image = static_cast<int>(conv_divide(static_cast<unsigned>(m), s.pixels.span));
    y[(static_cast<int64_t>(image) * s.o + block.group * s.o_g + n) * plane +
      (m - image * plane)] = static_cast<T>(value);
  }
};

// conv_transpose2d, one product per phase class (h0, w0) (the opening comment's math):
//   A[(n,a,b), (o,t,u)] = dy[n, g O/g + o, a + i_r - t dh', b + j_s - u dw'] (0 outside dy),
//   B[(o,t,u), c] = weight[g O/g + o, c, p_r + t sh', q_s + u sw'],
//   C[(n,a,b), c] = dx[n, g C/g + c, h0 + a sh, w0 + b sw]
template <typename T>
struct ConvTranspose2dGemm {
  using Acc = typename Accumulator<T>::type;
  static constexpr Contiguous a_order = Contiguous::mn;  // neighbouring b, neighbouring j
  static constexpr Contiguous b_order = Contiguous::k;   // weight[o, c]: kh kw taps in a row

  ConvGemmShape gemm;  // m: the pixels of the largest class; k: all (O/g) kh kw taps
  ConvIndex s;
  int column_classes;  // min(sw, w): the classes w0 that hold pixels
  const T* dy;
  const T* weight;
  T* dx;

  // Block z: group z % g, phase class z / g = h0 column_classes + w0, whose product has
  // N Hr Wr rows (pixels (n, a, b), radix (Hr, Wr)) and (O/g) |P_r| |Q_s| taps ((o, t, u),
  // radix (|P_r|, |Q_s|)).
  struct Block {
    int group, m, k_begin, k_end;
    ConvPhase rows, cols;
    ConvRadix pixels, taps;
  };
  __device__ __forceinline__ Block block(int z) const {
    const int phase_class = z / gemm.groups;
    const ConvPhase rows =
        conv_phase(phase_class / column_classes, s.h, s.sh, s.ph, s.dh, s.kh);
    const ConvPhase cols =
        conv_phase(phase_class % column_classes, s.w, s.sw, s.pw, s.dw, s.kw);
    return {z % gemm.groups, s.n * rows.pixels * cols.pixels, 0, s.o_g * rows.taps * cols.taps,
            rows, cols, conv_radix(rows.pixels, cols.pixels), conv_radix(rows.taps, cols.taps)};
  }

  // Row m = pixel (n, a, b) of the class: the offset of dy[n, g O/g] and the pixel of dy
  // that its first tap (t, u) = (0, 0) reads (which may lie outside dy).
  struct RowA {
    int64_t image;
    int i, j;
  };
  __device__ __forceinline__ RowA a_row(const Block& block, int m) const {
    const ConvDigits nab = conv_digits(m, block.pixels);
    return {(static_cast<int64_t>(nab.hi) * s.o + static_cast<int64_t>(block.group) * s.o_g) *
                s.ho * s.wo,
            nab.mid + block.rows.dy_first, nab.lo + block.cols.dy_first};
  }
  __device__ __forceinline__ T a(const Block& block, const RowA& row, int k,
                                 bool inside) const {
    const ConvDigits otu = conv_digits(k, block.taps);
    const int i = row.i - otu.mid * block.rows.dy_step;
    const int j = row.j - otu.lo * block.cols.dy_step;
    inside = inside && i >= 0 && i < s.ho && j >= 0 && j < s.wo;
    return inside ? dy[row.image + (static_cast<int64_t>(otu.hi) * s.ho + i) * s.wo + j] : T(0);
  }

  // Column n = input channel c of the group: the offset of weight[g O/g, c, p_r, q_s];
  // tap (o, t, u) is then sh' kw apart per t, sw' per u and (C/g) kh kw per o.
  using ColB = int64_t;
  __device__ __forceinline__ ColB b_col(const Block& block, int n) const {
    return (static_cast<int64_t>(block.group) * s.o_g * s.c_g + n) * (s.kh * s.kw) +
           block.rows.tap * s.kw + block.cols.tap;
  }
  __device__ __forceinline__ T b(const Block& block, ColB column, int k, bool inside) const {
    const ConvDigits otu = conv_digits(k, block.taps);
    const int64_t tap = static_cast<int64_t>(otu.hi) * s.c_g * s.kh * s.kw +
                        otu.mid * block.rows.tap_step * s.kw + otu.lo * block.cols.tap_step;
    return inside ? weight[column + tap] : T(0);
  }

  __device__ __forceinline__ void store(const Block& block, int m, int n, Acc value) const {
    const ConvDigits nab = conv_digits(m, block.pixels);
    const int h = block.rows.first + nab.mid * s.sh;
    const int w = block.cols.first + nab.lo * s.sw;
    dx[((static_cast<int64_t>(nab.hi) * s.c + block.group * s.c_g + n) * s.h + h) * s.w + w] =
        static_cast<T>(value);
  }
};

// conv2d_weight: A[o, (n,i,j)] = dy[n, g O/g + o, i, j],
//                B[(n,i,j), (c,p,q)] = x[n, g C/g + c, i sh - ph + p dh, j sw - pw + q dw],
//                C[o, (c,p,q)] of slice `split` = partial[split, g O/g + o, (c,p,q)]
template <typename T>
struct Conv2dWeightGemm {
  using Acc = typename Accumulator<T>::type;
  static constexpr Contiguous a_order = Contiguous::k;   // dy[n, o]: a plane of pixels
  static constexpr Contiguous b_order = Contiguous::k;   // neighbouring j, neighbouring w

  ConvGemmShape gemm;
  ConvIndex s;
  const T* x;
  const T* dy;
  Acc* partial;                                          // (splits, O, (C/g) kh kw)

  // Block z: group z % g, slice z / g of the pixels.
  using Block = ConvBlock;
  __device__ __forceinline__ Block block(int z) const { return conv_slice_block(gemm, z); }

  // Row m = output channel g O/g + m: the offset of dy[0, g O/g + m].
  using RowA = int64_t;
  __device__ __forceinline__ RowA a_row(const Block& block, int m) const {
    return (static_cast<int64_t>(block.group) * s.o_g + m) * s.ho * s.wo;
  }
  __device__ __forceinline__ T a(const Block&, RowA channel, int k, bool inside) const {
    const ConvDigits nij = conv_digits(k, s.pixels);
    const int64_t pixel =
        static_cast<int64_t>(nij.hi) * s.o * s.ho * s.wo + nij.mid * s.wo + nij.lo;
    return inside ? dy[channel + pixel] : T(0);
  }

  // Column n = tap (c, p, q): the offset of x[0, g C/g + c] and the tap's displacement
  // (p dh - ph, q dw - pw) from the pixel (i sh, j sw).
  struct ColB {
    int64_t channel;
    int top, left;
  };
  __device__ __forceinline__ ColB b_col(const Block& block, int n) const {
    const ConvDigits cpq = conv_digits(n, s.taps);
    return {(static_cast<int64_t>(block.group) * s.c_g + cpq.hi) * s.h * s.w,
            cpq.mid * s.dh - s.ph, cpq.lo * s.dw - s.pw};
  }
  __device__ __forceinline__ T b(const Block&, const ColB& tap, int k, bool inside) const {
    const ConvDigits nij = conv_digits(k, s.pixels);
    const int h = nij.mid * s.sh + tap.top;
    const int w = nij.lo * s.sw + tap.left;
    inside = inside && h >= 0 && h < s.h && w >= 0 && w < s.w;
    return inside ? x[tap.channel + (static_cast<int64_t>(nij.hi) * s.c * s.h + h) * s.w + w]
                  : T(0);
  }

  __device__ __forceinline__ void store(const Block& block, int m, int n, Acc value) const {
    partial[(static_cast<int64_t>(block.split) * s.o + block.group * s.o_g + m) * gemm.n + n] =
        value;
  }
};

// --------------------------------------------------------------------------------------
// The GEMM, and the sum of the weight gradient's slices
// --------------------------------------------------------------------------------------

template <typename T, typename Problem>
__global__ void __launch_bounds__(kConvThreads) implicit_gemm_kernel(const Problem problem) {
  using Acc = typename Accumulator<T>::type;
  using SlotA = ConvLoadSlot<kConvTileM, Problem::a_order>;
  using SlotB = ConvLoadSlot<kConvTileN, Problem::b_order>;
  constexpr int kLineA = kConvTileM + kConvPad;
  constexpr int kLineB = kConvTileN + kConvPad;
  MINIGAN_DYNAMIC_SHARED(shared);
  T(*a_tile)[kLineA] = reinterpret_cast<T(*)[kLineA]>(shared);      // (kConvTileK, 64 + 4)
  T(*b_tile)[kLineB] = reinterpret_cast<T(*)[kLineB]>(a_tile + kConvTileK);

  const int n_cols = problem.gemm.n;
  const int t = static_cast<int>(threadIdx.x);
  const typename Problem::Block block = problem.block(static_cast<int>(blockIdx.z));
  const int m0 = static_cast<int>(blockIdx.x) * kConvTileM;
  const int n0 = static_cast<int>(blockIdx.y) * kConvTileN;
  const int k_begin = block.k_begin;
  const int k_end = block.k_end;
  // -- a tile past its product's rows (a smaller phase class): the whole block leaves,
  //    before the first __syncthreads
  if (m0 >= block.m) return;

  // -- once per tile: what this thread's load slots need about their rows of A and
  //    columns of B, and whether those lie inside the product
  typename Problem::RowA a_rows[SlotA::kPerThread];
  bool a_inside[SlotA::kPerThread];
  for (int s = 0; s < SlotA::kPerThread; ++s) {
    const int m = m0 + SlotA::line(t, s);
    a_rows[s] = problem.a_row(block, m);
    a_inside[s] = m < block.m;
  }
  typename Problem::ColB b_cols[SlotB::kPerThread];
  bool b_inside[SlotB::kPerThread];
  for (int s = 0; s < SlotB::kPerThread; ++s) {
    const int n = n0 + SlotB::line(t, s);
    b_cols[s] = problem.b_col(block, n);
    b_inside[s] = n < n_cols;
  }

  // -- one step of both operands, global memory -> registers (zero outside the product)
  T a_next[SlotA::kPerThread];
  T b_next[SlotB::kPerThread];
  auto load_step = [&](int k0) {
    for (int s = 0; s < SlotA::kPerThread; ++s) {
      const int k = k0 + SlotA::k(t, s);
      a_next[s] = problem.a(block, a_rows[s], k, a_inside[s] && k < k_end);
    }
    for (int s = 0; s < SlotB::kPerThread; ++s) {
      const int k = k0 + SlotB::k(t, s);
      b_next[s] = problem.b(block, b_cols[s], k, b_inside[s] && k < k_end);
    }
  };

  Acc acc[kConvThreadM][kConvThreadN] = {};
  const int tm = t % (kConvTileM / kConvThreadM);   // rows 4 tm + i of the tile
  const int tn = t / (kConvTileM / kConvThreadM);   // columns 4 tn + j
  const int steps = (k_end - k_begin + kConvTileK - 1) / kConvTileK;
  if (steps > 0) load_step(k_begin);
  for (int step = 0; step < steps; ++step) {
    // -- registers -> shared memory
    for (int s = 0; s < SlotA::kPerThread; ++s) {
      a_tile[SlotA::k(t, s)][SlotA::line(t, s)] = a_next[s];
    }
    for (int s = 0; s < SlotB::kPerThread; ++s) {
      b_tile[SlotB::k(t, s)][SlotB::line(t, s)] = b_next[s];
    }
    __syncthreads();

    // -- the next step's loads are in flight while this one multiplies
    if (step + 1 < steps) load_step(k_begin + (step + 1) * kConvTileK);

    // -- acc (4 x 4) += a_tile[k][4 rows] b_tile[k][4 columns], k over the step
    MINIGAN_UNROLL("unroll")
    for (int k = 0; k < kConvTileK; ++k) {
      T a[kConvThreadM];
      T b[kConvThreadN];
      for (int i = 0; i < kConvThreadM; ++i) a[i] = a_tile[k][kConvThreadM * tm + i];
      for (int j = 0; j < kConvThreadN; ++j) b[j] = b_tile[k][kConvThreadN * tn + j];
      for (int i = 0; i < kConvThreadM; ++i) {
        for (int j = 0; j < kConvThreadN; ++j) {
          acc[i][j] += static_cast<Acc>(a[i]) * static_cast<Acc>(b[j]);
        }
      }
    }
    __syncthreads();
  }

  // -- write this thread's block of C
  for (int i = 0; i < kConvThreadM; ++i) {
    const int m = m0 + kConvThreadM * tm + i;
    for (int j = 0; j < kConvThreadN; ++j) {
      const int n = n0 + kConvThreadN * tn + j;
      if (m < block.m && n < n_cols) problem.store(block, m, n, acc[i][j]);
    }
  }
}

// dw[e] = sum over split of partial[split, e], in order of split; no splits: dw = 0.
// One thread per element of dw: consecutive threads read consecutive partials.
template <typename T>
__global__ void __launch_bounds__(kConvThreads)
    conv_sum_splits_kernel(const typename Accumulator<T>::type* partial, T* dw,
                           int64_t elements, int splits) {
  using Acc = typename Accumulator<T>::type;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kConvThreads + threadIdx.x;
  if (e >= elements) return;
  Acc total = 0;
  for (int split = 0; split < splits; ++split) total += partial[split * elements + e];
  dw[e] = static_cast<T>(total);
}

// --------------------------------------------------------------------------------------
// Launchers
// --------------------------------------------------------------------------------------

// The largest index the kernels form in int: a size plus the overshoot of a tile.
inline constexpr int64_t kConvIndexLimit = INT32_MAX - kConvTileM;

inline int conv_index(const char* op, const char* name, int64_t value) {
  if (value < 0 || value > kConvIndexLimit) {
    throw std::invalid_argument(std::string(op) + ": " + name + " = " + std::to_string(value) +
                                " is out of the range of the kernels' 32-bit indices");
  }
  return static_cast<int>(value);
}

// The sizes as ints, after checking every quantity that the kernels form in int: the
// sizes, the products M, N, K of the three GEMMs, and how far a receptive field reaches.
inline ConvIndex conv_index_sizes(const char* op, const ConvSizes& z) {
  conv_index(op, "n * ho * wo", z.n * z.ho * z.wo);
  conv_index(op, "n * h * w", z.n * z.h * z.w);
  conv_index(op, "ho * wo", z.ho * z.wo);
  conv_index(op, "h * w", z.h * z.w);
  conv_index(op, "c * kh * kw", z.c * z.kh * z.kw);
  conv_index(op, "o * kh * kw", z.o * z.kh * z.kw);
  conv_index(op, "the reach of a receptive field in h",
             std::max(z.h, z.ho * z.sh) + z.ph + z.kh * z.dh);
  conv_index(op, "the reach of a receptive field in w",
             std::max(z.w, z.wo * z.sw) + z.pw + z.kw * z.dw);
  ConvIndex s{};
  s.n = conv_index(op, "n", z.n);
  s.c = conv_index(op, "c", z.c);
  s.h = conv_index(op, "h", z.h);
  s.w = conv_index(op, "w", z.w);
  s.o = conv_index(op, "o", z.o);
  s.kh = conv_index(op, "kh", z.kh);
  s.kw = conv_index(op, "kw", z.kw);
  s.ho = conv_index(op, "ho", z.ho);
  s.wo = conv_index(op, "wo", z.wo);
  s.sh = conv_index(op, "sh", z.sh);
  s.sw = conv_index(op, "sw", z.sw);
  s.ph = conv_index(op, "ph", z.ph);
  s.pw = conv_index(op, "pw", z.pw);
  s.dh = conv_index(op, "dh", z.dh);
  s.dw = conv_index(op, "dw", z.dw);
  s.groups = conv_index(op, "groups", z.groups);
  s.c_g = s.c / s.groups;
  s.o_g = s.o / s.groups;
  s.taps = conv_radix(s.kh, s.kw);
  s.pixels = conv_radix(s.ho, s.wo);
  return s;
}

// Grid: (M / 64, N / 64, groups x parts) blocks of 256 threads, parts being the slices of
// the reduction or the phase classes; nothing when M or N or parts is 0.
template <typename T, typename Problem>
void launch_implicit_gemm(const char* op, const Problem& problem, int64_t parts,
                          std::uintptr_t stream) {
  const ConvGemmShape& gemm = problem.gemm;
  const int64_t tiles_n = ceil_div(gemm.n, kConvTileN);
  const int64_t blocks_z = gemm.groups * parts;
  if (tiles_n > 65535 || blocks_z > 65535) {
    throw std::invalid_argument(std::string(op) + ": a grid of " + std::to_string(tiles_n) +
                                " x " + std::to_string(blocks_z) +
                                " blocks in y and z is more than CUDA's 65535");
  }
  const dim3 grid(static_cast<unsigned>(ceil_div(gemm.m, kConvTileM)),
                  static_cast<unsigned>(tiles_n), static_cast<unsigned>(blocks_z));
  const size_t shared =
      sizeof(T) * kConvTileK * (kConvTileM + kConvPad + kConvTileN + kConvPad);
  launch(op, implicit_gemm_kernel<T, Problem>, grid, dim3(kConvThreads), shared,
         reinterpret_cast<Stream>(stream), problem);
}

template <typename T>
void conv2d(const T* x, const T* weight, T* y, const ConvSizes& sizes, std::uintptr_t stream) {
  const ConvIndex s = conv_index_sizes("conv2d", sizes);
  const int k = s.c_g * s.kh * s.kw;
  const Conv2dGemm<T> problem{{s.groups, s.n * s.ho * s.wo, s.o_g, k, k}, s, x, weight, y};
  launch_implicit_gemm<T>("conv2d", problem, 1, stream);
}

template <typename T>
void conv_transpose2d(const T* dy, const T* weight, T* dx, const ConvSizes& sizes,
                      std::uintptr_t stream) {
  const ConvIndex s = conv_index_sizes("conv_transpose2d", sizes);
  // the phase classes that hold pixels, and the largest of them, h0 = w0 = 0
  const int row_classes = std::min(s.sh, s.h);
  const int column_classes = std::min(s.sw, s.w);
  const int m = static_cast<int>(sizes.n * ceil_div(sizes.h, sizes.sh) *
                                 ceil_div(sizes.w, sizes.sw));
  const int k = s.o_g * s.kh * s.kw;
  const ConvTranspose2dGemm<T> problem{{s.groups, m, s.c_g, k, k}, s, column_classes, dy,
                                       weight, dx};
  launch_implicit_gemm<T>("conv_transpose2d", problem,
                          static_cast<int64_t>(row_classes) * column_classes, stream);
}

template <typename T>
void conv2d_weight(const T* x, const T* dy, T* dw, T* workspace, const ConvSizes& sizes,
                   std::uintptr_t stream) {
  static_assert(std::is_same_v<typename Accumulator<T>::type, T>,
                "the workspace of T holds the partial sums, in the accumulator type");
  const ConvIndex s = conv_index_sizes("conv2d_weight", sizes);
  const ConvWeightSplit split = conv2d_weight_split(sizes);
  const int taps = s.c_g * s.kh * s.kw;
  const Conv2dWeightGemm<T> problem{
      {s.groups, s.o_g, taps, s.n * s.ho * s.wo, static_cast<int>(split.pixels_per_split)},
      s, x, dy, workspace};
  launch_implicit_gemm<T>("conv2d_weight (partial sums)", problem, split.splits, stream);
  const int64_t elements = static_cast<int64_t>(s.o) * taps;
  launch("conv2d_weight (sum of the slices)", conv_sum_splits_kernel<T>,
         dim3(static_cast<unsigned>(ceil_div(elements, kConvThreads))), dim3(kConvThreads), 0,
         reinterpret_cast<Stream>(stream), workspace, dw, elements,
         static_cast<int>(split.splits));
}

}  // namespace minigan::cuda
