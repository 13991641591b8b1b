// A target with a planted bug, to test fuzz_driver.cc itself: it crashes (a write through a null
// pointer) on inputs starting with "ZZ". Its seed is "ZY", so only a mutation finds the crash;
// the CTest test fuzz.driver_selftest passes when the driver reports and saves that input.
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size >= 2 && data[0] == 'Z' && data[1] == 'Z') {
    volatile int* null_pointer = nullptr;
    *null_pointer = 1;
  }
  return 0;
}
