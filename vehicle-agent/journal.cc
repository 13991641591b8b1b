#include "vehicle-agent/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/crc.hpp>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "vehicle-agent/text_file.h"

namespace cit::agent {
namespace {

constexpr size_t kHeaderBytes = 8;
// A frame longer than this is garbage (a Record is a few hundred bytes at most).
constexpr uint32_t kMaxPayloadBytes = 1u << 20;
constexpr const char* kSegmentSuffix = ".seg";

uint32_t Crc32(const void* data, size_t size) {
  boost::crc_32_type crc;
  crc.process_bytes(data, size);
  return crc.checksum();
}

void PutU32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t GetU32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

absl::Status ErrnoStatus(const std::string& what, const std::filesystem::path& path) {
  return absl::InternalError(absl::StrCat(what, " ", path.string(), ": ", std::strerror(errno)));
}

std::filesystem::path SegmentPath(const std::filesystem::path& dir, uint64_t first_seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%020" PRIu64 "%s", first_seq, kSegmentSuffix);
  return dir / name;
}

// fsync on the directory makes creates, renames and deletes survive power loss.
void SyncDir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string Frame(const std::string& payload) {
  std::string frame(kHeaderBytes, '\0');
  PutU32(frame.data(), static_cast<uint32_t>(payload.size()));
  PutU32(frame.data() + 4, Crc32(payload.data(), payload.size()));
  frame += payload;
  return frame;
}

// Sequential frame reader over one segment file, buffered so that draining a large backlog
// costs a few big reads rather than two syscalls per record.
class FrameReader {
 public:
  FrameReader(const std::filesystem::path& path, uint64_t offset) : offset_(offset) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  ~FrameReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;
  FrameReader(FrameReader&&) = delete;
  FrameReader& operator=(FrameReader&&) = delete;

  bool ok() const { return fd_ >= 0; }
  uint64_t offset() const { return offset_; }

  enum class Result { kFrame, kEnd, kTorn };
  // Reads the next frame's payload into `payload`. kEnd at a clean end of file; kTorn when the
  // frame is incomplete or its CRC fails (offset() then points at the bad frame).
  Result Next(std::string& payload) {
    if (!Fill(kHeaderBytes)) return Available() == 0 ? Result::kEnd : Result::kTorn;
    const char* head = buf_.data() + pos_;
    uint32_t len = GetU32(head);
    uint32_t crc = GetU32(head + 4);
    if (len == 0 || len > kMaxPayloadBytes) return Result::kTorn;
    if (!Fill(kHeaderBytes + len)) return Result::kTorn;
    const char* body = buf_.data() + pos_ + kHeaderBytes;
    if (Crc32(body, len) != crc) return Result::kTorn;
    payload.assign(body, len);
    pos_ += kHeaderBytes + len;
    offset_ += kHeaderBytes + len;
    return Result::kFrame;
  }

 private:
  size_t Available() const { return buf_.size() - pos_; }
  // Ensures `need` bytes are buffered at pos_; false at end of file.
  bool Fill(size_t need) {
    if (Available() >= need) return true;
    buf_.erase(0, pos_);
    pos_ = 0;
    const size_t want = std::max<size_t>(need, 256 * 1024);
    while (buf_.size() < need) {
      const size_t old = buf_.size();
      buf_.resize(old + want);
      ssize_t n = ::pread(fd_, buf_.data() + old, want, static_cast<off_t>(offset_ + old));
      if (n < 0 && errno == EINTR) {
        buf_.resize(old);
        continue;
      }
      buf_.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
      if (n <= 0) return false;
    }
    return true;
  }

