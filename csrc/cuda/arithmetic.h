// Integer arithmetic shared by the host code of csrc/cuda: plain C++, so that the public
// headers (conv.h, spectral_norm.h), which bindings.cpp includes without CUDA, can use it.
#pragma once

#include <cstdint>

namespace minigan::cuda {

// ceil(a / b) for a >= 0, b > 0: how many tiles of b cover a.
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace minigan::cuda
