#include "dispatch-server/store/postgres_record_scan.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <pqxx/result>
#include <pqxx/row>

#include "absl/strings/str_cat.h"
#include "dispatch-server/store/scanned_record_parser.h"

namespace cit::dispatch {
namespace {

int64_t ToUnixNs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

int64_t ClampToInt64(uint64_t v) {
  return static_cast<int64_t>(std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A bigint column's text, in place.
int64_t Int64(const pqxx::field& f) {
  int64_t v = 0;
  const char* begin = f.c_str();
  const auto [end, ec] = std::from_chars(begin, begin + f.size(), v);
  if (ec != std::errc() || end != begin + f.size()) {
    throw pqxx::conversion_error(std::string("not a bigint: '") + begin + "'");
  }
  return v;
}

class ChunkScanner {
 public:
  ChunkScanner(pqxx::transaction_base& t, const RecordPageQuery& query,
               const std::function<void(const RecordView&)>& fn)
      : t_(t), query_(query), fn_(fn) {}

  // Hands out up to `want` rows after (lo, after_seq); returns how many, and the last key.
  absl::StatusOr<size_t> Chunk(int64_t lo, int64_t after_seq, int64_t hi, size_t want,
                               RecordKey& last) {
    const pqxx::result rows =
        t_.exec_params(kPgRecordChunkSql, query_.vehicle_id, lo, after_seq, hi,
                       ClampToInt64(query_.max_chain_index), ClampToInt64(want));
    for (const pqxx::row& row : rows) {
      if (absl::Status s = Emit(row); !s.ok()) return s;
    }
    if (!rows.empty()) {
      const pqxx::row back = rows.back();
      last = RecordKey{Int64(back[5]), static_cast<uint64_t>(Int64(back[0]))};
    }
    return rows.size();
  }

 private:
  void Bytea(const pqxx::field& f, std::string& out) {
    const std::string_view text(f.c_str(), f.size());
    if (!DecodeByteaInto(text, out)) out = t_.conn().unesc_raw(f.c_str());
  }

  // Columns 0-4: seq, chain_index, server_time_ns, body, hash.
  absl::Status Emit(const pqxx::row& row) {
    RecordView v;
    v.seq = static_cast<uint64_t>(Int64(row[0]));
    v.chain_index = static_cast<uint64_t>(Int64(row[1]));
    v.server_time_ns = Int64(row[2]);
    Bytea(row[3], body_);
    Bytea(row[4], hash_);
    v.body = body_;
    v.hash = hash_;
    if (query_.parse_body) {
      absl::StatusOr<const cit::v1::Record*> record =
          parser_.Parse(body_, query_.vehicle_id, v.seq);
      if (!record.ok()) return record.status();
      v.record = *record;
    }
    fn_(v);
    return absl::OkStatus();
  }

  pqxx::transaction_base& t_;
  const RecordPageQuery& query_;
  const std::function<void(const RecordView&)>& fn_;
  ScannedRecordParser parser_;
  std::string body_;  // the current row's decoded columns, storage reused row after row
  std::string hash_;
};

}  // namespace

bool DecodeByteaInto(std::string_view text, std::string& out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return false;
  const size_t n = (text.size() - 2) / 2;
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int hi = HexDigit(text[2 + 2 * i]);
    const int lo = HexDigit(text[3 + 2 * i]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return true;
}

absl::StatusOr<size_t> ScanPostgresRecords(pqxx::transaction_base& t, const RecordPageQuery& query,
                                           const std::function<void(const RecordView&)>& fn,
                                           size_t chunk) {
  // The cursor replaces `from` when it is later; seq > 0 always, so no cursor (after_seq 0)
  // admits every record at `lo`.
  int64_t lo = ToUnixNs(query.from);
  int64_t after_seq = 0;
  if (query.after && query.after->event_time_ns >= lo) {
    lo = query.after->event_time_ns;
    after_seq = ClampToInt64(query.after->seq);
  }
  const int64_t hi = ToUnixNs(query.to);
  if (query.limit == 0) return 0;
  t.exec(kPgRecordScanSettingsSql);
  ChunkScanner scanner(t, query, fn);
  size_t visited = 0;
  while (visited < query.limit) {
    const size_t want = std::min(std::max<size_t>(chunk, 1), query.limit - visited);
    RecordKey last;
    absl::StatusOr<size_t> n = scanner.Chunk(lo, after_seq, hi, want, last);
    if (!n.ok()) return n.status();
    visited += *n;
    if (*n < want) break;
    lo = last.event_time_ns;
    after_seq = ClampToInt64(last.seq);
  }
  return visited;
}

}  // namespace cit::dispatch