  int fd_ = -1;
  uint64_t offset_;  // file offset of buf_[pos_]
  std::string buf_;
  size_t pos_ = 0;
};

// Nanoseconds since the epoch, saturated to int64: a journal file is input like any other (a
// damaged or foreign segment can hold any seconds value), and seconds * 1e9 overflows past the
// year 2262.
int64_t SaturatedUnixNanos(const google::protobuf::Timestamp& t) {
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  const int64_t seconds = std::clamp<int64_t>(t.seconds(), -kMaxSeconds, kMaxSeconds);
  return seconds * 1'000'000'000 + std::clamp<int32_t>(t.nanos(), -999'999'999, 999'999'999);
}

}  // namespace

void Journal::NoteFix(const cit::v1::Record& rec) {
  if (!rec.has_fix()) return;
  const auto& t = rec.fix().time_suspect() ? rec.fix().receiver_time() : rec.event_time();
  last_fix_ = LastFix{SaturatedUnixNanos(t), rec.fix().lat_deg(), rec.fix().lon_deg()};
}

bool IsUrgent(const cit::v1::Record& record) {
  return record.has_panic() || record.has_door() || record.has_seal();
}

Journal::Journal(JournalOptions options) : options_(std::move(options)) {}

Journal::~Journal() {
  if (active_fd_ >= 0) {
    ::fdatasync(active_fd_);
    ::close(active_fd_);
  }
}

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const JournalOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("journal dir is empty");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("create ", options.dir.string(), ": ", ec.message()));
  std::unique_ptr<Journal> journal(new Journal(options));
  if (absl::Status s = journal->Recover(); !s.ok()) return s;
  return journal;
}

absl::Status Journal::Recover() {
  // State file: "high_water N\nboot B\n". Absent in a new journal; present but unreadable is an
  // error: starting from high_water 0 could hand out seqs the server already holds.
  {
    absl::StatusOr<std::string> text = ReadTextFile(options_.dir / "state", "journal state");
    if (!text.ok() && !absl::IsNotFound(text.status())) return text.status();
    std::istringstream in(text.ok() ? *text : std::string());
    std::string key, value;
    LastFix lf;
    int lf_fields = 0;
    while (in >> key >> value) {
      if (key == "high_water") high_water_ = std::strtoull(value.c_str(), nullptr, 10);
      if (key == "boot") boot_ = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
      if (key == "last_fix_time_ns")
        lf.time_ns = std::strtoll(value.c_str(), nullptr, 10), ++lf_fields;
      if (key == "last_fix_lat") lf.lat_deg = std::strtod(value.c_str(), nullptr), ++lf_fields;
      if (key == "last_fix_lon") lf.lon_deg = std::strtod(value.c_str(), nullptr), ++lf_fields;
    }
    if (lf_fields == 3) last_fix_ = lf;
  }
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir)) {
    const auto& p = entry.path();
    if (p.extension() == kSegmentSuffix) {
      Segment seg;
      seg.path = p;
      seg.first_seq = std::strtoull(p.stem().c_str(), nullptr, 10);
      segments_[seg.first_seq] = seg;
    } else if (p.extension() == ".tmp") {
      std::filesystem::remove(p);  // an interrupted thinning rewrite; the original is intact
    }
  }
  for (auto it = segments_.begin(); it != segments_.end();) {
    if (absl::Status s = ScanSegment(it->second, /*truncate_torn=*/true); !s.ok()) return s;
    if (it->second.records == 0) {
      std::filesystem::remove(it->second.path);
      it = segments_.erase(it);
      continue;
    }
    last_seq_ = std::max(last_seq_, it->second.last_seq);
    ++it;
  }
  // Everything at or below the high-water mark was handed out before; never reuse it.
  last_seq_ = std::max(last_seq_, high_water_);
  durable_seq_ = last_seq_;
  // Anything trimmed was acknowledged, and anything in the state file below the first held seq
  // was trimmed: the server has it.
  acked_through_ = segments_.empty() ? last_seq_ : segments_.begin()->second.first_seq - 1;
  ++boot_;
  high_water_ = last_seq_;
  if (absl::Status s = WriteState(); !s.ok()) return s;
  spdlog::info("journal: opened {} ({} segments, seq {}..{}, boot {})", options_.dir.string(),
               segments_.size(), first_unacked_seq(), last_seq_, boot_);
  return absl::OkStatus();
}

