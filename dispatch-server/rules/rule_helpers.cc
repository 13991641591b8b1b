#include "absl/time/time.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch::rules_internal {

std::string FormatTime(SysTime t) {
  // Whole seconds, UTC: "2026-01-15T05:20:00Z" (alert details are stored, so the format is fixed).
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromChrono(t), absl::UTCTimeZone());
}

}  // namespace cit::dispatch::rules_internal
