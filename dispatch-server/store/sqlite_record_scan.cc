#include "dispatch-server/store/sqlite_record_scan.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dispatch-server/store/scanned_record_parser.h"

namespace cit::dispatch {
namespace {

// The chunk's candidates, from the event-time index alone (it ends in the primary key, so it
// covers event_time_ns and seq): no row is read.
constexpr std::string_view kPlanSql =
    "SELECT event_time_ns, seq FROM records INDEXED BY records_by_event_time WHERE "
    "vehicle_id = ?1 AND event_time_ns >= ?2 AND event_time_ns < ?3 AND "
    "(event_time_ns > ?2 OR seq > ?4) ORDER BY event_time_ns, seq LIMIT ?5";
// The rows of a seq span, in primary-key order: one walk along the table's leaves.
constexpr std::string_view kSpanSql =
    "SELECT seq, chain_index, server_time_ns, body, hash FROM records WHERE vehicle_id = ?1 AND "
    "seq >= ?2 AND seq <= ?3 ORDER BY seq";
// The rows of a chunk through the event-time index (one primary-key seek per row). One lower
// bound on event_time_ns (the later of `from` and the cursor) lets it seek into the index
// instead of scanning from `from` again.
constexpr std::string_view kByIndexSql =
    "SELECT seq, chain_index, server_time_ns, body, hash, event_time_ns FROM records WHERE "
    "vehicle_id = ?1 AND event_time_ns >= ?2 AND event_time_ns < ?3 AND "
    "(event_time_ns > ?2 OR seq > ?4) AND chain_index <= ?5 ORDER BY event_time_ns, seq "
    "LIMIT ?6";

// A span walk reads every row between the first and last candidate; beyond this many rows per
// candidate (records of other times interleaved in seq order) seeking is cheaper.
constexpr size_t kMaxSpanRowsPerCandidate = 2;
constexpr size_t kSpanSlack = 64;

int64_t ToUnixNs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

int64_t ClampToInt64(uint64_t v) {
  return static_cast<int64_t>(std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
}

// The query's bounds as bound to the statements: the cursor replaces `from` when it is later.
struct Bounds {
  int64_t lo = 0;
  int64_t hi = 0;
  int64_t after_seq = 0;  // seq > 0 always: no cursor admits every record at `lo`
  int64_t max_chain_index = 0;
};

Bounds BoundsOf(const RecordPageQuery& query) {
  Bounds b;
  b.lo = ToUnixNs(query.from);
  b.hi = ToUnixNs(query.to);
  if (query.after && query.after->event_time_ns >= b.lo) {
    b.lo = query.after->event_time_ns;
    b.after_seq = ClampToInt64(query.after->seq);
  }
  b.max_chain_index = ClampToInt64(query.max_chain_index);
  return b;
}

struct Candidate {
  int64_t event_time_ns;
  int64_t seq;
};

// What one chunk did: rows handed out, whether the range is exhausted, where the next begins.
struct ChunkOutcome {
  size_t emitted = 0;
  bool exhausted = false;
  RecordKey last;
};

class ChunkScanner {
 public:
  ChunkScanner(sqlite::Database& db, const RecordPageQuery& query,
               const std::function<void(const RecordView&)>& fn)
      : db_(db), query_(query), fn_(fn) {}

  absl::StatusOr<ChunkOutcome> Scan(const Bounds& b, size_t want, RecordScanStats& stats) {
    absl::Status planned = Plan(b, want);
    if (!planned.ok()) return planned;
    if (candidates_.empty()) return ChunkOutcome{.emitted = 0, .exhausted = true, .last = {}};
    if (!InSeqOrder()) {
      ++stats.chunks_by_index;
      return ByIndex(b, want);
    }
    ++stats.chunks_in_seq_order;
    absl::StatusOr<size_t> emitted = BySpan(b);
    if (!emitted.ok()) return emitted.status();
    const Candidate& last = candidates_.back();
    return ChunkOutcome{.emitted = *emitted,
                        .exhausted = candidates_.size() < want,
                        .last = RecordKey{last.event_time_ns, static_cast<uint64_t>(last.seq)}};
  }

 private:
  absl::Status Plan(const Bounds& b, size_t want) {
    candidates_.clear();
    absl::StatusOr<sqlite::Statement> q = db_.Prepare(kPlanSql);
    if (!q.ok()) return q.status();
    q->Bind(1, query_.vehicle_id)
        .Bind(2, b.lo)
        .Bind(3, b.hi)
        .Bind(4, b.after_seq)
        .Bind(5, ClampToInt64(want));
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::OkStatus();
      candidates_.push_back(Candidate{q->ColumnInt64(0), q->ColumnInt64(1)});
    }
  }

  // Seq order is event-time order for these candidates, and their span is mostly them.
  bool InSeqOrder() const {
    for (size_t i = 1; i < candidates_.size(); ++i) {
      if (candidates_[i].seq <= candidates_[i - 1].seq) return false;
    }
    const auto span = static_cast<uint64_t>(candidates_.back().seq - candidates_.front().seq) + 1;
    return span <= candidates_.size() * kMaxSpanRowsPerCandidate + kSpanSlack;
  }

  // Walks the candidates' seq span, handing out the candidates (within the chain limit) and
  // skipping the rows between them that the index did not list (other times).
  absl::StatusOr<size_t> BySpan(const Bounds& b) {
    absl::StatusOr<sqlite::Statement> q = db_.Prepare(kSpanSql);
    if (!q.ok()) return q.status();
    q->Bind(1, query_.vehicle_id).Bind(2, candidates_.front().seq).Bind(3, candidates_.back().seq);
    size_t next = 0;
    size_t emitted = 0;
    while (next < candidates_.size()) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (q->ColumnInt64(0) != candidates_[next].seq) continue;
      ++next;
      if (q->ColumnInt64(1) > b.max_chain_index) continue;  // committed after the scan's start
      absl::Status s = Emit(*q);
      if (!s.ok()) return s;
      ++emitted;
    }
    if (next != candidates_.size()) {
      // Records are append-only: a row the index listed cannot go away.
      return absl::InternalError(absl::StrCat("record ", query_.vehicle_id, " seq ",
                                              candidates_[next].seq,
                                              " is in the event-time index but not in the table"));
    }
    return emitted;
  }