absl::Status Journal::ScanSegment(Segment& segment, bool truncate_torn) {
  FrameReader reader(segment.path, 0);
  if (!reader.ok()) return ErrnoStatus("open", segment.path);
  std::string payload;
  cit::v1::Record rec;
  segment.records = 0;
  segment.last_seq = 0;
  for (;;) {
    FrameReader::Result r = reader.Next(payload);
    if (r == FrameReader::Result::kEnd) break;
    bool bad = r == FrameReader::Result::kTorn;
    if (!bad && (!rec.ParseFromString(payload) || rec.seq() <= segment.last_seq)) bad = true;
    if (bad) {
      std::error_code ec;
      const uint64_t size = std::filesystem::file_size(segment.path, ec);
      spdlog::warn("journal: torn or corrupt record in {} at offset {} ({} bytes dropped)",
                   segment.path.string(), reader.offset(), size - reader.offset());
      ++stats_.torn_frames_dropped;
      if (truncate_torn) {
        if (::truncate(segment.path.c_str(), static_cast<off_t>(reader.offset())) != 0) {
          return ErrnoStatus("truncate", segment.path);
        }
      }
      break;
    }
    segment.last_seq = rec.seq();
    ++segment.records;
    NoteFix(rec);
  }
  segment.bytes = reader.offset();
  return absl::OkStatus();
}

absl::Status Journal::WriteState() {
  const auto tmp = options_.dir / "state.tmp";
  std::string text = absl::StrCat("high_water ", high_water_, "\nboot ", boot_, "\n");
  if (last_fix_) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "last_fix_time_ns %" PRId64 "\nlast_fix_lat %.17g\nlast_fix_lon %.17g\n",
                  last_fix_->time_ns, last_fix_->lat_deg, last_fix_->lon_deg);
    text += buf;
  }
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("open", tmp);
  bool ok = WriteAll(fd, text.data(), text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return ErrnoStatus("write", tmp);
  if (::rename(tmp.c_str(), (options_.dir / "state").c_str()) != 0)
    return ErrnoStatus("rename", tmp);
  SyncDir(options_.dir);
  return absl::OkStatus();
}

