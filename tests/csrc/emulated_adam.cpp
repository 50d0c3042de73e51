// csrc/cuda/adam.cuh on CPU threads, for tests/csrc/test_adam_emulated.py. A step of
// `count` parameters arrives as five tables of `count` pointers (float for is_double = 0,
// double for 1; a null max_exp_avg_sqs entry without amsgrad), their sizes, their bias
// corrections as `count` pairs (1 - beta1^t, 1 - beta2^t), the group's scalars as 5
// doubles in the order of AdamStep (lr, beta1, beta2, eps, weight_decay) and its flags as
// 2 ints (decoupled_weight_decay, maximize).
#include <vector>

#include "emulated.h"

#include "cuda/adam.cuh"

namespace {

minigan::cuda::AdamStep adam_step_of(const double* scalars, const int* flags) {
  return {scalars[0], scalars[1], scalars[2], scalars[3], scalars[4], flags[0] != 0,
          flags[1] != 0};
}

template <typename T>
std::vector<minigan::cuda::AdamTensor<T>> tensors_of(int64_t count, void* const* params,
                                                     void* const* grads, void* const* exp_avgs,
                                                     void* const* exp_avg_sqs,
                                                     void* const* max_exp_avg_sqs,
                                                     const int64_t* sizes,
                                                     const double* corrections) {
  std::vector<minigan::cuda::AdamTensor<T>> tensors(count);
  for (int64_t k = 0; k < count; ++k) {
    tensors[k] = {static_cast<T*>(params[k]),      static_cast<const T*>(grads[k]),
                  static_cast<T*>(exp_avgs[k]),    static_cast<T*>(exp_avg_sqs[k]),
                  static_cast<T*>(max_exp_avg_sqs[k]), sizes[k],
                  corrections[2 * k],              corrections[2 * k + 1]};
  }
  return tensors;
}

}  // namespace

// The host launcher adam_step: its own runs of blocks, one launch per 32 parameters.
extern "C" int emulated_adam_step(int is_double, int64_t count, void* const* params,
                                  void* const* grads, void* const* exp_avgs,
                                  void* const* exp_avg_sqs, void* const* max_exp_avg_sqs,
                                  const int64_t* sizes, const double* corrections,
                                  const double* scalars, const int* flags, char* error,
                                  size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      const auto tensors = tensors_of<T>(count, params, grads, exp_avgs, exp_avg_sqs,
                                         max_exp_avg_sqs, sizes, corrections);
      minigan::cuda::adam_step(tensors.data(), count, adam_step_of(scalars, flags), 0);
    });
  });
}

// adam_step_kernel launched once on `count` <= 32 parameters with blocks[k] blocks for
// parameter k, whatever its size: fewer blocks than it needs make every thread of its run
// go round the grid-stride loop.
extern "C" int emulated_adam_step_kernel(int is_double, int64_t count, void* const* params,
                                         void* const* grads, void* const* exp_avgs,
                                         void* const* exp_avg_sqs,
                                         void* const* max_exp_avg_sqs, const int64_t* sizes,
                                         const double* corrections, const double* scalars,
                                         const int* flags, const int64_t* blocks, char* error,
                                         size_t size) {
  return guarded(error, size, [&] {
    with_type(is_double, [&](auto zero) {
      using T = decltype(zero);
      using A = typename minigan::cuda::Accumulator<T>::type;
      const auto tensors = tensors_of<T>(count, params, grads, exp_avgs, exp_avg_sqs,
                                         max_exp_avg_sqs, sizes, corrections);
      const auto list =
          minigan::cuda::adam_tensor_list(tensors.data(), static_cast<int>(count), blocks);
      minigan::cuda::launch("adam_step_kernel", minigan::cuda::adam_step_kernel<T>,
                            dim3(list.block_end[count - 1]), dim3(minigan::cuda::kAdamThreads),
                            0, nullptr, list,
                            minigan::cuda::adam_coefficients<A>(adam_step_of(scalars, flags)));
    });
  });
}

// How many launches the emulator has run so far (every launch with at least one block).
extern "C" unsigned emulated_launches() { return ::minigan::emulator::launches; }

// The run of blocks adam_step gives a parameter of n elements.
extern "C" int64_t emulated_adam_blocks(int64_t n) { return minigan::cuda::adam_blocks(n); }

// How many parameters one launch takes.
extern "C" int emulated_adam_list_capacity() { return minigan::cuda::kAdamListCapacity; }
