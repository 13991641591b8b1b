#include "dispatch-server/store/postgres_escalation_lease.h"

#include <pqxx/pqxx>

namespace cit::dispatch {

absl::StatusOr<std::unique_ptr<PostgresEscalationLease>> PostgresEscalationLease::Open(
    const std::string& conninfo, std::string holder, std::chrono::milliseconds duration) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  absl::Status ready =
      (*session)->Run("reading the escalation lease", [](pqxx::connection& c) -> absl::Status {
        pqxx::read_transaction t(c);
        if (t.exec("SELECT 1 FROM escalation_lease WHERE singleton = 1").empty()) {
          return absl::FailedPreconditionError(
              "escalation_lease has no row: open the alert store (it migrates) first");
        }
        return absl::OkStatus();
      });
  if (!ready.ok()) return ready;
  return std::unique_ptr<PostgresEscalationLease>(
      new PostgresEscalationLease(*std::move(session), std::move(holder), duration));
}

absl::StatusOr<std::optional<uint64_t>> PostgresEscalationLease::HoldOrTake() {
  return session_->Run(
      "taking the escalation lease",
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<uint64_t>> {
        pqxx::work w(c);
        // One statement on the one row: two instances taking an expired lease at once are
        // serialised by its row lock, and the second finds it held (READ COMMITTED re-checks
        // the WHERE on the row the first wrote). Renewing keeps the token; taking it (also
        // back after it expired) makes a new one, so a holder that lapsed is fenced.
        pqxx::result r = w.exec_params(
            "UPDATE escalation_lease SET "
            "  token = CASE WHEN holder = $1 AND expires_at > clock_timestamp() THEN token "
            "          ELSE token + 1 END, "
            "  holder = $1, "
            "  expires_at = clock_timestamp() + $2 * interval '1 millisecond' "
            "WHERE singleton = 1 AND (holder = $1 OR expires_at <= clock_timestamp()) "
            "RETURNING token",
            holder_, static_cast<int64_t>(duration_.count()));
        w.commit();
        if (r.empty()) return std::optional<uint64_t>();
        return std::optional<uint64_t>(r[0][0].as<uint64_t>());
      });
}

absl::StatusOr<bool> PostgresEscalationLease::Holds(uint64_t token) {
  return session_->Run("checking the escalation lease",
                       [&](pqxx::connection& c) -> absl::StatusOr<bool> {
                         pqxx::read_transaction t(c);
                         return !t.exec_params(
                                      "SELECT 1 FROM escalation_lease WHERE singleton = 1 AND "
                                      "holder = $1 AND token = $2 AND "
                                      "expires_at > clock_timestamp()",
                                      holder_, static_cast<int64_t>(token))
                                     .empty();
                       });
}

absl::Status PostgresEscalationLease::Release(uint64_t token) {
  return session_->Run("releasing the escalation lease", [&](pqxx::connection& c) {
    pqxx::work w(c);
    w.exec_params(
        "UPDATE escalation_lease SET expires_at = '-infinity' "
        "WHERE singleton = 1 AND holder = $1 AND token = $2",
        holder_, static_cast<int64_t>(token));
    w.commit();
    return absl::OkStatus();
  });
}

}  // namespace cit::dispatch
