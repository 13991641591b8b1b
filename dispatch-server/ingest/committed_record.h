// What the ingest hands to the rest of the server once records are durably stored, and the
// observer interface through which the monitor (run tracking, rules, alerts) receives them.
//
//   class Monitor final : public cit::dispatch::CommittedRecordObserver {
//    public:
//     void OnCommitted(std::span<const CommittedRecord> batch) override {
//       queue_.Push(batch.begin(), batch.end());  // enqueue only; the rules run elsewhere
//     }
//   };
//   builder.AddObserver(&monitor);  // DispatchServer::Builder, before Start()
//
// Thread contract: OnCommitted is called on the ingest's single commit thread, after the
// transaction holding the records has committed, once per group commit. Within one call and
// across calls each vehicle's records arrive in the order they were committed, which is
// ascending seq except for records the agent sent ahead of its backlog (panic, door, seal events
// "jump the queue", DESIGN §4): those arrive before the older backlog fixes. Observers must only
// copy or enqueue and return: blocking there stalls every vehicle's acks.
#ifndef CIT_DISPATCH_INGEST_COMMITTED_RECORD_H_
#define CIT_DISPATCH_INGEST_COMMITTED_RECORD_H_

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "cit/v1/telemetry.pb.h"

namespace cit::dispatch {

// One record as stored: the vehicle it belongs to (from the client certificate, never from the
// message), the record exactly as the agent sent it, and when the server received it.
struct CommittedRecord {
  // Authenticated vehicle id (certificate CN/SAN; Hello in --insecure-dev mode).
  std::string vehicle_id;
  // The agent's record. record.vehicle_id() may be empty; use `vehicle_id` above.
  cit::v1::Record record;
  // Server wall clock (UTC) when the batch holding the record was read off the stream.
  std::chrono::system_clock::time_point server_received_time;
  // Position of the record in its vehicle's hash chain (1-based, commit order); set by the
  // store when the record is appended, 0 before.
  uint64_t chain_index = 0;
};

// Receives every batch of records after it is committed. Register with
// DispatchServer::Builder::AddObserver (or IngestService::AddObserver) before the server starts.
class CommittedRecordObserver {
 public:
  virtual ~CommittedRecordObserver() = default;
  // `batch` is valid only during the call. Called from the commit thread; must not block.
  virtual void OnCommitted(std::span<const CommittedRecord> batch) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_INGEST_COMMITTED_RECORD_H_
