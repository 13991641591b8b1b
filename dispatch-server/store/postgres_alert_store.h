// PostgreSQL backend of AlertStore (issue 15): alerts, their append-only event log chained as
// on SQLite (alert_event_chain.h: the same hashes), and the durable id reservation, in the
// PostgreSQL database, component "alerts" in schema_migrations.
//
//   absl::StatusOr<std::unique_ptr<PostgresAlertStore>> store = PostgresAlertStore::Open(conninfo);
//   AlertManager alerts(store->get(), &clock);
//
// Schema: alerts (the latest state of each alert, replaced in place), alert_events (event_id,
// alert_id, proto, chain_index, hash: UPDATE, DELETE and TRUNCATE refused by trigger; the group
// role citwatch_server granted only SELECT and INSERT), alert_id_reservation (one row) and
// alert_log_writer (one row, the append lock). Each Append is one transaction with
// synchronous_commit on, so an event id once visible is never reused.
//
// Several instances on one database (issue 15 §3): id blocks are taken by one UPDATE of the
// reservation row (never overlapping), and each Append locks the alert_log_writer row first and
// reads the chain head from alert_events under that lock, so appends from several instances form
// one chain whose positions (chain_index) are commit order. Opened with this instance's name
// ([store] instance), Append leaves out the monitor's events for vehicles another instance owns
// (postgres_alert_fence.h) and reports them.
//
// Thread contract: thread-safe (one connection behind a mutex, pg::Session).
#ifndef CIT_DISPATCH_STORE_POSTGRES_ALERT_STORE_H_
#define CIT_DISPATCH_STORE_POSTGRES_ALERT_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "dispatch-server/alerts/alert_store.h"
#include "dispatch-server/store/alert_event_chain.h"
#include "dispatch-server/store/postgres_db.h"

namespace cit::dispatch {

class PostgresAlertStore final : public AlertStore {
 public:
  // Connects and applies pending migrations (UNAVAILABLE names the server when unreachable).
  // `instance`: this instance's name among those sharing the database (empty: alone, nothing
  // fenced); fencing reads vehicle_seq, so the records schema must exist then (PostgresStore).
  static absl::StatusOr<std::unique_ptr<PostgresAlertStore>> Open(const std::string& conninfo,
                                                                  std::string instance = "");

  using AlertStore::Append;
  absl::Status Append(std::span<const cit::v1::AlertEvent> events,
                      std::vector<FencedEvent>* fenced) override;
  absl::StatusOr<IdBlocks> ReserveIds(uint64_t alert_ids, uint64_t event_ids) override;
  absl::StatusOr<Snapshot> Load(size_t recent_events) override;
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsAfter(uint64_t after_event_id,
                                                               size_t limit) override;
  absl::StatusOr<std::vector<LoggedEvent>> EventsAfterPosition(uint64_t after_position,
                                                               size_t limit) override;
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsOfAlerts(
      std::span<const uint64_t> alert_ids) override;

  // The alert-event chain check (alert_event_chain.h) over this database, in one snapshot.
  absl::StatusOr<ChainReport> VerifyChain(std::vector<ChainAnchor> anchors = {});

 private:
  PostgresAlertStore(std::unique_ptr<pg::Session> session, std::string instance)
      : session_(std::move(session)), instance_(std::move(instance)) {}

  std::unique_ptr<pg::Session> session_;
  const std::string instance_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_ALERT_STORE_H_
