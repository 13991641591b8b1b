// The server's own memory, read from the kernel and from glibc's allocator, for the metrics
// port and the start-up log (issue 16: RSS under a reconnect storm must stay under a bound).
//
//   ProcessMemory m = ReadProcessMemory();          // resident, peak, malloc in use / free
//   RegisterProcessMemoryMetrics(registry, limit);  // cit_process_* gauges, read at scrape
//
// Why both sources: RSS is what the bound is about; malloc's in-use and free bytes tell
// whether a high RSS is live data (connections, records in flight) or memory the allocator
// keeps after a burst (fragmentation), which need different remedies.
//
// Thread contract: free functions, safe from any thread (mallinfo2 takes the arenas' locks).
#ifndef CIT_DISPATCH_METRICS_PROCESS_MEMORY_H_
#define CIT_DISPATCH_METRICS_PROCESS_MEMORY_H_

#include <cstdint>

#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

struct ProcessMemory {
  int64_t resident_bytes = 0;       // VmRSS
  int64_t resident_peak_bytes = 0;  // VmHWM
  int64_t malloc_in_use_bytes = 0;  // glibc: allocated chunks, heap and mmap'd
  int64_t malloc_free_bytes = 0;    // glibc: free chunks kept in the arenas
};

// Zero fields for what could not be read (no /proc).
ProcessMemory ReadProcessMemory();

// cit_process_resident_bytes, cit_process_resident_peak_bytes, cit_process_malloc_in_use_bytes,
// cit_process_malloc_free_bytes and cit_process_memory_limit_bytes (`limit_bytes`, the
// configured bound; 0 = none).
void RegisterProcessMemoryMetrics(MetricsRegistry& metrics, int64_t limit_bytes);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_METRICS_PROCESS_MEMORY_H_
