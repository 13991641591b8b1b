// Durable, append-only journal of agent records: what the truck saw survives kill -9, power cuts
// and long dispatch-server outages, and is deleted only after the server acknowledged it.
//
//   cit::agent::JournalOptions opts;
//   opts.dir = "/var/lib/vehicle-agent/journal";
//   auto journal = cit::agent::Journal::Open(opts);       // recovers a torn tail, if any
//   cit::v1::Record rec = ...;                             // payload and times filled in
//   absl::StatusOr<uint64_t> seq = (*journal)->Append(rec);  // assigns rec.seq
//   (*journal)->Sync();                                   // fsync; records become sendable
//   auto batch = (*journal)->Read(/*from_seq=*/1, /*max_records=*/500);
//   (*journal)->Acknowledge(/*through_seq=*/42);          // deletes fully acked segments
//
// On disk: `<dir>/<first seq, 20 digits>.seg` segment files, each a sequence of frames
// `[u32 payload length][u32 CRC-32 of payload][payload = serialized cit.v1.Record]` (little
// endian), and `<dir>/state`, a small text file replaced atomically that holds the seq high-water
// mark (so seq never repeats even when every segment was trimmed), the boot counter and the
// newest fix's receiver time and position.
//
// Recovery: a frame whose length runs past the end of its file, or whose CRC does not match, ends
// that segment: it and everything after it in that file are truncated away (logged). Everything
// before it is kept.
//
// Bound: when the journal grows past `max_bytes`, closed segments are rewritten oldest first
// keeping every non-fix record (panic, door, seal, crew, GNSS status, heartbeat) and every other
// fix ("thinning"), until the journal is back under 90% of the bound. The least-thinned segment
// goes first (oldest among equals), so a long outage keeps an evenly thinned track rather than
// losing its beginning. If only non-fix records are
// left the bound is exceeded rather than dropping an event (logged once).
//
// Thread contract: not thread-safe; one owner (the agent's io_context thread).
#ifndef CIT_VEHICLE_AGENT_JOURNAL_H_
#define CIT_VEHICLE_AGENT_JOURNAL_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/telemetry.pb.h"

namespace cit::agent {

struct JournalOptions {
  std::filesystem::path dir;
  // Upper bound on the journal's total size; beyond it fixes are thinned (see above).
  uint64_t max_bytes = 256ull << 20;
  // A segment is closed and a new one started once it reaches this size.
  uint64_t segment_bytes = 4ull << 20;
};

// The newest fix ever journalled, so a restarted agent does not journal the same gpsd report
// twice (gpsd repeats a fix in several reports of one cycle). time_ns is the receiver's time.
struct LastFix {
  int64_t time_ns = 0;
  double lat_deg = 0;
  double lon_deg = 0;
};

// Counters for logs, metrics and tests.
struct JournalStats {
  uint64_t records_appended = 0;
  uint64_t torn_frames_dropped = 0;  // frames cut off at recovery
  uint64_t fixes_thinned = 0;        // fixes dropped because the journal was full
  uint64_t segments_deleted = 0;     // segments removed after acknowledgement
  uint64_t syncs = 0;
};

class Journal final {
 public:
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const JournalOptions& options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  Journal(Journal&&) = delete;
  Journal& operator=(Journal&&) = delete;

  // Assigns the next seq to `record` (overwriting record.seq), writes it, returns the seq.
  // Written records are visible to Read() only after Sync() (see durable_seq()).
  absl::StatusOr<uint64_t> Append(cit::v1::Record& record);

  // fdatasync()s the active segment; afterwards every appended record is durable.
  absl::Status Sync();
  // Treats written records as durable without syncing (fsync policy "none").
  void MarkWrittenDurable() { durable_seq_ = last_seq_; }

  // Up to `max_records` records with seq >= from_seq and seq <= durable_seq(), ascending.
  absl::StatusOr<std::vector<cit::v1::Record>> Read(uint64_t from_seq, size_t max_records);

  // The server holds every record with seq <= through_seq: delete segments made only of such
  // records. Persists the high-water mark first so seq never goes backwards.
  absl::Status Acknowledge(uint64_t through_seq);

  // Makes sure the next seq handed out is > seq (the server has seen seqs this journal lost,
  // e.g. after a disk was replaced). Persisted.
  absl::Status EnsureSeqAbove(uint64_t seq);

  // Lowest unacknowledged seq still held, or 0 when there is none.
  uint64_t first_unacked_seq() const;
  // Number of records held and not yet acknowledged (approximate after thinning: exact count).
  uint64_t backlog_records() const;
  uint64_t last_seq() const { return last_seq_; }
  uint64_t durable_seq() const { return durable_seq_; }
  uint64_t acked_through() const { return acked_through_; }
  uint64_t next_seq() const { return last_seq_ + 1; }
  uint64_t total_bytes() const;
  // Incremented on every Open(); stamps Record.agent_boot.
  uint32_t boot() const { return boot_; }
  const JournalStats& stats() const { return stats_; }
  // From the segments, or from `state` when every segment was trimmed.
  const std::optional<LastFix>& last_fix() const { return last_fix_; }

 private:
  struct Segment {
    std::filesystem::path path;
    uint64_t first_seq = 0;  // seq the file is named after
    uint64_t last_seq = 0;   // 0 while empty
    uint64_t records = 0;
    uint64_t bytes = 0;
    uint32_t thin_passes = 0;  // times thinned since open; spreads thinning evenly
  };
  // A read position, kept between Read() calls so draining a backlog never rescans.
  struct Cursor {
    uint64_t segment_first_seq = 0;
    uint64_t offset = 0;
    uint64_t next_seq = 0;  // every record before offset in that segment has seq < next_seq
    bool valid = false;
  };

  explicit Journal(JournalOptions options);
  absl::Status Recover();
  absl::Status ScanSegment(Segment& segment, bool truncate_torn);
  void NoteFix(const cit::v1::Record& record);
  absl::Status WriteState();
  absl::Status OpenActive(uint64_t first_seq);
  absl::Status CloseActive();
  absl::Status ThinIfFull();
  absl::StatusOr<bool> ThinSegment(Segment& segment);

  JournalOptions options_;
  std::map<uint64_t, Segment> segments_;  // by first_seq
  int active_fd_ = -1;                    // last segment in segments_, open for append
  uint64_t last_seq_ = 0;
  uint64_t durable_seq_ = 0;
  uint64_t acked_through_ = 0;
  uint64_t high_water_ = 0;  // persisted in `state`
  uint32_t boot_ = 0;
  bool full_logged_ = false;
  std::optional<LastFix> last_fix_;
  Cursor cursor_;
  JournalStats stats_;
};

// True for records that must never be thinned and that jump the send queue.
bool IsUrgent(const cit::v1::Record& record);

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_JOURNAL_H_
