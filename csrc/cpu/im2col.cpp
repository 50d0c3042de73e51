// Thread/work mapping: im2col gives each OpenMP thread whole rows of `cols` (one kernel
// tap (c, p, q) each), so every thread writes one long contiguous stretch of memory;
// col2im gives each thread whole (n, c) planes of the output, so the scatter-adds of
// different threads never touch the same pixel and need no atomics. Its planes are
// ordered channel-major (c outer, n inner): consecutive planes then read consecutive
// stretches of the same kh*kw rows of `cols`, instead of jumping kh*kw rows per plane.
#include "im2col.h"

#include <algorithm>
#include <cstring>

namespace minigan {

// The output columns [*lo, *hi) whose input column w = j * sw + w_off lies inside [0, W);
// the others read zero padding.
static void columns_inside(const ConvGeometry& g, int64_t w_off, int64_t* lo, int64_t* hi) {
  int64_t j = 0;
  while (j < g.wo && j * g.sw + w_off < 0) ++j;
  int64_t k = g.wo;
  while (k > j && (k - 1) * g.sw + w_off >= g.w) --k;
  *lo = j;
  *hi = k;
}

template <typename T>
void im2col(const T* x, T* cols, const ConvGeometry& g) {
  const int64_t rows = g.c * g.kh * g.kw;
  const int64_t plane = g.h * g.w;
  const int64_t row_len = g.n * g.ho * g.wo;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t q = r % g.kw;
    const int64_t p = (r / g.kw) % g.kh;
    const int64_t c = r / (g.kw * g.kh);
    T* out = cols + r * row_len;
    const int64_t w_off = q * g.dw - g.pw;
    int64_t j_lo, j_hi;
    columns_inside(g, w_off, &j_lo, &j_hi);
    for (int64_t n = 0; n < g.n; ++n) {
      const T* src = x + (n * g.c + c) * plane;
      for (int64_t i = 0; i < g.ho; ++i, out += g.wo) {
        const int64_t h = i * g.sh - g.ph + p * g.dh;
        if (h < 0 || h >= g.h) {
          std::fill(out, out + g.wo, T(0));
          continue;
        }
        const T* line = src + h * g.w;  // input column of output j: j * sw + w_off
        std::fill(out, out + j_lo, T(0));
        if (g.sw == 1) {
          std::memcpy(out + j_lo, line + j_lo + w_off, (j_hi - j_lo) * sizeof(T));
        } else {
          for (int64_t j = j_lo; j < j_hi; ++j) out[j] = line[j * g.sw + w_off];
        }
        std::fill(out + j_hi, out + g.wo, T(0));
      }
    }
  }
}

template <typename T>
void col2im(const T* cols, T* out, const ConvGeometry& g) {
  const int64_t plane = g.h * g.w;
  const int64_t row_len = g.n * g.ho * g.wo;
  const int64_t pixels = g.ho * g.wo;
#pragma omp parallel for schedule(static)
  for (int64_t cn = 0; cn < g.c * g.n; ++cn) {
    const int64_t c = cn / g.n;
    const int64_t n = cn % g.n;
    T* dst = out + (n * g.c + c) * plane;
    std::fill(dst, dst + plane, T(0));
    for (int64_t p = 0; p < g.kh; ++p) {
      for (int64_t q = 0; q < g.kw; ++q) {
        const T* src = cols + ((c * g.kh + p) * g.kw + q) * row_len + n * pixels;
        const int64_t w_off = q * g.dw - g.pw;
        int64_t j_lo, j_hi;
        columns_inside(g, w_off, &j_lo, &j_hi);
        for (int64_t i = 0; i < g.ho; ++i) {
          const int64_t h = i * g.sh - g.ph + p * g.dh;
          if (h < 0 || h >= g.h) continue;
          T* line = dst + h * g.w;  // input column of output j: j * sw + w_off
          const T* row = src + i * g.wo;
          if (g.sw == 1) {  // unit stride: the compiler vectorises this loop
            for (int64_t j = j_lo; j < j_hi; ++j) line[j + w_off] += row[j];
          } else {
            for (int64_t j = j_lo; j < j_hi; ++j) line[j * g.sw + w_off] += row[j];
          }
        }
      }
    }
  }
}

template void im2col<float>(const float*, float*, const ConvGeometry&);
template void im2col<double>(const double*, double*, const ConvGeometry&);
template void col2im<float>(const float*, float*, const ConvGeometry&);
template void col2im<double>(const double*, double*, const ConvGeometry&);

}  // namespace minigan
