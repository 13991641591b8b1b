// What a rule reports when its condition holds (DESIGN §6): the input of AlertManager::Raise.
//
//   AlertSignal s{.kind = cit::v1::ALERT_KIND_PANIC, .severity = cit::v1::SEVERITY_CRITICAL,
//                 .subject = "gpio:17", .event_time = t, .details = "duress input gpio:17"};
//
// Signals are made only when an alert opens, escalates or clears, never per fix, so the string
// members cost nothing on the hot path.
//
// Thread contract: plain value type.
#ifndef CIT_DISPATCH_SERVER_ALERTS_ALERT_SIGNAL_H_
#define CIT_DISPATCH_SERVER_ALERTS_ALERT_SIGNAL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/common/clock.h"

namespace cit::dispatch {

struct LatLon {
  double lat_deg = 0;
  double lon_deg = 0;
};

struct AlertSignal {
  cit::v1::AlertKind kind = cit::v1::ALERT_KIND_UNSPECIFIED;
  cit::v1::Severity severity = cit::v1::SEVERITY_UNSPECIFIED;
  // Stop id, door/seal number, panic source; "" for the vehicle itself.
  std::string subject;
  // Event time of the record (or the deadline) that raised it.
  SysTime event_time{};
  std::optional<LatLon> position;
  std::string details;
  // Seq of the record that raised it; 0 for clock-driven alerts.
  uint64_t record_seq = 0;
  // A momentary input (a duress press) rather than a lasting condition: every signal is a new
  // occurrence of the open alert, so a second press is visible as one.
  bool momentary = false;
  // Escalation steps the condition has crossed (e.g. a deviation grown past 2x the half-width
  // is step 1). A signal with a higher step than the open alert's is an ESCALATED event even
  // when the severity stays the same: the operator must hear that it got worse.
  uint32_t escalation_step = 0;
};

// Where rules send signals. The monitor implements it per vehicle (adding vehicle, run, the
// detection time and the backfill delay); rule tests record into a vector.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // Opens the alert for (vehicle, kind, subject), or updates the open one.
  virtual void Raise(const AlertSignal& signal) = 0;
  // The condition ceased at `event_time`: the open alert records it (and stays open until an
  // operator resolves it).
  virtual void Clear(cit::v1::AlertKind kind, const std::string& subject, SysTime event_time,
                     const std::string& details) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_ALERTS_ALERT_SIGNAL_H_
