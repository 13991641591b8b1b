#include "dispatch-server/store/postgres_replay_reader.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <utility>

#include "dispatch-server/store/postgres_snapshot_store.h"

namespace cit::dispatch {
namespace {

using Clock = std::chrono::system_clock;

int64_t ToUnixNs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::time_point FromUnixNs(int64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

// Hands a row (chain_index, server_time_ns, body) to `fn`.
void ReplayRow(const pqxx::row& row, const std::function<void(const StoredForReplay&)>& fn) {
  const pqxx::binarystring body(row[2]);
  StoredForReplay r;
  r.chain_index = row[0].as<uint64_t>();
  r.server_received_time = FromUnixNs(row[1].as<int64_t>());
  r.body = std::string_view(reinterpret_cast<const char*>(body.data()), body.size());
  fn(r);
}

// Hands each row to `fn`, in the result's order.
void Replay(const pqxx::result& rows, const std::function<void(const StoredForReplay&)>& fn) {
  for (const pqxx::row& row : rows) ReplayRow(row, fn);
}

// Hands each row to `fn` in chain order (column 0), whatever the result's order.
void ReplayInChainOrder(const pqxx::result& rows,
                        const std::function<void(const StoredForReplay&)>& fn) {
  std::vector<std::pair<uint64_t, pqxx::result::size_type>> order;
  order.reserve(static_cast<size_t>(rows.size()));
  for (pqxx::result::size_type i = 0; i < rows.size(); ++i) {
    order.emplace_back(rows[i][0].as<uint64_t>(), i);
  }
  std::sort(order.begin(), order.end());
  for (const auto& [chain_index, i] : order) ReplayRow(rows[i], fn);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresReplayReader>> PostgresReplayReader::Open(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  return std::unique_ptr<PostgresReplayReader>(new PostgresReplayReader(*std::move(session)));
}

absl::Status PostgresReplayReader::ForEach(std::string_view vehicle_id,
                                           Clock::time_point event_from,
                                           const std::function<void(const StoredForReplay&)>& fn) {
  return session_->Run("reading records to replay", [&](pqxx::connection& c) {
    pqxx::read_transaction t(c);
    t.exec(kPgRecordScanSettingsSql);
    ReplayInChainOrder(
        t.exec_params(kPgReplayFromSql, std::string(vehicle_id), ToUnixNs(event_from)), fn);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<Clock::time_point>> PostgresReplayReader::LastReceivedBefore(
    std::string_view vehicle_id, Clock::time_point before) {
  return session_->Run(
      "reading records to replay",
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<Clock::time_point>> {
        pqxx::read_transaction t(c);
        pqxx::result r = t.exec_params(
            "SELECT server_time_ns FROM records WHERE vehicle_id = $1 AND server_time_ns < $2 "
            "ORDER BY chain_index DESC LIMIT 1",
            std::string(vehicle_id), ToUnixNs(before));
        if (r.empty()) return std::nullopt;
        return FromUnixNs(r[0][0].as<int64_t>());
      });
}

absl::StatusOr<std::optional<StoredSnapshot>> PostgresReplayReader::Snapshot(
    std::string_view vehicle_id) {
  return session_->Run("reading a monitor snapshot",
                       [&](pqxx::connection& c) -> absl::StatusOr<std::optional<StoredSnapshot>> {
                         pqxx::read_transaction t(c);
                         return ReadPostgresSnapshot(t, vehicle_id);
                       });
}

absl::StatusOr<std::optional<ChainPosition>> PostgresReplayReader::Locate(
    std::string_view vehicle_id, uint64_t seq) {
  return session_->Run(
      "locating a record",
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<ChainPosition>> {
        pqxx::read_transaction t(c);
        t.exec(kPgRecordScanSettingsSql);
        pqxx::result r =
            t.exec_params(kPgLocateSql, std::string(vehicle_id), static_cast<int64_t>(seq));
        if (r.empty() || r[0][2].as<uint64_t>() != seq) return std::nullopt;
        return ChainPosition{r[0][0].as<uint64_t>(), FromUnixNs(r[0][1].as<int64_t>())};
      });
}

absl::Status PostgresReplayReader::ForEachAfter(
    std::string_view vehicle_id, uint64_t chain_index,
    const std::function<void(const StoredForReplay&)>& fn) {
  return session_->Run("reading records to replay", [&](pqxx::connection& c) {
    pqxx::read_transaction t(c);
    Replay(t.exec_params("SELECT chain_index, server_time_ns, body FROM records WHERE "
                         "vehicle_id = $1 AND chain_index > $2 ORDER BY chain_index",
                         std::string(vehicle_id), static_cast<int64_t>(chain_index)),
           fn);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::string>> PostgresReplayReader::VehiclesHeardSince(
    Clock::time_point since) {
  return session_->Run(
      "listing vehicles heard",
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<std::string>> {
        pqxx::read_transaction t(c);
        t.exec(kPgRecordScanSettingsSql);
        std::vector<std::string> out;
        for (const pqxx::row& row : t.exec_params(kPgVehiclesHeardSinceSql, ToUnixNs(since))) {
          out.push_back(row[0].as<std::string>());
        }
        std::sort(out.begin(), out.end());  // byte order, as SQLite's reader
        return out;
      });
}

}  // namespace cit::dispatch
