#include "dispatch-server/store/sqlite_replay_reader.h"

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dispatch-server/store/sqlite_snapshot_store.h"

namespace cit::dispatch {
namespace {

int64_t ToUnixNs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point FromUnixNs(int64_t ns) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(ns)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteReplayReader>> SqliteReplayReader::Open(
    const std::filesystem::path& path) {
  sqlite::OpenOptions o;
  o.read_only = true;
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path, o);
  if (!db.ok()) return db.status();
  // Pages straight from the OS cache instead of a read() copy each.
  if (absl::Status s = (*db)->Exec("PRAGMA mmap_size=1073741824"); !s.ok()) return s;
  return std::unique_ptr<SqliteReplayReader>(new SqliteReplayReader(std::move(*db)));
}

absl::Status SqliteReplayReader::ForEach(std::string_view vehicle_id,
                                         std::chrono::system_clock::time_point event_from,
                                         const std::function<void(const StoredForReplay&)>& fn) {
  // Where the window starts: the first record at or after `event_from`.
  absl::StatusOr<sqlite::Statement> first = db_->Prepare(
      "SELECT seq FROM records WHERE vehicle_id = ?1 AND event_time_ns >= ?2 "
      "ORDER BY event_time_ns, seq LIMIT 1");
  if (!first.ok()) return first.status();
  first->Bind(1, vehicle_id).Bind(2, ToUnixNs(event_from));
  absl::StatusOr<bool> row = first->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::OkStatus();
  const int64_t from_seq = first->ColumnInt64(0);
  // In primary-key (seq) order, which is the table's own order: one sequential pass. Chain order
  // differs only where records jumped the agent's queue; those few are put back in place.
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "SELECT chain_index, server_time_ns, body FROM records WHERE vehicle_id = ?1 AND "
      "seq >= ?2 ORDER BY seq");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id).Bind(2, from_seq);
  struct Row {
    uint64_t chain_index;
    int64_t server_time_ns;
    std::string body;
  };
  std::vector<Row> rows;
  bool sorted = true;
  while (true) {
    row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const void* blob = sqlite3_column_blob(q->handle(), 2);
    const int size = sqlite3_column_bytes(q->handle(), 2);
    rows.push_back(Row{static_cast<uint64_t>(q->ColumnInt64(0)), q->ColumnInt64(1),
                       std::string(static_cast<const char*>(blob), static_cast<size_t>(size))});
    if (rows.size() > 1 && rows[rows.size() - 2].chain_index > rows.back().chain_index) {
      sorted = false;
    }
  }
  if (!sorted) {
    std::sort(rows.begin(), rows.end(),
              [](const Row& a, const Row& b) { return a.chain_index < b.chain_index; });
  }
  StoredForReplay r;
  for (const Row& x : rows) {
    r.chain_index = x.chain_index;
    r.server_received_time = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(x.server_time_ns)));
    r.body = x.body;
    fn(r);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::chrono::system_clock::time_point>>
SqliteReplayReader::LastReceivedBefore(std::string_view vehicle_id,
                                       std::chrono::system_clock::time_point before) {
  // Newest first: what this process stored since it started is skipped, a few rows at most.
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "SELECT server_time_ns FROM records WHERE vehicle_id = ?1 ORDER BY chain_index DESC");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id);
  const int64_t before_ns = ToUnixNs(before);
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::nullopt;
    const int64_t ns = q->ColumnInt64(0);
    if (ns < before_ns) {
      return std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::nanoseconds(ns)));
    }
  }
}

absl::StatusOr<std::vector<std::string>> SqliteReplayReader::VehiclesHeardSince(
    std::chrono::system_clock::time_point since) {
  absl::StatusOr<sqlite::Statement> vehicles =
      db_->Prepare("SELECT vehicle_id FROM vehicle_seq ORDER BY vehicle_id");
  if (!vehicles.ok()) return vehicles.status();
  absl::StatusOr<sqlite::Statement> newest = db_->Prepare(
      "SELECT event_time_ns FROM records WHERE vehicle_id = ?1 ORDER BY event_time_ns DESC "
      "LIMIT 1");
  if (!newest.ok()) return newest.status();
  std::vector<std::string> out;
  while (true) {
    absl::StatusOr<bool> row = vehicles->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string id = vehicles->ColumnText(0);
    newest->Reset().Bind(1, id);
    absl::StatusOr<bool> found = newest->Step();
    if (!found.ok()) return found.status();
    if (*found && newest->ColumnInt64(0) >= ToUnixNs(since)) out.push_back(std::move(id));
  }
  return out;
}

absl::StatusOr<std::optional<StoredSnapshot>> SqliteReplayReader::Snapshot(
    std::string_view vehicle_id) {
  return ReadSnapshot(*db_, vehicle_id);
}

absl::StatusOr<std::optional<ChainPosition>> SqliteReplayReader::Locate(std::string_view vehicle_id,
                                                                        uint64_t seq) {
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "SELECT chain_index, server_time_ns FROM records WHERE vehicle_id = ?1 AND seq = ?2");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id).Bind(2, seq);
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  return ChainPosition{static_cast<uint64_t>(q->ColumnInt64(0)), FromUnixNs(q->ColumnInt64(1))};
}

absl::Status SqliteReplayReader::ForEachAfter(
    std::string_view vehicle_id, uint64_t chain_index,
    const std::function<void(const StoredForReplay&)>& fn) {
  // A snapshot's tail is minutes of records: the chain index is the direct way in.
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "SELECT chain_index, server_time_ns, body FROM records WHERE vehicle_id = ?1 AND "
      "chain_index > ?2 ORDER BY chain_index");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id).Bind(2, chain_index);
  StoredForReplay r;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
    const void* blob = sqlite3_column_blob(q->handle(), 2);
    const int size = sqlite3_column_bytes(q->handle(), 2);
    r.chain_index = static_cast<uint64_t>(q->ColumnInt64(0));
    r.server_received_time = FromUnixNs(q->ColumnInt64(1));
    r.body = std::string_view(static_cast<const char*>(blob), static_cast<size_t>(size));
    fn(r);
  }
}

}  // namespace cit::dispatch
