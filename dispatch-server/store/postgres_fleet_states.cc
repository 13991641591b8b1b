#include "dispatch-server/store/postgres_fleet_states.h"

#include <algorithm>
#include <limits>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

// Released versions are never edited. Mutable: each vehicle's row is replaced by its owner.
const std::string kFleetStatesSchemaSql = absl::StrCat(pg::kServerRoleSql, R"sql(
CREATE TABLE fleet_states (
  vehicle_id    text   PRIMARY KEY,
  owner         text   NOT NULL,
  fencing_token bigint NOT NULL,
  state         bytea  NOT NULL,
  updated_at_us bigint NOT NULL
);
CREATE INDEX fleet_states_by_update ON fleet_states (updated_at_us, vehicle_id);
REVOKE ALL ON fleet_states FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON fleet_states TO citwatch_server;
)sql");

const pg::Migration kMigrations[] = {
    {1, "fleet view shared by the instances: each owner's latest vehicle states",
     kFleetStatesSchemaSql},
};

// The database's clock in microseconds since the epoch.
constexpr char kDbNowUs[] = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

int64_t ClampI64(uint64_t v) {
  return static_cast<int64_t>(std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresFleetStates>> PostgresFleetStates::Open(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  absl::Status migrated = (*session)->Run("migrating fleet_states", [](pqxx::connection& c) {
    return pg::ApplyMigrations(c, "fleet_states", kMigrations);
  });
  if (!migrated.ok()) return migrated;
  return std::unique_ptr<PostgresFleetStates>(new PostgresFleetStates(*std::move(session)));
}

absl::StatusOr<std::vector<std::string>> PostgresFleetStates::Publish(
    const std::string& instance, std::span<const FleetStateWrite> rows) {
  if (rows.empty()) return std::vector<std::string>();
  if (rows.size() > kMaxRowsPerPublish) {
    return absl::InvalidArgumentError(absl::StrCat("publishing ", rows.size(),
                                                   " fleet states at once; split them in batches "
                                                   "of at most ",
                                                   kMaxRowsPerPublish));
  }
  return session_->Run(
      "publishing fleet states",
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<std::string>> {
        pqxx::work w(c);
        // Publishers one at a time, each stamping its rows after the previous one's (and at least
        // 1 us later, even if the database's clock steps back): rows become visible in the order of
        // their updated_at_us, so a reader's cursor never passes a row still being written.
        w.exec("SELECT pg_advisory_xact_lock(hashtext('citwatch fleet_states'))");
        std::string values;
        for (const FleetStateWrite& r : rows) {
          absl::StrAppend(
              &values, values.empty() ? "" : ",", "(", w.quote(r.vehicle_id), ",",
              ClampI64(r.fencing_token), "::bigint,",
              w.quote_raw(reinterpret_cast<const unsigned char*>(r.state.data()), r.state.size()),
              ")");
        }
        // Joined with the ownership row: only the vehicle's current owner under its current token
        // writes. The ON CONFLICT condition is checked on the newest row version, so a write that
        // read the ownership before a takeover committed cannot replace the new owner's row either.
        const std::string sql = absl::StrCat(
            "INSERT INTO fleet_states (vehicle_id, owner, fencing_token, state, updated_at_us) "
            "SELECT v.vehicle_id, v.owner, v.lease_token, x.state, GREATEST(",
            kDbNowUs,
            ", (SELECT COALESCE(MAX(updated_at_us), 0) + 1 FROM fleet_states)) FROM (VALUES ",
            values,
            ") AS x(vehicle_id, token, state) JOIN vehicle_seq v ON v.vehicle_id = x.vehicle_id "
            "AND v.owner = ",
            w.quote(instance),
            " AND v.lease_token = x.token "
            "ON CONFLICT (vehicle_id) DO UPDATE SET owner = EXCLUDED.owner, "
            "fencing_token = EXCLUDED.fencing_token, state = EXCLUDED.state, "
            "updated_at_us = EXCLUDED.updated_at_us "
            "WHERE fleet_states.fencing_token <= EXCLUDED.fencing_token RETURNING vehicle_id");
        const pqxx::result written = w.exec(sql);
        w.commit();
        std::vector<std::string> out;
        out.reserve(written.size());
        for (const pqxx::row& row : written) out.push_back(row[0].as<std::string>());
        return out;
      });
}

absl::StatusOr<std::vector<FleetStateRow>> PostgresFleetStates::ReadAfter(
    const FleetStateCursor& cursor, size_t limit) {
  return session_->Run(
      "reading fleet states",
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<FleetStateRow>> {
        pqxx::read_transaction t(c);
        const pqxx::result rows = t.exec_params(
            absl::StrCat("SELECT vehicle_id, owner, fencing_token, state, updated_at_us, (",
                         kDbNowUs,
                         " - updated_at_us) / 1e6::float8 FROM fleet_states "
                         "WHERE (updated_at_us, vehicle_id) > ($1, $2) "
                         "ORDER BY updated_at_us, vehicle_id LIMIT $3"),
            cursor.updated_at_us, cursor.vehicle_id, static_cast<int64_t>(limit));
        std::vector<FleetStateRow> out;
        out.reserve(rows.size());
        for (const pqxx::row& row : rows) {
          out.push_back(FleetStateRow{row[0].as<std::string>(), row[1].as<std::string>(),
                                      row[2].as<uint64_t>(), pg::Bytes(row[3]),
                                      row[4].as<int64_t>(), row[5].as<double>()});
        }
        return out;
      });
}

}  // namespace cit::dispatch
