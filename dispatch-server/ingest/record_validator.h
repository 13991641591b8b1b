// Edge validation of agent records (DESIGN §9): every record is checked once, here, before it
// can reach the store or the rules. A failing record is refused with a stable RejectReason code.
//
//   ValidationLimits limits;                      // defaults: event time in [2000-01-01, now+24h]
//   std::optional<Rejection> r = ValidateRecord(record, "CIT-0001", now, limits);
//   if (r) { /* log to the reject table, send RecordRejected{seq, r->reason, r->detail} */ }
//
// Not checked here: seq order and duplicates (the ingest session knows the stream's state).
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_INGEST_RECORD_VALIDATOR_H_
#define CIT_DISPATCH_INGEST_RECORD_VALIDATOR_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "cit/v1/telemetry.pb.h"

namespace cit::dispatch {

struct ValidationLimits {
  // Earliest acceptable event_time (UTC seconds since the epoch); default 2000-01-01T00:00:00Z.
  int64_t min_event_time_unix_s = 946'684'800;
  // How far event_time may lie ahead of the server's clock.
  std::chrono::seconds max_future{24 * 3600};
  // Longest string field (panic source, badge id, gnss detail), bytes.
  size_t max_string_bytes = 256;
};

struct Rejection {
  cit::v1::RejectReason reason;
  std::string detail;
};

// `authenticated_vehicle` is the stream's vehicle; a record naming another vehicle is refused
// with WRONG_VEHICLE (an empty record.vehicle_id means "the stream's vehicle").
std::optional<Rejection> ValidateRecord(const cit::v1::Record& record,
                                        std::string_view authenticated_vehicle,
                                        std::chrono::system_clock::time_point now,
                                        const ValidationLimits& limits);

// Vehicle ids: 1..64 characters of [A-Za-z0-9._-], starting with a letter or digit (the
// characters deploy/make-certs.sh accepts).
bool IsValidVehicleId(std::string_view id);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_INGEST_RECORD_VALIDATOR_H_
