// What every CUDA kernel file of minigan includes: the launch helper and the few names
// that differ between the two ways a kernel file is compiled.
//
//   nvcc (__CUDACC__ defined)   the real thing. `launch` is a <<<grid, block, shared,
//                               stream>>> launch on the caller's stream (CuPy's current
//                               stream), followed by an error check that names the kernel.
//   a host C++ compiler, with   every thread block runs as a team of CPU threads, with
//   emulator.h included first   __syncthreads a barrier (emulator.h says exactly what is
//   (MINIGAN_EMULATOR)          emulated). The tests in tests/csrc run the very same kernel
//                               code this way against the NumPy references, on machines
//                               without a GPU, as Triton's interpreter does for kernels/.
//
// Kernel code may use: threadIdx, blockIdx, blockDim, gridDim, __global__, __device__,
// __forceinline__, static __shared__ arrays, MINIGAN_DYNAMIC_SHARED, __syncthreads,
// __threadfence, atomicAdd on int, __ldcg, MINIGAN_UNROLL("unroll") and
// MINIGAN_UNROLL("unroll 1") before a loop (nvcc's #pragma unroll; nothing in the
// emulator, whose host compiler does not know the pragma), the <cmath> functions through
// the overloads below (exp, log, log1p, sqrt, fmax on float and double), and __umulhi as
// mulhi_. Nothing else that is CUDA-only.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/arithmetic.h"

#if defined(__CUDACC__)

#include <cuda_runtime.h>

namespace minigan::cuda {

using Stream = cudaStream_t;

// Raise a C++ exception (RuntimeError in Python, through pybind11) naming `what`.
inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
  }
}

// The largest dynamic shared memory one block may ask for on the current device (227 KiB
// on an H100, after opting in with cudaFuncSetAttribute, which `launch` does).
inline size_t max_shared_bytes() {
  int device = 0;
  int bytes = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
  return static_cast<size_t>(bytes);
}

// kernel<<<grid, block, shared, stream>>>(args...), then raise if the launch failed,
// with the kernel's name. A grid with no blocks launches nothing.
template <typename... Params, typename... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
            size_t shared, Stream stream, Args... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
  if (shared > 48 * 1024) {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(shared)),
          name);
  }
  kernel<<<grid, block, shared, stream>>>(static_cast<Params>(args)...);
  check(cudaGetLastError(), name);
}

}  // namespace minigan::cuda

// `unsigned char* name`: the block's dynamic shared memory (the launch's `shared` bytes).
#define MINIGAN_DYNAMIC_SHARED(name)                           \
  extern __shared__ __align__(16) unsigned char name##_raw[]; \
  unsigned char* name = name##_raw

#define MINIGAN_UNROLL(pragma) _Pragma(pragma)

#elif defined(MINIGAN_EMULATOR)

namespace minigan::cuda {
using Stream = ::minigan::emulator::Stream;
using ::minigan::emulator::launch;
using ::minigan::emulator::max_shared_bytes;
}  // namespace minigan::cuda

#define MINIGAN_UNROLL(pragma)

#else
#error "csrc/cuda: compile with nvcc, or include emulator.h first to run on CPU threads"
#endif

namespace minigan::cuda {

// The precision of the sums: float32 inputs sum in float, float64 inputs in double.
template <typename T>
struct Accumulator;
template <>
struct Accumulator<float> {
  using type = float;
};
template <>
struct Accumulator<double> {
  using type = double;
};

__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float log_(float x) { return logf(x); }
__device__ __forceinline__ double log_(double x) { return log(x); }
__device__ __forceinline__ float log1p_(float x) { return log1pf(x); }
__device__ __forceinline__ double log1p_(double x) { return log1p(x); }
__device__ __forceinline__ float sqrt_(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_(double x) { return sqrt(x); }
__device__ __forceinline__ float max_(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double max_(double a, double b) { return fmax(a, b); }

// The high 32 bits of the 64-bit product a b (CUDA's __umulhi: one instruction).
__device__ __forceinline__ unsigned mulhi_(unsigned a, unsigned b) {
#if defined(__CUDACC__)
  return __umulhi(a, b);
#else
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

}  // namespace minigan::cuda
