// The server's own memory, read from the kernel and from the allocator, for the metrics
// port and the start-up log (issue 16: RSS under a reconnect storm must stay under a bound).
//
//   ProcessMemory m = ReadProcessMemory();          // resident, peak, malloc in use / free
//   RegisterProcessMemoryMetrics(registry, limit);  // cit_process_* gauges, read at scrape
//
// Why both sources: RSS is what the bound is about; malloc's in-use and free bytes tell
// whether a high RSS is live data (connections, records in flight) or memory the allocator
// keeps after a burst (fragmentation), which need different remedies.
//
// The allocator is jemalloc in the dispatch-server (found at run time through its mallctl),
// glibc's malloc elsewhere (tests, tools).
//
// Thread contract: free functions, safe from any thread (both allocators lock their statistics).
#ifndef CIT_DISPATCH_METRICS_PROCESS_MEMORY_H_
#define CIT_DISPATCH_METRICS_PROCESS_MEMORY_H_

#include <cstdint>

#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

struct ProcessMemory {
  int64_t resident_bytes = 0;       // VmRSS
  int64_t resident_peak_bytes = 0;  // VmHWM
  // glibc: allocated chunks, heap and mmap'd; jemalloc: stats.allocated.
  int64_t malloc_in_use_bytes = 0;
  // glibc: free chunks kept in the arenas; jemalloc: stats.resident - stats.allocated (pages
  // it holds resident beyond what is allocated, its metadata included).
  int64_t malloc_free_bytes = 0;
};

// Zero fields for what could not be read (no /proc).
ProcessMemory ReadProcessMemory();

// cit_process_resident_bytes, cit_process_resident_peak_bytes, cit_process_malloc_in_use_bytes,
// cit_process_malloc_free_bytes and cit_process_memory_limit_bytes (`limit_bytes`, the
// configured bound; 0 = none).
void RegisterProcessMemoryMetrics(MetricsRegistry& metrics, int64_t limit_bytes);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_METRICS_PROCESS_MEMORY_H_
