// Planned against actual for one run, computed from its stored records (DESIGN §8 "Audit").
//
//   std::vector<cit::v1::StoredRecord> records = ...;   // the run's vehicle, RunWindow(run)
//   cit::v1::RunReport report = BuildRunReport(run, records, alerts);
//
//   // Or in one pass over records read one at a time (memory independent of the run's length):
//   RunReportBuilder b(run);
//   for (...) b.Add(record);                              // (event time, seq) order
//   cit::v1::RunReport report = std::move(b).Finish(alerts);
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

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

// Event-time bounds of the records that belong to a run: from the planned start (or, without
// one, the dispatch or creation time) to the end of the run (open while it has not ended).
std::pair<std::optional<google::protobuf::Timestamp>, std::optional<google::protobuf::Timestamp>>
RunWindow(const cit::v1::Run& run);

// The report of one run, fed its records one at a time. The plan's geometry is prepared once
// (route in a local frame, stop rings), and each fix costs O(1) on route in the usual case: the
// corridor test starts at the route segment the previous fix was near and stops at the first
// segment within the corridor.
class RunReportBuilder {
 public:
  explicit RunReportBuilder(const cit::v1::Run& run);
  ~RunReportBuilder();
  RunReportBuilder(const RunReportBuilder&) = delete;
  RunReportBuilder& operator=(const RunReportBuilder&) = delete;

  // The next record of the run's vehicle inside RunWindow(run), in (event time, seq) order.
  void Add(const cit::v1::Record& record);
  cit::v1::RunReport Finish(std::vector<cit::v1::Alert> alerts) &&;

 private:
  struct Geometry;
  struct Visit;

  const cit::v1::Run& run_;
  cit::v1::RunReport report_;
  std::unique_ptr<Geometry> geometry_;
  std::vector<Visit> visits_;
  std::vector<bool> inside_;
  bool have_prev_ = false;
  cit::v1::Position prev_pos_;
  google::protobuf::Timestamp prev_time_;
  bool prev_off_ = false;
};

// `records` in (event time, seq) order, all of the run's vehicle and inside RunWindow(run).
cit::v1::RunReport BuildRunReport(const cit::v1::Run& run,
                                  const std::vector<cit::v1::StoredRecord>& records,
                                  std::vector<cit::v1::Alert> alerts);

// Great-circle distance in metres (spherical Earth, R = 6371008.8 m).
double HaversineM(const cit::v1::Position& a, const cit::v1::Position& b);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_RUN_REPORT_H_
