// Runs minigan's CUDA kernels on CPU threads, for tests on machines without a GPU.
//
// Include this header, then a kernel file (conv.cuh, attention.cuh, ...), and compile with
// a C++20 host compiler and -pthread. Each `launch` runs the grid's blocks one after
// another, in a shuffled order (a kernel must not depend on the order in which blocks
// run); each block runs as blockDim.x * blockDim.y * blockDim.z std::threads, so that
//   threadIdx, blockIdx, blockDim, gridDim   are what CUDA would give each thread;
//   __syncthreads()                          is a barrier of the block's threads (a
//                                            thread that returns leaves the barrier,
//                                            as an exited thread does on a GPU);
//   __shared__ arrays                        are function-local statics: one copy, which
//                                            the block running now owns;
//   dynamic shared memory                    is one buffer per launch, filled with 0xFF
//                                            bytes (NaN for floats) before every block, so
//                                            a read of shared memory the block did not
//                                            write shows up in the result;
//   atomicAdd, __threadfence, __ldcg         are std::atomic_ref operations, a fence and
//                                            a plain load.
// What it cannot show: speed, races between blocks (blocks never overlap), warp-level
// behaviour (there is none to emulate: the kernels use no warp intrinsics), and anything
// that depends on the GPU's memory model beyond what the fences order.
#pragma once

#define MINIGAN_EMULATOR 1

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace minigan::emulator {

using Stream = void*;

inline thread_local dim3 thread_index;
inline thread_local dim3 block_index;
inline dim3 block_dim;
inline dim3 grid_dim;
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<unsigned char> dynamic_memory;
// The dynamic shared memory a block may use; tests lower it to reach smaller tiles.
inline size_t shared_limit = 227 * 1024;
inline unsigned launches = 0;

inline size_t max_shared_bytes() { return shared_limit; }

template <typename... Params, typename... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
            size_t shared, Stream, Args... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
  const unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads > 1024) {
    throw std::runtime_error(std::string(name) + ": invalid block of " +
                             std::to_string(threads) + " threads");
  }
  if (shared > shared_limit) {
    throw std::runtime_error(std::string(name) + ": asks for " + std::to_string(shared) +
                             " bytes of shared memory, more than " +
                             std::to_string(shared_limit));
  }
  grid_dim = grid;
  block_dim = block;
  std::vector<dim3> blocks;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) blocks.emplace_back(x, y, z);
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(++launches));
  for (const dim3& b : blocks) {
    dynamic_memory.assign(shared, 0xFF);
    std::barrier<> barrier(threads);
    block_barrier = &barrier;
    std::vector<std::thread> team;
    team.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
      team.emplace_back([&, t] {
        block_index = b;
        thread_index = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
        kernel(static_cast<Params>(args)...);
        barrier.arrive_and_drop();
      });
    }
    for (std::thread& member : team) member.join();
  }
}

}  // namespace minigan::emulator

#define threadIdx (::minigan::emulator::thread_index)
#define blockIdx (::minigan::emulator::block_index)
#define blockDim (::minigan::emulator::block_dim)
#define gridDim (::minigan::emulator::grid_dim)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define MINIGAN_DYNAMIC_SHARED(name) \
  unsigned char* name = ::minigan::emulator::dynamic_memory.data()

inline void __syncthreads() { ::minigan::emulator::block_barrier->arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline int atomicAdd(int* address, int value) {
  return std::atomic_ref<int>(*address).fetch_add(value, std::memory_order_acq_rel);
}
template <typename T>
T __ldcg(const T* address) {
  return *address;
}
