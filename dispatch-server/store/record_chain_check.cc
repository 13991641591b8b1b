#include "dispatch-server/store/record_chain_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cit/v1/telemetry.pb.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

int64_t TimestampNs(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000'000 + ts.nanos();
}

// The first stored column that disagrees with the hashed body, or "" when all agree.
std::string ColumnMismatch(const sqlite::Statement& q, uint64_t seq, const cit::v1::Record& rec) {
  // Columns: 0 seq, 1 chain_index, 2 event_time_ns, 3 agent_time_ns, 4 agent_monotonic_ns,
  // 5 agent_boot, 6 server_time_ns, 7 kind, 8 lat_deg, 9 lon_deg, 10 body, 11 hash.
  if (rec.seq() != seq) return fmt::format("seq (column {}, body {})", seq, rec.seq());
  if (TimestampNs(rec.event_time()) != q.ColumnInt64(2)) return "event_time_ns";
  const std::optional<int64_t> agent_ns =
      rec.has_agent_time() ? std::optional<int64_t>(TimestampNs(rec.agent_time())) : std::nullopt;
  if (agent_ns != q.ColumnOptionalInt64(3)) return "agent_time_ns";
  if (static_cast<int64_t>(rec.agent_monotonic_ns()) != q.ColumnInt64(4)) {
    return "agent_monotonic_ns";
  }
  if (static_cast<int64_t>(rec.agent_boot()) != q.ColumnInt64(5)) return "agent_boot";
  if (static_cast<int64_t>(rec.payload_case()) != q.ColumnInt64(7)) {
    return fmt::format("kind (column {}, body {})", q.ColumnInt64(7),
                       static_cast<int>(rec.payload_case()));
  }
  std::optional<double> lat, lon;
  if (rec.has_fix()) {
    lat = rec.fix().lat_deg();
    lon = rec.fix().lon_deg();
  }
  // Exact comparison: the column holds the very double that was in the body.
  if (lat != q.ColumnOptionalDouble(8)) {
    return fmt::format("lat_deg (column {}, body {})",
                       q.ColumnIsNull(8) ? "NULL" : fmt::format("{:.7f}", q.ColumnDouble(8)),
                       lat ? fmt::format("{:.7f}", *lat) : "none");
  }
  if (lon != q.ColumnOptionalDouble(9)) {
    return fmt::format("lon_deg (column {}, body {})",
                       q.ColumnIsNull(9) ? "NULL" : fmt::format("{:.7f}", q.ColumnDouble(9)),
                       lon ? fmt::format("{:.7f}", *lon) : "none");
  }
  return "";
}

// Seqs that count as handled without a stored record: kept reject samples and declared gaps.
absl::StatusOr<std::set<uint64_t>> ExplainedSeqs(sqlite::Database& db, std::string_view vehicle,
                                                 uint64_t through) {
  std::set<uint64_t> out;
  absl::StatusOr<sqlite::Statement> rej =
      db.Prepare("SELECT seq FROM rejects WHERE vehicle_id = ?1 AND seq > 0 AND seq <= ?2");
  if (!rej.ok()) return rej.status();
  rej->Bind(1, vehicle).Bind(2, through);
  while (true) {
    absl::StatusOr<bool> row = rej->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.insert(static_cast<uint64_t>(rej->ColumnInt64(0)));
  }
  absl::StatusOr<sqlite::Statement> gaps = db.Prepare(
      "SELECT first_seq, last_seq FROM seq_gaps WHERE vehicle_id = ?1 AND first_seq <= ?2");
  if (!gaps.ok()) return gaps.status();
  gaps->Bind(1, vehicle).Bind(2, through);
  while (true) {
    absl::StatusOr<bool> row = gaps->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const uint64_t last = std::min<uint64_t>(gaps->ColumnInt64(1), through);
    for (uint64_t s = static_cast<uint64_t>(gaps->ColumnInt64(0)); s <= last; ++s) out.insert(s);
  }
  return out;
}

// Where a walk starts: after chain position `position`, whose head and seq a signed checkpoint
// gave (position 0: the genesis).
struct WalkStart {
  uint64_t position = 0;
  std::string head = kChainGenesis;
  uint64_t seq = 0;
};

