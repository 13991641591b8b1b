// Planned against actual for one run, computed from its stored records (DESIGN §8 "Audit").
//
//   std::vector<cit::v1::StoredRecord> records = ...;   // the run's vehicle, RunWindow(run)
//   cit::v1::RunReport report = BuildRunReport(run, records, alerts);
//
// Per stop: first arrival (first fix inside the zone), departure (first fix outside after it),
// dwell, early/late against the window, out-of-order visits, door openings while there. For the
// run: driven distance, planned distance, time and distance driven outside the corridor, counts,
// and every alert with its lifecycle. Pure computation: no I/O, no clock; the caller fills
// chain_head.
//
// Thread contract: free functions, no shared state.
#ifndef CIT_DISPATCH_SERVER_AUDIT_RUN_REPORT_H_
#define CIT_DISPATCH_SERVER_AUDIT_RUN_REPORT_H_

#include <optional>
#include <utility>
#include <vector>

#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

// Event-time bounds of the records that belong to a run: from the planned start (or, without
// one, the dispatch or creation time) to the end of the run (open while it has not ended).
std::pair<std::optional<google::protobuf::Timestamp>, std::optional<google::protobuf::Timestamp>>
RunWindow(const cit::v1::Run& run);

// `records` in seq order, all of the run's vehicle and inside RunWindow(run).
cit::v1::RunReport BuildRunReport(const cit::v1::Run& run,
                                  const std::vector<cit::v1::StoredRecord>& records,
                                  std::vector<cit::v1::Alert> alerts);

// Great-circle distance in metres (spherical Earth, R = 6371008.8 m).
double HaversineM(const cit::v1::Position& a, const cit::v1::Position& b);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_RUN_REPORT_H_
