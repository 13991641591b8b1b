// What the ingest hands to the rest of the server once a record is accepted (validated, not a
// duplicate), and the observer interface through which the monitor (run tracking, rules,
// alerts) receives it.
//
//   class Monitor final : public cit::dispatch::RecordObserver {
//    public:
//     void OnAccepted(std::span<const CommittedRecord> batch) override {
//       queue_.Push(batch.begin(), batch.end());  // enqueue only; the rules run elsewhere
//     }
//   };
//   builder.AddObserver(&monitor);  // DispatchServer::Builder, before Start()
//
// Why at acceptance and not after the commit: an alarm must reach an operator in milliseconds,
// and a group commit (up to group_commit_delay plus an fsync) would sit in front of every alert.
// The record is already on its way to the store, and it is acknowledged to the agent only after
// the commit: if the commit fails or the server dies first, the agent still holds the record and
// resends it. The ingest remembers which seqs its observers were given, so a resend after a failed
// commit is stored but not observed twice. After a restart the monitor starts empty and does see
// the resent records (they were never stored).
//
// Thread contract: OnAccepted is called on a gRPC thread with the ingest's vehicle table lock
// held, so each vehicle's records arrive in the order they were accepted: ascending seq except
// for records the agent sent ahead of its backlog (panic, door, seal events "jump the queue",
// DESIGN §4), which arrive before the older backlog fixes. Observers must only copy or enqueue
// and return: blocking there stalls every vehicle's ingest.
#ifndef CIT_DISPATCH_SERVER_STORE_COMMITTED_RECORD_H_
#define CIT_DISPATCH_SERVER_STORE_COMMITTED_RECORD_H_

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
  // store when the record is appended, 0 before (always 0 as seen by a RecordObserver).
  uint64_t chain_index = 0;
  // The record's deterministic serialisation: the body the store keeps and the chain hashes
  // (record_hash.h). The ingest makes it on the receiving stream's thread so the commit thread
  // does not; empty if nobody made it yet (a store then serialises `record` itself), and always
  // empty as seen by a RecordObserver (observers copy records; none needs these bytes).
  std::string body{};
};

// Receives every accepted record once. Register with DispatchServer::Builder::AddObserver (or
// IngestService::AddObserver) before the server starts.
class RecordObserver {
 public:
  virtual ~RecordObserver() = default;
  // `batch` is valid only during the call; records of one vehicle. Must not block.
  virtual void OnAccepted(std::span<const CommittedRecord> batch) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_STORE_COMMITTED_RECORD_H_