// The whole-chain walk when `stop` is nullopt (then the stored chain-head row is compared at the
// end); otherwise the entries after `start` up to chain position `*stop`.
absl::StatusOr<ChainReport> WalkRecordChain(sqlite::Database& db, std::string_view vehicle_id,
                                            std::vector<ChainAnchor> anchors,
                                            const WalkStart& start, std::optional<uint64_t> stop) {
  const std::string vehicle(vehicle_id);
  ChainWalk walk(absl::StrCat("records/", vehicle), anchors);
  walk.StartAfter(start.position, start.head);
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT seq, chain_index, event_time_ns, agent_time_ns, agent_monotonic_ns, agent_boot, "
      "server_time_ns, kind, lat_deg, lon_deg, body, hash FROM records WHERE vehicle_id = ?1 "
      "AND chain_index > ?2 AND chain_index <= ?3 ORDER BY chain_index");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id)
      .Bind(2, static_cast<int64_t>(start.position))
      .Bind(3, static_cast<int64_t>(stop.value_or(INT64_MAX)));
  std::string head = start.head;
  uint64_t position = start.position;
  uint64_t prev_seq = start.seq;
  std::vector<uint64_t> seqs;  // stored, in chain order, after start.position
  while (!walk.failed()) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const uint64_t seq = static_cast<uint64_t>(q->ColumnInt64(0));
    const uint64_t index = static_cast<uint64_t>(q->ColumnInt64(1));
    const uint64_t expected = position + 1;
    const std::string name = absl::StrCat("record seq ", seq);
    if (index != expected) {
      // The missing record's seq is not stored anywhere; chain order is seq order except for
      // priority events, so it is the first seq after the previous record that is absent.
      std::optional<uint64_t> missing;
      for (uint64_t s = prev_seq + 1; s < seq; ++s) {
        absl::StatusOr<sqlite::Statement> has =
            db.Prepare("SELECT 1 FROM records WHERE vehicle_id = ?1 AND seq = ?2");
        if (!has.ok()) return has.status();
        has->Bind(1, vehicle_id).Bind(2, s);
        absl::StatusOr<bool> found = has->Step();
        if (!found.ok()) return found.status();
        if (!*found) {
          missing = s;
          break;
        }
      }
      walk.Fail(
          expected,
          missing ? absl::StrCat("record seq ", *missing)
                  : absl::StrCat("record at chain position ", expected),
          absl::StrCat("deleted: chain position ", expected, " is empty (the next record, seq ",
                       seq, ", is at position ", index, ")"),
          missing ? missing : std::optional<uint64_t>(seq));
      break;
    }
    const std::string body = q->ColumnBlob(10);
    cit::v1::Record rec;
    if (!rec.ParseFromString(body)) {
      walk.Fail(expected, name, "stored body does not parse", seq);
      break;
    }
    if (std::string column = ColumnMismatch(*q, seq, rec); !column.empty()) {
      walk.Fail(expected, name, absl::StrCat("column ", column, " differs from the hashed body"),
                seq);
      break;
    }
    absl::StatusOr<std::string> next =
        ChainStep(head, CanonicalRecordBytes(vehicle_id, seq, q->ColumnInt64(6), body));
    if (!next.ok()) return next.status();
    if (*next != q->ColumnBlob(11)) {
      walk.Fail(expected, name,
                absl::StrCat("hash mismatch at chain position ", expected,
                             ": the record or an earlier one was changed"),
                seq);
      break;
    }
    head = *std::move(next);
    position = expected;
    prev_seq = seq;
    seqs.push_back(seq);
    walk.Step(position, head);
  }
  if (!walk.failed() && !stop) {
    // The chain-head row the ingest keeps beside the records.
    absl::StatusOr<sqlite::Statement> h =
        db.Prepare("SELECT chain_index, head_hash FROM vehicle_seq WHERE vehicle_id = ?1");
    if (!h.ok()) return h.status();
    h->Bind(1, vehicle_id);
    absl::StatusOr<bool> row = h->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      const uint64_t stored_len = static_cast<uint64_t>(h->ColumnInt64(0));
      if (stored_len < position && stored_len >= start.position) {
        const uint64_t seq = seqs[stored_len - start.position];
        walk.Fail(stored_len + 1, absl::StrCat("record seq ", seq),
                  absl::StrCat("appended after the stored chain head (", stored_len, " records)"),
                  seq);
      } else if (stored_len != position || h->ColumnBlob(1) != head) {
        walk.Fail(position + 1, absl::StrCat("records after seq ", prev_seq),
                  absl::StrCat("missing: the stored chain head counts ", stored_len,
                               " records but ", position, " verify (records removed from the end)"),
                  prev_seq + 1);
      }
    } else if (position > 0) {
      walk.Fail(position + 1, absl::StrCat("records after seq ", prev_seq),
                "the vehicle's chain-head row is missing (derived state deleted)", prev_seq + 1);
    }
  }
  // A chain recomputed by someone without the key no longer matches a signed checkpoint, or is
  // shorter than one: name the first seq inside the chain that should be there and is not.
  const ChainAnchor* evidence = walk.mismatch() ? walk.mismatch_anchor() : nullptr;
  if (evidence == nullptr) {
    for (const ChainAnchor& a : anchors) {
      if (a.length > position && (evidence == nullptr || a.length > evidence->length)) {
        evidence = &a;
      }
    }
  }
  if (evidence != nullptr && !walk.failed() && !seqs.empty()) {
    std::vector<uint64_t> sorted = seqs;
    std::sort(sorted.begin(), sorted.end());
    // Holes below the highest stored seq only: above it, a cut tail is named as such.
    const uint64_t through =
        std::min(std::max(evidence->contiguous_seq, evidence->last_seq), sorted.back());
    absl::StatusOr<std::set<uint64_t>> explained = ExplainedSeqs(db, vehicle_id, through);
    if (!explained.ok()) return explained.status();
    // A partial walk looks for holes among its own seqs only.
    const uint64_t lowest = start.position == 0 ? 1 : sorted.front();
    for (uint64_t s = lowest; s <= through; ++s) {
      if (std::binary_search(sorted.begin(), sorted.end(), s) || explained->count(s) != 0) {
        continue;
      }
      // Where it would have been: before the first record with a higher seq.
      uint64_t where = 1;
      while (where <= seqs.size() && seqs[where - 1] < s) ++where;
      where += start.position;
      walk.Fail(
          where, absl::StrCat("record seq ", s),
          absl::StrCat("missing (neither stored, rejected nor a declared gap), and the chain ",
                       walk.mismatch() ? "no longer matches" : "is shorter than",
                       " signed checkpoint #", evidence->checkpoint_id,
                       ": it was recomputed without the signing key"),
          s);
      break;
    }
  }
  ChainReport report =
      walk.Finish(position, [&](uint64_t first, uint64_t last, const ChainAnchor& a) {
        if (first == 1) {
          return absl::StrCat("every record of ", vehicle, " (chain positions 1..", last,
                              ", seqs up to ", a.last_seq, ")");
        }
        return absl::StrCat("records after seq ", prev_seq, " (chain positions ", first, "..", last,
                            ", up to seq ", a.last_seq, " in the checkpoint)");
      });
  if (!report.intact && !report.first_bad_seq) {
    // A checkpoint mismatch without a missing seq: name the first record of the range.
    if (report.first_bad_index > start.position &&
        report.first_bad_index - start.position <= seqs.size()) {
      report.first_bad_seq = seqs[report.first_bad_index - start.position - 1];
      report.first_bad = absl::StrCat("record seq ", *report.first_bad_seq, " or a later one (",
                                      report.first_bad, ")");
    } else {
      report.first_bad_seq = prev_seq + 1;
    }
  }
  return report;
}