absl::Status Journal::OpenActive(uint64_t first_seq) {
  Segment seg;
  seg.first_seq = first_seq;
  seg.path = SegmentPath(options_.dir, first_seq);
  active_fd_ = ::open(seg.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (active_fd_ < 0) return ErrnoStatus("open", seg.path);
  SyncDir(options_.dir);
  segments_[first_seq] = seg;
  return absl::OkStatus();
}

absl::Status Journal::CloseActive() {
  if (active_fd_ < 0) return absl::OkStatus();
  const bool ok = ::fdatasync(active_fd_) == 0;
  ::close(active_fd_);
  active_fd_ = -1;
  durable_seq_ = last_seq_;
  if (!ok) return absl::InternalError("fdatasync failed on segment close");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Journal::Append(cit::v1::Record& record) {
  const uint64_t seq = last_seq_ + 1;
  record.set_seq(seq);
  const std::string frame = Frame(record.SerializeAsString());
  if (active_fd_ >= 0 && segments_.rbegin()->second.bytes >= options_.segment_bytes) {
    if (absl::Status s = CloseActive(); !s.ok()) return s;
  }
  if (active_fd_ < 0) {
    // Appends after recovery go to a fresh segment: recovered files are never reopened for write.
    if (absl::Status s = OpenActive(seq); !s.ok()) return s;
  }
  Segment& seg = segments_.rbegin()->second;
  if (!WriteAll(active_fd_, frame.data(), frame.size())) {
    // A partial frame may be on disk; recovery truncates it. Start a new segment next time.
    absl::Status err = ErrnoStatus("write", seg.path);
    ::close(active_fd_);
    active_fd_ = -1;
    return err;
  }
  last_seq_ = seq;
  seg.last_seq = seq;
  ++seg.records;
  NoteFix(record);
  seg.bytes += frame.size();
  ++stats_.records_appended;
  if (total_bytes() > options_.max_bytes) {
    if (absl::Status s = ThinIfFull(); !s.ok())
      spdlog::error("journal: thinning failed: {}", s.ToString());
  }
  return seq;
}

absl::Status Journal::Sync() {
  if (active_fd_ >= 0 && durable_seq_ < last_seq_) {
    if (::fdatasync(active_fd_) != 0) return absl::InternalError("fdatasync failed");
    ++stats_.syncs;
  }
  durable_seq_ = last_seq_;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<cit::v1::Record>> Journal::Read(uint64_t from_seq, size_t max_records) {
  std::vector<cit::v1::Record> out;
  if (from_seq > durable_seq_ || segments_.empty()) return out;
  // Start where the last Read stopped if it is still valid for from_seq, else seek by scanning
  // the segment that holds from_seq (segments are a few MiB, so this is rare and cheap).
  auto it = segments_.end();
  uint64_t offset = 0;
  if (cursor_.valid && cursor_.next_seq <= from_seq) {
    it = segments_.find(cursor_.segment_first_seq);
    offset = cursor_.offset;
  }
  if (it == segments_.end()) {
    it = segments_.upper_bound(from_seq);
    if (it != segments_.begin()) --it;
    offset = 0;
  }
  std::string payload;
  while (it != segments_.end() && out.size() < max_records) {
    if (it->second.last_seq < from_seq || it->second.records == 0) {
      ++it;
      offset = 0;
      continue;
    }
    FrameReader reader(it->second.path, offset);
    if (!reader.ok()) return ErrnoStatus("open", it->second.path);
    bool segment_done = false;
    while (out.size() < max_records) {
      const uint64_t frame_offset = reader.offset();
      if (frame_offset >= it->second.bytes) {
        segment_done = true;
        break;
      }
      if (reader.Next(payload) != FrameReader::Result::kFrame) {
        return absl::DataLossError(absl::StrCat("journal: unreadable frame in ",
                                                it->second.path.string(), " at ", frame_offset));
      }
      cit::v1::Record rec;
      if (!rec.ParseFromString(payload)) return absl::DataLossError("journal: unparsable record");
      if (rec.seq() > durable_seq_) {
        cursor_ = {it->first, frame_offset, rec.seq(), true};
        return out;
      }
      if (rec.seq() >= from_seq) out.push_back(std::move(rec));
    }
    cursor_ = {it->first, reader.offset(), out.empty() ? from_seq : out.back().seq() + 1, true};
    if (!segment_done) break;
    ++it;
    offset = 0;
  }
  return out;
}

absl::Status Journal::Acknowledge(uint64_t through_seq) {
  through_seq = std::min(through_seq, last_seq_);
  if (through_seq <= acked_through_) return absl::OkStatus();
  acked_through_ = through_seq;
  // Delete whole segments only; the active one is closed first if it is fully acknowledged.
  std::vector<uint64_t> doomed;
  for (auto& [first, seg] : segments_) {
    if (seg.last_seq == 0 || seg.last_seq > through_seq) break;
    doomed.push_back(first);
  }
  if (doomed.empty()) return absl::OkStatus();
  if (high_water_ < last_seq_) {
    high_water_ = last_seq_;
    if (absl::Status s = WriteState(); !s.ok()) return s;
  }
  if (!doomed.empty() && doomed.back() == segments_.rbegin()->first && active_fd_ >= 0) {
    if (absl::Status s = CloseActive(); !s.ok()) return s;
  }
  for (uint64_t first : doomed) {
    std::error_code ec;
    std::filesystem::remove(segments_[first].path, ec);
    if (ec) return absl::InternalError(absl::StrCat("remove: ", ec.message()));
    if (cursor_.segment_first_seq == first) cursor_.valid = false;
    segments_.erase(first);
    ++stats_.segments_deleted;
  }
  SyncDir(options_.dir);
  return absl::OkStatus();
}

absl::Status Journal::EnsureSeqAbove(uint64_t seq) {
  if (seq <= last_seq_) return absl::OkStatus();
  spdlog::warn("journal: server holds seq {} beyond the journal's {}; skipping ahead", seq,
               last_seq_);
  // New records must not land in a segment whose later seqs would then be out of order with
  // recovery's assumptions; closing the active segment keeps each file ascending anyway, but a
  // fresh segment makes the jump visible on disk.
  if (absl::Status s = CloseActive(); !s.ok()) return s;
  last_seq_ = seq;
  durable_seq_ = seq;
  high_water_ = seq;
  return WriteState();
}

uint64_t Journal::first_unacked_seq() const {
  for (const auto& [first, seg] : segments_) {
    if (seg.last_seq > acked_through_) return std::max(first, acked_through_ + 1);
  }
  return 0;
}

uint64_t Journal::backlog_records() const {
  uint64_t n = 0;
  for (const auto& [first, seg] : segments_) {
    if (seg.last_seq <= acked_through_) continue;
    if (first > acked_through_) {
      n += seg.records;
    } else {
      // Partly acknowledged segment: estimate by seq span (exact unless thinned).
      n += std::min<uint64_t>(seg.records, seg.last_seq - acked_through_);
    }
  }
  return n;
}

uint64_t Journal::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [first, seg] : segments_) n += seg.bytes;
  return n;
}

absl::Status Journal::ThinIfFull() {
  const uint64_t target = options_.max_bytes / 10 * 9;
  while (total_bytes() > target) {
    Segment* pick = nullptr;
    for (auto& [first, seg] : segments_) {
      if (active_fd_ >= 0 && first == segments_.rbegin()->first) break;  // never the active one
      if (seg.thin_passes >= 16) continue;  // nothing left to drop there
      if (pick == nullptr || seg.thin_passes < pick->thin_passes) pick = &seg;
    }
    if (pick == nullptr) break;
    absl::StatusOr<bool> r = ThinSegment(*pick);
    if (!r.ok()) return r.status();
    pick->thin_passes = *r ? pick->thin_passes + 1 : 16;
  }
  if (total_bytes() > options_.max_bytes) {
    if (!full_logged_) {
      spdlog::error("journal: full at {} bytes (bound {}); no fixes left to thin, keeping events",
                    total_bytes(), options_.max_bytes);
      full_logged_ = true;
    }
  } else {
    full_logged_ = false;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Journal::ThinSegment(Segment& segment) {
  FrameReader reader(segment.path, 0);
  if (!reader.ok()) return ErrnoStatus("open", segment.path);
  const auto tmp = std::filesystem::path(segment.path.string() + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("open", tmp);
  std::string payload;
  cit::v1::Record rec;
  uint64_t kept = 0, dropped = 0, bytes = 0, last = 0, fix_index = 0;
  std::string out;
  bool ok = true;
  while (reader.offset() < segment.bytes && reader.Next(payload) == FrameReader::Result::kFrame) {
    if (!rec.ParseFromString(payload)) break;
    // Keep every other fix (the first of each pair), every non-fix record, and the last record so
    // the segment's seq range stays as it was.
    const bool is_fix = rec.has_fix();
    const bool keep = !is_fix || (fix_index++ % 2 == 0) || rec.seq() == segment.last_seq;
    if (!keep) {
      ++dropped;
      continue;
    }
    out += Frame(payload);
    ++kept;
    last = rec.seq();
    if (out.size() > (1u << 20)) {
      ok = ok && WriteAll(fd, out.data(), out.size());
      bytes += out.size();
      out.clear();
    }
  }
  ok = ok && WriteAll(fd, out.data(), out.size());
  bytes += out.size();
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    std::filesystem::remove(tmp);
    return ErrnoStatus("write", tmp);
  }
  if (dropped == 0) {
    std::filesystem::remove(tmp);
    return false;
  }
  if (::rename(tmp.c_str(), segment.path.c_str()) != 0) return ErrnoStatus("rename", tmp);
  SyncDir(options_.dir);
  if (cursor_.segment_first_seq == segment.first_seq) cursor_.valid = false;
  segment.records = kept;
  segment.bytes = bytes;
  segment.last_seq = last;
  stats_.fixes_thinned += dropped;
  spdlog::warn("journal: full (bound {} bytes); thinned {} fixes from {} (events kept)",
               options_.max_bytes, dropped, segment.path.filename().string());
  return true;
}

}  // namespace cit::agent
