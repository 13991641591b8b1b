// The escalation lease (alerts/escalation_lease.h) in the PostgreSQL database: one row
// (escalation_lease, migration 3 of component "alerts", applied by PostgresAlertStore::Open),
// timed by the database's clock, so the instances' clocks need not agree.
//
//   auto lease = PostgresEscalationLease::Open(conninfo, "dispatch-a", std::chrono::seconds(5));
//   escalator.SetLease(lease->get(), std::chrono::seconds(5) / 3);
//
// Thread contract: thread-safe (one connection behind a mutex, pg::Session).
#ifndef CIT_DISPATCH_STORE_POSTGRES_ESCALATION_LEASE_H_
#define CIT_DISPATCH_STORE_POSTGRES_ESCALATION_LEASE_H_

#include <chrono>
#include <memory>
#include <string>

#include "dispatch-server/alerts/escalation_lease.h"
#include "dispatch-server/store/postgres_db.h"

namespace cit::dispatch {

class PostgresEscalationLease final : public EscalationLease {
 public:
  // `holder`: this instance's name, unique among the instances. FAILED_PRECONDITION when the
  // alerts schema has no lease yet (open the PostgresAlertStore first).
  static absl::StatusOr<std::unique_ptr<PostgresEscalationLease>> Open(
      const std::string& conninfo, std::string holder, std::chrono::milliseconds duration);

  absl::StatusOr<std::optional<uint64_t>> HoldOrTake() override;
  absl::StatusOr<bool> Holds(uint64_t token) override;
  absl::Status Release(uint64_t token) override;

 private:
  PostgresEscalationLease(std::unique_ptr<pg::Session> session, std::string holder,
                          std::chrono::milliseconds duration)
      : session_(std::move(session)), holder_(std::move(holder)), duration_(duration) {}

  std::unique_ptr<pg::Session> session_;
  const std::string holder_;
  const std::chrono::milliseconds duration_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_ESCALATION_LEASE_H_
