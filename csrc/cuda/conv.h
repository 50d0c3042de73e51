// Convolution on the GPU as implicit GEMMs (conv.cuh): the host API that bindings.cpp
// calls. Plain C++: no CUDA headers here.
//
// All pointers are device pointers to C-contiguous arrays of one type T (float or double);
// the kernels run on `stream` (CuPy's stream handle). Every element of an op's output is
// written, also where the sum that defines it is empty (no input channels, no output
// channels, an empty batch): with zeros, by a kernel. Sizes whose indices do not fit the
// kernels' 32-bit index arithmetic raise std::invalid_argument naming the op.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cuda/arithmetic.h"

namespace minigan::cuda {

// One convolution y = conv2d(x, weight) with `groups` groups: the shapes of its three
// arrays and its geometry. Each op below reads two of the arrays and writes the third.
//
//   x: (n, c, h, w)    weight: (o, c / groups, kh, kw)    y: (n, o, ho, wo)
//   y[n, o, i, j] = sum over c in o's group, p < kh, q < kw of
//                   weight[o, c, p, q] x[n, c, i sh - ph + p dh, j sw - pw + q dw]
//
// ho and wo are given (the Python side computes them); groups divides c and o.
struct ConvSizes {
  int64_t n, c, h, w;  // x
  int64_t o, kh, kw;   // weight (its second dimension is c / groups)
  int64_t ho, wo;      // y
  int64_t sh, sw;      // stride, >= 1
  int64_t ph, pw;      // zero padding, >= 0
  int64_t dh, dw;      // dilation, >= 1
  int64_t groups;      // >= 1
};

// y = conv2d(x, weight).   x: (n, c, h, w), weight: (o, c/g, kh, kw) -> y: (n, o, ho, wo)
template <typename T>
void conv2d(const T* x, const T* weight, T* y, const ConvSizes& sizes, std::uintptr_t stream);

// dx = conv_transpose2d(dy, weight): the input gradient of conv2d, its adjoint in x.
//                          dy: (n, o, ho, wo), weight: (o, c/g, kh, kw) -> dx: (n, c, h, w)
template <typename T>
void conv_transpose2d(const T* dy, const T* weight, T* dx, const ConvSizes& sizes,
                      std::uintptr_t stream);

// dw = conv2d_weight(x, dy): the weight gradient of conv2d, its adjoint in weight.
//                          x: (n, c, h, w), dy: (n, o, ho, wo) -> dw: (o, c/g, kh, kw)
// workspace: conv2d_weight_workspace_size(sizes) elements of T, the partial sums of the
// split reduction (what it holds before the call does not matter; it is overwritten).
template <typename T>
void conv2d_weight(const T* x, const T* dy, T* dw, T* workspace, const ConvSizes& sizes,
                   std::uintptr_t stream);

// The tiles of the kernels (conv.cuh says why these): a block computes a kConvTileM x
// kConvTileN tile of a matrix product, walking the reduction kConvTileK at a time.
inline constexpr int kConvTileM = 64;
inline constexpr int kConvTileN = 64;
inline constexpr int kConvTileK = 16;

// The weight gradient's reduction over the n ho wo pixels of the batch is cut into
// `splits` slices of `pixels_per_split` pixels (a multiple of kConvTileK; the last slice
// may be shorter), so that about kConvTargetBlocks blocks run (4 per SM of an H100,
// which has 132) with at least kConvMinSplitPixels pixels each. A function of the sizes
// alone, hence the same split, and the same bits, on every device and every run.
inline constexpr int64_t kConvTargetBlocks = 4 * 132;
inline constexpr int64_t kConvMinSplitPixels = 256;

struct ConvWeightSplit {
  int64_t splits, pixels_per_split;
};

// No splits at all where there is nothing to sum (no pixels) or dw is empty.
inline ConvWeightSplit conv2d_weight_split(const ConvSizes& s) {
  const int64_t rows = s.o / s.groups;                    // dw as a product: (o/g) x taps
  const int64_t taps = s.c / s.groups * s.kh * s.kw;
  const int64_t pixels = s.n * s.ho * s.wo;
  if (rows == 0 || taps == 0 || pixels == 0) return {0, 0};
  const int64_t tiles = ceil_div(rows, kConvTileM) * ceil_div(taps, kConvTileN) * s.groups;
  const int64_t wanted = std::max<int64_t>(
      1, std::min(ceil_div(kConvTargetBlocks, tiles), ceil_div(pixels, kConvMinSplitPixels)));
  const int64_t per_split = ceil_div(ceil_div(pixels, wanted), kConvTileK) * kConvTileK;
  return {ceil_div(pixels, per_split), per_split};
}

inline int64_t conv2d_weight_splits(const ConvSizes& sizes) {
  return conv2d_weight_split(sizes).splits;
}

// Elements of conv2d_weight's workspace: splits x (o, c/g, kh, kw).
inline int64_t conv2d_weight_workspace_size(const ConvSizes& s) {
  return conv2d_weight_splits(s) * s.o * (s.c / s.groups) * s.kh * s.kw;
}

}  // namespace minigan::cuda