// Chain position of the vehicle's record nearest the edge of `window`: the last record before
// it (`before`) or the first after it, by event time; nullopt without one.
absl::StatusOr<std::optional<uint64_t>> NeighbourPosition(sqlite::Database& db,
                                                          std::string_view vehicle_id,
                                                          int64_t edge_ns, bool before) {
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      before ? "SELECT chain_index FROM records WHERE vehicle_id = ?1 AND event_time_ns < ?2 "
               "ORDER BY event_time_ns DESC LIMIT 1"
             : "SELECT chain_index FROM records WHERE vehicle_id = ?1 AND event_time_ns > ?2 "
               "ORDER BY event_time_ns LIMIT 1");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id).Bind(2, edge_ns);
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<uint64_t>();
  return std::optional<uint64_t>(static_cast<uint64_t>(q->ColumnInt64(0)));
}

// Lowest and highest chain position of the records inside `window` (nullopt: none).
absl::StatusOr<std::optional<std::pair<uint64_t, uint64_t>>> WindowPositions(
    sqlite::Database& db, std::string_view vehicle_id, const RecordTimeWindow& window) {
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT MIN(chain_index), MAX(chain_index) FROM records WHERE vehicle_id = ?1 AND "
      "event_time_ns >= ?2 AND event_time_ns <= ?3");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id)
      .Bind(2, window.from_ns.value_or(INT64_MIN))
      .Bind(3, window.to_ns.value_or(INT64_MAX));
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row || q->ColumnIsNull(0)) return std::optional<std::pair<uint64_t, uint64_t>>();
  return std::optional<std::pair<uint64_t, uint64_t>>(std::make_pair(
      static_cast<uint64_t>(q->ColumnInt64(0)), static_cast<uint64_t>(q->ColumnInt64(1))));
}

}  // namespace

