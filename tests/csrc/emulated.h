// Shared by the tests/csrc/emulated_*.cpp files: the emulator, and `guarded`, which turns
// a C++ exception into the (status, message) that the ctypes callers in conftest.py read.
#pragma once

#include <cstddef>
#include <cstdio>
#include <exception>

#include "cuda/emulator.h"

template <typename Body>
int guarded(char* error, size_t size, Body body) {
  try {
    body();
    return 0;
  } catch (const std::exception& err) {
    std::snprintf(error, size, "%s", err.what());
    return 1;
  }
}

// body(T{}) with T = double when is_double, else float: one call site for both types.
template <typename Body>
void with_type(int is_double, Body body) {
  if (is_double) {
    body(double{});
  } else {
    body(float{});
  }
}

// Lower (or restore) the emulated shared memory per block, so tests reach the smaller
// tiles that a device with less shared memory gets.
extern "C" void emulated_set_shared_limit(size_t bytes) {
  ::minigan::emulator::shared_limit = bytes;
}
