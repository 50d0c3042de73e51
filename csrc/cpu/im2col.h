// im2col / col2im on the CPU: the data movement of a convolution, around one GEMM.
//
// A 2-D convolution with kernel (kh, kw), stride (sh, sw), zero padding (ph, pw) and
// dilation (dh, dw) reads, for output position (i, j), the input pixels
//     h = i * sh - ph + p * dh,   w = j * sw - pw + q * dw,   p < kh, q < kw.
// im2col lays those pixels out as a matrix so that the convolution is one GEMM:
//
//     cols[(c * kh + p) * kw + q][(n * Ho + i) * Wo + j] = x[n][c][h][w]   (0 outside)
//     cols: (C * kh * kw, N * Ho * Wo)         "KNL" layout: kernel taps x (batch, pixels)
//
// With groups, the rows of group g are the contiguous block [g * K, (g + 1) * K) with
// K = (C / groups) * kh * kw, so each group's GEMM reads a contiguous slab.
//
// col2im is the adjoint: it adds every column entry back onto the input pixel it came
// from,  out[n][c][h][w] = sum of cols[(c, p, q)][(n, i, j)] over the taps that read (h, w).
// It is the data movement of the input gradient (and of conv_transpose2d).
#pragma once
#include <cstdint>

namespace minigan {

struct ConvGeometry {
  int64_t n, c, h, w;        // input (N, C, H, W)
  int64_t kh, kw;            // kernel
  int64_t sh, sw;            // stride
  int64_t ph, pw;            // zero padding
  int64_t dh, dw;            // dilation
  int64_t ho, wo;            // output size (given, so callers may ask for fewer rows)
};

template <typename T>
void im2col(const T* x, T* cols, const ConvGeometry& g);

template <typename T>
void col2im(const T* cols, T* out, const ConvGeometry& g);

}  // namespace minigan