  absl::StatusOr<ChunkOutcome> ByIndex(const Bounds& b, size_t want) {
    absl::StatusOr<sqlite::Statement> q = db_.Prepare(kByIndexSql);
    if (!q.ok()) return q.status();
    q->Bind(1, query_.vehicle_id)
        .Bind(2, b.lo)
        .Bind(3, b.hi)
        .Bind(4, b.after_seq)
        .Bind(5, b.max_chain_index)
        .Bind(6, ClampToInt64(want));
    ChunkOutcome out;
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      absl::Status s = Emit(*q);
      if (!s.ok()) return s;
      ++out.emitted;
      out.last = RecordKey{q->ColumnInt64(5), static_cast<uint64_t>(q->ColumnInt64(0))};
    }
    out.exhausted = out.emitted < want;
    return out;
  }

  // Columns 0-4: seq, chain_index, server_time_ns, body, hash.
  absl::Status Emit(const sqlite::Statement& q) {
    RecordView v;
    v.seq = static_cast<uint64_t>(q.ColumnInt64(0));
    v.chain_index = static_cast<uint64_t>(q.ColumnInt64(1));
    v.server_time_ns = q.ColumnInt64(2);
    v.body = q.ColumnBlobView(3);
    v.hash = q.ColumnBlobView(4);
    if (query_.parse_body) {
      absl::StatusOr<const cit::v1::Record*> record =
          parser_.Parse(v.body, query_.vehicle_id, v.seq);
      if (!record.ok()) return record.status();
      v.record = *record;
    }
    fn_(v);
    return absl::OkStatus();
  }

  sqlite::Database& db_;
  const RecordPageQuery& query_;
  const std::function<void(const RecordView&)>& fn_;
  ScannedRecordParser parser_;
  std::vector<Candidate> candidates_;
};

}  // namespace

absl::StatusOr<size_t> ScanRecordsInKeyOrder(sqlite::Database& db, const RecordPageQuery& query,
                                             const std::function<void(const RecordView&)>& fn,
                                             RecordScanStats* stats) {
  RecordScanStats local;
  RecordScanStats& counts = stats != nullptr ? *stats : local;
  ChunkScanner scanner(db, query, fn);
  RecordPageQuery position = query;
  size_t visited = 0;
  while (visited < query.limit) {
    const size_t want = std::min(kScanChunk, query.limit - visited);
    absl::StatusOr<ChunkOutcome> chunk = scanner.Scan(BoundsOf(position), want, counts);
    if (!chunk.ok()) return chunk.status();
    visited += chunk->emitted;
    if (chunk->exhausted) break;
    position.after = chunk->last;
  }
  return visited;
}

}  // namespace cit::dispatch
