#include "dispatch-server/metrics/process_memory.h"

#include <dlfcn.h>
#include <malloc.h>

#include <fstream>
#include <string>

namespace cit::dispatch {

namespace {

// "VmRSS:    123456 kB" lines of /proc/self/status.
void ReadStatus(ProcessMemory* m) {
  std::ifstream in("/proc/self/status");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key) {
    if (key == "VmRSS:" || key == "VmHWM:") {
      in >> kib >> unit;
      (key == "VmRSS:" ? m->resident_bytes : m->resident_peak_bytes) = kib * 1024;
    }
    in.ignore(1 << 20, '\n');
  }
}

// jemalloc's control interface, when the process allocates through jemalloc (the
// dispatch-server is linked with it; tests and tools are not). Looked up at run time so that
// this library does not depend on the allocator.
using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);

MallctlFn Mallctl() {
  static const MallctlFn fn = reinterpret_cast<MallctlFn>(dlsym(RTLD_DEFAULT, "mallctl"));
  return fn;
}

size_t JemallocStat(MallctlFn mallctl, const char* name) {
  size_t value = 0;
  size_t len = sizeof value;
  return mallctl(name, &value, &len, nullptr, 0) == 0 ? value : 0;
}

}  // namespace

ProcessMemory ReadProcessMemory() {
  ProcessMemory m;
  ReadStatus(&m);
  if (MallctlFn mallctl = Mallctl(); mallctl != nullptr) {
    // jemalloc caches its statistics: advancing the epoch refreshes them.
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len);
    const size_t allocated = JemallocStat(mallctl, "stats.allocated");
    const size_t resident = JemallocStat(mallctl, "stats.resident");
    m.malloc_in_use_bytes = static_cast<int64_t>(allocated);
    m.malloc_free_bytes = static_cast<int64_t>(resident > allocated ? resident - allocated : 0);
    return m;
  }
  const struct mallinfo2 mi = mallinfo2();
  m.malloc_in_use_bytes = static_cast<int64_t>(mi.uordblks + mi.hblkhd);
  m.malloc_free_bytes = static_cast<int64_t>(mi.fordblks);
  return m;
}

void RegisterProcessMemoryMetrics(MetricsRegistry& metrics, int64_t limit_bytes) {
  metrics.AddCallbackGauge("cit_process_resident_bytes", "Resident memory (VmRSS), bytes",
                           [] { return static_cast<double>(ReadProcessMemory().resident_bytes); });
  metrics.AddCallbackGauge(
      "cit_process_resident_peak_bytes", "Peak resident memory since start (VmHWM), bytes",
      [] { return static_cast<double>(ReadProcessMemory().resident_peak_bytes); });
  metrics.AddCallbackGauge(
      "cit_process_malloc_in_use_bytes", "Bytes allocated through malloc and not freed",
      [] { return static_cast<double>(ReadProcessMemory().malloc_in_use_bytes); });
  metrics.AddCallbackGauge(
      "cit_process_malloc_free_bytes",
      "Free bytes malloc keeps in its arenas (high after a burst: fragmentation)",
      [] { return static_cast<double>(ReadProcessMemory().malloc_free_bytes); });
  metrics.AddCallbackGauge("cit_process_memory_limit_bytes",
                           "Configured resident memory bound (server.memory_limit_bytes)",
                           [limit_bytes] { return static_cast<double>(limit_bytes); });
}

}  // namespace cit::dispatch