absl::StatusOr<ChainReport> VerifyRecordChain(sqlite::Database& db, std::string_view vehicle_id,
                                              std::vector<ChainAnchor> anchors) {
  return WalkRecordChain(db, vehicle_id, std::move(anchors), WalkStart{}, std::nullopt);
}

absl::StatusOr<ChainReport> VerifyRecordChainForWindow(sqlite::Database& db,
                                                       std::string_view vehicle_id,
                                                       std::vector<ChainAnchor> anchors,
                                                       const RecordTimeWindow& window) {
  // The span of chain positions the run's records and their two neighbours occupy.
  absl::StatusOr<std::optional<std::pair<uint64_t, uint64_t>>> inside =
      WindowPositions(db, vehicle_id, window);
  if (!inside.ok()) return inside.status();
  std::optional<uint64_t> low;   // last position that certainly precedes the run
  std::optional<uint64_t> high;  // first position that certainly follows it (nullopt: the end)
  if (window.from_ns) {
    absl::StatusOr<std::optional<uint64_t>> before =
        NeighbourPosition(db, vehicle_id, *window.from_ns, /*before=*/true);
    if (!before.ok()) return before.status();
    low = *before;
  }
  if (window.to_ns) {
    absl::StatusOr<std::optional<uint64_t>> after =
        NeighbourPosition(db, vehicle_id, *window.to_ns, /*before=*/false);
    if (!after.ok()) return after.status();
    high = *after;
  }
  if (*inside) {
    // Records of the run that arrived late sit after their neighbours in chain order.
    low = std::min(low.value_or(UINT64_MAX), (*inside)->first - 1);
    if (high) high = std::max(*high, (*inside)->second);
  }
  const uint64_t first = low.value_or(0);
  // Start at the newest checkpoint at or before `first`; stop at the first one at or after
  // `high` (none: walk to the chain's end and compare the stored head row).
  WalkStart start;
  std::optional<uint64_t> stop;
  for (const ChainAnchor& a : anchors) {
    if (a.length > 0 && a.length <= first && a.length > start.position) {
      start = WalkStart{a.length, a.head, a.last_seq};
    }
    if (high && a.length >= *high && (!stop || a.length < *stop)) stop = a.length;
  }
  std::vector<ChainAnchor> in_span;
  for (ChainAnchor& a : anchors) {
    if (a.length >= start.position && (!stop || a.length <= *stop)) in_span.push_back(a);
  }
  return WalkRecordChain(db, vehicle_id, std::move(in_span), start, stop);
}

}  // namespace cit::dispatch
