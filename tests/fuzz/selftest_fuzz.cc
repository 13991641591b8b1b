// A target with a planted bug, to test the fuzz harness itself: it crashes (a write through a
// null pointer) on inputs starting with "ZZ". Its seed is "ZY", so only a mutation finds the
// crash; the CTest test fuzz.selftest passes when libFuzzer reports it and saves the input under
// the artifact prefix (tests/fuzz/CMakeLists.txt), i.e. when a crash in any target would fail
// its test and leave the input to reproduce.
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size >= 2 && data[0] == 'Z' && data[1] == 'Z') {
    volatile int* null_pointer = nullptr;
    *null_pointer = 1;
  }
  return 0;
}
