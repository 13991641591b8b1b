// Which instance runs the escalation policy when several dispatch-servers share one database
// (issue 15 §3): a lease held by one instance at a time, renewed while it lives, with a fencing
// token that grows at every change of holder. The Escalator (notify/escalator.h) escalates only
// while it holds the lease and checks its token before each step; PostgresEscalationLease
// (store/postgres_escalation_lease.h) keeps it in the database. With one instance there is no
// lease: the escalator always runs.
//
// Why a lease rather than claiming each step in the alert-event log: an alert event is made and
// shown first and stored a moment later (alert_manager.h), so a step cannot be refused at its
// append without taking back an event watchers saw; and an instance that dies holding the lease
// simply stops renewing it, so the survivor takes it after it expires and makes every step
// still due (a step the dead one made but never stored is made again, one it stored is followed
// and not repeated).
//
// Thread contract: implementations are thread-safe.
#ifndef CIT_DISPATCH_SERVER_ALERTS_ESCALATION_LEASE_H_
#define CIT_DISPATCH_SERVER_ALERTS_ESCALATION_LEASE_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"

namespace cit::dispatch {

class EscalationLease {
 public:
  virtual ~EscalationLease() = default;
  // Renews the lease if this instance holds it, takes it if it is free or expired; returns the
  // fencing token while this instance holds it, nullopt while another instance does.
  virtual absl::StatusOr<std::optional<uint64_t>> HoldOrTake() = 0;
  // Whether this instance still holds the lease under `token` (not expired, not taken over).
  virtual absl::StatusOr<bool> Holds(uint64_t token) = 0;
  // Gives the lease up if this instance holds it under `token` (a graceful stop), so another
  // instance takes it at its next tick instead of after the expiry.
  virtual absl::Status Release(uint64_t token) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_ALERTS_ESCALATION_LEASE_H_
